"""Kepco BOP bipolar power supply (BIT 4886 interface) driving the electromagnet.

Extends pymeasure's BOP 36-12 driver: the rating is a constructor argument, and the
setpoint validators raise instead of truncating (a magnet supply must never be silently
clamped to another current than the one asked for).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.validators import strict_range

from drivers.base import LabInstrument


class KepcoBOP(LabInstrument, KepcoBOP3612):
    """Kepco BOP in current mode: the ``BipolarSupply`` of the ``field`` role.

    ``max_current`` and ``max_voltage`` are the model's rating (default: BOP 20-20).
    """

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
        """Current mode with a voltage limit (V); the current setpoint is left as it is."""
        if not 0 < voltage_limit <= self.max_voltage:
            raise ValueError(
                f"voltage limit {voltage_limit!r} V not in (0, {self.max_voltage:g}] V"
            )
        self.operating_mode = "CURR"
        self.voltage_setpoint = voltage_limit

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
        self.output_enabled = True

    def disable_output(self) -> None:
        self.output_enabled = False
