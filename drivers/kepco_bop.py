"""Kepco BOP bipolar power supply (BIT 4886 interface) driving the electromagnet.

Extends pymeasure's BOP 36-12 driver: the rating is a constructor argument, and the
setpoint validators raise instead of truncating (a magnet supply must never be silently
clamped to another current than the one asked for).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.validators import strict_range

from drivers.base import LabInstrument, UnsafeCommand, blocked_property, read_only
from drivers.contracts import CURRENT, VOLTAGE
from labctl.errors import InstrumentError

ZERO_COIL_CURRENT = 0.01  # A: below this the output may be switched off (inductive load)
MODES = {"0": VOLTAGE, "1": CURRENT}  # FUNC:MODE? answers 0 (voltage) or 1 (current)


class KepcoBOP(LabInstrument, KepcoBOP3612):
    """Kepco BOP in current mode: the ``BipolarSupply`` of the ``field`` role.

    ``max_current`` and ``max_voltage`` are the model's rating (default: BOP 20-20), given
    per unit in the station file (``[field.supply.options]``).
    """

    STATION_OPTIONS = {"max_current": float, "max_voltage": float}
    ERROR_QUERY = "SYSTem:ERRor?"

    # DIAG:TST? switches the output on and swings it to its maximum (BOP manual)
    bop_test = blocked_property("confidence_test (the interface self-test, *TST?)")
    # a mode change with the output on jumps the coil to the other setting
    operating_mode = read_only(KepcoBOP3612.operating_mode,
                               "the field role (it changes mode with the output off at 0 A)")
    output_enabled = read_only(KepcoBOP3612.output_enabled,
                               "enable_output() / the field role's ramp_down()")

    current_setpoint = Instrument.control(
        "CURRent?",
        "CURRent %.6f",
        """Control the programmed current in A (output current in current mode,
        current limit in voltage mode). Out-of-rating values raise ValueError.""",
        validator=strict_range,
        values=[-20.0, 20.0],
        dynamic=True,
    )

    voltage_setpoint = Instrument.control(
        "VOLTage?",
        "VOLTage %.6f",
        """Control the programmed voltage in V (voltage limit in current mode).
        Out-of-rating values raise ValueError.""",
        validator=strict_range,
        values=[-20.0, 20.0],
        dynamic=True,
    )

    def __init__(
        self,
        adapter,
        name: str = "Kepco BOP 20-20",
        max_current: float = 20.0,
        max_voltage: float = 20.0,
        **kwargs,
    ):
        super().__init__(adapter, name=name, **kwargs)
        self.max_current = float(max_current)
        self.max_voltage = float(max_voltage)
        self.current_setpoint_values = [-self.max_current, self.max_current]
        self.voltage_setpoint_values = [-self.max_voltage, self.max_voltage]

    @property
    def next_error(self) -> tuple[int, str]:
        """The oldest entry of the error queue as (code, message); (0, "No error") if empty."""
        code, _, message = self.ask("SYSTem:ERRor?").strip().partition(",")
        return int(code), message.strip().strip('"')

    # ---- BipolarSupply contract -------------------------------------------------------
    def configure_current_mode(self, voltage_limit: float) -> None:
        """Current mode with a voltage limit (V), verified; refused with the output on."""
        if not 0 < voltage_limit <= self.max_voltage:
            raise ValueError(
                f"voltage limit {voltage_limit!r} V not in (0, {self.max_voltage:g}] V"
            )
        with self.session():
            if self.read_output_enabled():
                raise UnsafeCommand(f"{self.name}: mode change refused with the output on; "
                                    "the field role brings it to 0 A and off first")
            self.write("FUNCtion:MODE CURR")
            self.set_voltage_limit(voltage_limit)
            if self.read_mode() != CURRENT:
                raise UnsafeCommand(f"{self.name}: FUNC:MODE? does not read current mode "
                                    "after FUNC:MODE CURR")

    def read_mode(self) -> str:
        """CURRENT or VOLTAGE: what the output follows (FUNC:MODE?, asked)."""
        reply = self.ask("FUNCtion:MODE?").strip()
        mode = MODES.get(reply.lstrip("+")[:1])
        if mode is None:
            raise InstrumentError(self.name, "FUNCtion:MODE?", f"unexpected reply {reply!r}")
        return mode

    def read_voltage_setpoint(self) -> float:
        """Programmed voltage in V (the output in voltage mode, the limit in current mode)."""
        return float(self.voltage_setpoint)

    def set_voltage(self, volts: float) -> None:
        self.voltage_setpoint = volts

    def set_voltage_limit(self, volts: float) -> None:
        """The voltage limit of current mode, verified by read-back."""
        self.voltage_setpoint = volts
        if abs(self.read_voltage_setpoint() - volts) > 1e-6 * max(1.0, abs(volts)):
            raise UnsafeCommand(f"{self.name}: voltage limit reads "
                                f"{self.read_voltage_setpoint():g} V after setting {volts:g} V")

    def read_current_setpoint(self) -> float:
        """Programmed current in A, queried from the supply."""
        return float(self.current_setpoint)

    def set_current(self, amps: float) -> None:
        self.current_setpoint = amps

    def measure_current(self) -> float:
        """Output current measured by the supply in A."""
        return float(self.current)

    def measure_voltage(self) -> float:
        return float(self.voltage)

    def read_output_enabled(self) -> bool:
        return bool(self.output_enabled)

    def enable_output(self) -> None:
        self.write("OUTPut 1")

    def disable_output(self) -> None:
        """Output off, only once the coil current is (measured) near zero."""
        with self.session():
            coil = self.measure_current()
            if abs(coil) > ZERO_COIL_CURRENT:
                raise UnsafeCommand(f"{self.name}: coil carries {coil:g} A; breaking an "
                                    "inductive load under current would spike: ramp it down")
            self.write("OUTPut 0")

    def reset(self) -> None:
        """*RST: refused while the output is on."""
        with self.session():
            if self.read_output_enabled():
                raise UnsafeCommand(f"{self.name}: *RST refused with the output on")
            self.write("*RST")
