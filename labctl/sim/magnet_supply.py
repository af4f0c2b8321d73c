"""Simulated Kepco BOP 20-20 with a BIT 4886 card, driving the simulated electromagnet."""

from __future__ import annotations

import numpy as np

from labctl.power_up import SupplyPowerUp
from labctl.sim.instrument import DATA_OUT_OF_RANGE, SimCommandError, SimInstrument
from labctl.sim.scpi import parse_bool, parse_number, scpi

MODES = ("VOLT", "CURR")  # FUNC:MODE? answers the index
LIVE_COIL_CURRENT = 0.02  # A: switching off above this is breaking a live inductive load


def _number(value: float) -> str:
    """Numbers as the BIT 4886 returns them: scientific notation."""
    return f"{value:.8E}"


class SimKepcoBOP(SimInstrument):
    """Bipolar supply: in current mode the coil follows the setpoint (with the coil's lag)."""

    idn = "KEPCO,BIT 4886 20-20  01-15-2019,H260113,4.04-1.82"
    max_current = 20.0  # A
    max_voltage = 20.0  # V
    default_resistance = 1.0  # ohm, if the magnet model does not say

    def __init__(self, name, device, clock, faults=None, seed=0, power_up=None, options=None):
        super().__init__(name, device, clock, faults, seed, power_up, options)
        self._rng = np.random.default_rng(seed)
        self.current_noise = 1e-4  # A rms of the current read-back
        # the unit's rating, as the station file's options give it
        self.max_current = float(self.options.get("max_current", self.max_current))
        self.max_voltage = float(self.options.get("max_voltage", self.max_voltage))
        self.peak_drive = 0.0  # A: largest |current| the output stage drove (tests' oracle)
        self.live_switch_offs: list[tuple[float, float, float]] = []
        self.power_on()

    def power_on(self) -> None:
        # the BOP's factory power-up state: output ON, voltage mode, 0 V, current limit at
        # the rating (BOP manual, OUTPut[:STATe])
        self.reset()
        self.apply_power_up(self.power_up_state or SupplyPowerUp())

    def apply_power_up(self, state) -> None:
        self.mode = "CURR" if state.mode == "current" else "VOLT"
        other = self.max_voltage if self.mode == "CURR" else self.max_current
        limit = other if state.limit is None else state.limit
        if self.mode == "CURR":
            self.current, self.voltage = state.level, limit
        else:
            self.voltage, self.current = state.level, limit
        self.output = state.output
        self._apply()

    def reset(self) -> None:
        self.mode = "VOLT"
        self.current = 0.0
        self.voltage = 0.0
        self.output = False
        self._apply()

    @property
    def magnet(self):
        return self.device.magnet

    @property
    def resistance(self) -> float:
        """Coil resistance in ohm, from the device model's parameters if it has them."""
        value = getattr(self.magnet, "resistance", None)
        if value is None:
            value = getattr(getattr(self.device, "params", None), "coil_resistance", None)
        return float(value if value is not None else self.default_resistance)

    def _apply(self) -> None:
        """Program the magnet current the output stage drives (limited by the other setting)."""
        if not self.output:
            drive = 0.0
        elif self.mode == "CURR":
            # the voltage limit caps the current the coil resistance lets through
            cap = abs(self.voltage) / self.resistance
            drive = float(np.clip(self.current, -cap, cap))
        else:
            cap = abs(self.current)
            drive = float(np.clip(self.voltage / self.resistance, -cap, cap))
        self.peak_drive = max(getattr(self, "peak_drive", 0.0), abs(drive))
        self.magnet.set_supply_current(drive)

    def _level(self, args: str, rating: float) -> float:
        value = parse_number(args, -rating, rating)
        if abs(value) > rating:
            raise SimCommandError(*DATA_OUT_OF_RANGE)
        return value

    # ---- IEEE 488.2 common commands -----------------------------------------------------
    @scpi("*TST?")
    def _tst(self, args):
        return "0"

    @scpi("SYSTem:ERRor[:NEXT]?")
    def _error(self, args):
        return self.next_error()

    @scpi("SYSTem:BEEP")
    def _beep(self, args):
        return None

    # ---- source ---------------------------------------------------------------------------
    @scpi("FUNCtion:MODE")
    def _set_mode(self, args):
        mode = args.strip().upper()
        mode = {"VOLTAGE": "VOLT", "CURRENT": "CURR"}.get(mode, mode)
        if mode not in MODES:
            raise ValueError(args)
        self.mode = mode
        self._apply()

    @scpi("FUNCtion:MODE?")
    def _get_mode(self, args):
        return str(MODES.index(self.mode))

    @scpi("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPlitude]")
    def _set_current(self, args):
        self.current = self._level(args, self.max_current)
        self._apply()

    @scpi("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPlitude]?")
    def _get_current(self, args):
        return _number(self.current)

    @scpi("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPlitude]")
    def _set_voltage(self, args):
        self.voltage = self._level(args, self.max_voltage)
        self._apply()

    @scpi("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPlitude]?")
    def _get_voltage(self, args):
        return _number(self.voltage)

    @scpi("OUTPut[:STATe]")
    def _set_output(self, args):
        on = parse_bool(args)
        if self.output and not on and abs(self._coil_current()) > LIVE_COIL_CURRENT:
            # breaking the inductive load under current: the spike a real magnet would see
            self.live_switch_offs.append((self.clock.now(), 0.0, self._coil_current()))
        self.output = on
        self._apply()

    @scpi("OUTPut[:STATe]?")
    def _get_output(self, args):
        return "1" if self.output else "0"

    # ---- measurements -----------------------------------------------------------------------
    def _coil_current(self) -> float:
        return float(self.magnet.coil_current())

    @scpi("MEASure[:SCALar]:CURRent[:DC]?")
    def _measure_current(self, args):
        noise = self.current_noise * self._rng.standard_normal() if self.output else 0.0
        return _number(self._coil_current() + noise)

    @scpi("MEASure[:SCALar]:VOLTage[:DC]?")
    def _measure_voltage(self, args):
        if not self.output:
            return _number(0.0)
        if hasattr(self.magnet, "supply_voltage"):  # R I + L dI/dt from the model
            return _number(float(self.magnet.supply_voltage()))
        return _number(self._coil_current() * self.resistance)
