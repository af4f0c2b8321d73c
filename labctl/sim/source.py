"""What the simulated Keithley sources share: numeric and on/off settings written as the
manuals write them, an output relay on a device terminal, and the record of what the device
saw (peak |V| and |I|, outputs switched off under a live level) that the safety tests use.
"""

from __future__ import annotations

import hashlib
import math

from labctl.sim.instrument import DATA_OUT_OF_RANGE, SimCommandError, SimInstrument
from labctl.sim.scpi import parse_bool, parse_number, scpi

POWER_LINE = 50.0  # Hz: one NPLC lasts 20 ms
TRIP_TOLERANCE = 1e-6  # relative: a clamped source sits at its limit
VOLTAGE_RANGES_2450 = (0.02, 0.2, 2.0, 20.0, 200.0)  # V
CURRENT_RANGES_2450 = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0)  # A
# rms noise of a reading, as a fraction of the measure range, at 1 NPLC (2450 datasheet, noise
# < 10 Hz: 10 µV on the 2 V range, 5 nA on the 1 mA range, 40 nA on the 10 mA range); it
# falls as 1/sqrt(NPLC), the integration averaging white noise
READ_NOISE = 5e-6


def range_in_use(fixed: float, auto: bool, level: float, ranges: tuple[float, ...]) -> float:
    """The source range in use: the fixed one, or the smallest that holds the level."""
    if not auto:
        return fixed
    return next((r for r in ranges if abs(level) <= r * 1.05), ranges[-1])


def numeric_setting(pattern: str, attr: str, low: float, high: float, applies_to: str = "",
             magnitude: bool = False, allowed=None):
    """A (set, query) handler pair for a numeric setting stored in ``attr``.

    ``applies_to`` names the source function ("CURR"/"VOLT") whose output the setting
    changes at once; ``magnitude`` stores |value| (ranges, 2400 compliance); ``allowed(self,
    value)`` is a further check that depends on the instrument's state.
    """

    def set_value(self, args):
        value = parse_number(args, low, high)
        if not low <= value <= high or (allowed is not None and not allowed(self, value)):
            raise SimCommandError(*DATA_OUT_OF_RANGE)
        setattr(self, attr, abs(value) if magnitude else value)
        if applies_to and self.output and self.function == applies_to:
            self._apply()

    def query_value(self, args):
        return self.number(getattr(self, attr))

    return scpi(pattern)(set_value), scpi(pattern + "?")(query_value)


def switch_setting(pattern: str, attr: str):
    """A (set, query) handler pair for an ON/OFF setting stored in ``attr``."""

    def set_value(self, args):
        setattr(self, attr, parse_bool(args))

    def query_value(self, args):
        return "1" if getattr(self, attr) else "0"

    return scpi(pattern)(set_value), scpi(pattern + "?")(query_value)


class SimSource(SimInstrument):
    """What all three share: a source with a limit, an output relay, IEEE 488.2 basics."""

    max_current = 1.05  # A
    max_voltage = 210.0  # V
    default_function = "VOLT"

    def __init__(self, name: str, device, clock, faults=None, seed: int = 0, power_up=None,
                 options=None):
        super().__init__(name, device, clock, faults, seed, power_up, options)
        self.terminal = device.terminal(name)
        self._noise_seed = seed
        self._reads = 0  # readings since the output last changed (the noise's draw index)
        # times each level was applied: the same level visited again (a retention series,
        # a loop) reads a new draw, and a resumed sweep's levels are visited as they were
        self._visits: dict[tuple, int] = {}
        self._advance = getattr(clock, "advance", None)  # only a virtual clock can jump
        self.output = False
        self.reset_peaks()
        self.power_on()

    # ---- what the device saw (the tests' physical oracle) -------------------------------
    def reset_peaks(self) -> None:
        """Forget the largest |V| and |I| seen at the terminals so far."""
        self.peak_voltage = self.peak_current = 0.0
        self.live_switch_offs: list[tuple[float, float, float]] = []  # (t, V, I)

    def _observe(self, v: float, i: float) -> None:
        self.peak_voltage = max(self.peak_voltage, abs(v))
        self.peak_current = max(self.peak_current, abs(i))

    def apply_power_up(self, state) -> None:
        """Found sourcing: the function, its limit and level, maybe a fixed range, output."""
        self.function = "CURR" if state.function == "current" else "VOLT"
        if state.compliance is not None:
            if self.function == "CURR":
                self.voltage_limit = state.compliance
            else:
                self.current_limit = state.compliance
        if state.source_range is not None:
            if self.function == "CURR":
                self.current_range, self.current_range_auto = state.source_range, False
            else:
                self.voltage_range, self.voltage_range_auto = state.source_range, False
        if self.function == "CURR":
            self.current_level = state.level
        else:
            self.voltage_level = state.level
        self._set_output(state.output)

    def reset(self) -> None:
        if getattr(self, "output", False):
            self._set_output(False)  # *RST switches a live output off, as the real one does
        self.function = self.default_function
        self.current_level = 0.0
        self.voltage_level = 0.0
        self.voltage_limit = 21.0  # V, limit of the current source
        self.current_limit = 105e-6  # A, limit of the voltage source
        self.current_range, self.voltage_range = 1e-4, 2.0
        self.current_range_auto = self.voltage_range_auto = True
        self.sense_current_range, self.sense_voltage_range = 1e-4, 2.0
        self.sense_current_auto = self.sense_voltage_auto = True
        self.sense = "CURR"
        self.nplc = 1.0
        self.output = False
        self._t0 = self.clock.now()
        self.terminal.off()

    # ---- physics ---------------------------------------------------------------------
    def _apply(self) -> None:
        self._reads = 0
        if len(self._visits) > 100_000:  # bounded over an overnight run
            self._visits.clear()
        key = (self.function, self.current_level, self.voltage_level)
        self._visits[key] = self._visits.get(key, 0) + 1
        if self.function == "CURR":
            v, i = self.terminal.source_current(self.current_level, self.voltage_limit)
        else:
            v, i = self.terminal.source_voltage(self.voltage_level, self.current_limit)
        self._observe(v, i)

    def _state(self) -> tuple[float, float]:
        """(V, I) at the terminals now; zero with the output off."""
        return self.terminal.read() if self.output else (0.0, 0.0)

    def _reading(self) -> tuple[float, float]:
        """(V, I) measured over the integration time."""
        if self._advance is not None:
            self._advance(self.nplc / POWER_LINE)
        v, i = self._state()
        self._observe(v, i)
        if self.output and READ_NOISE > 0:
            v, i = self._with_read_noise(v, i)
        return v, i

    def _with_read_noise(self, v: float, i: float) -> tuple[float, float]:
        """A reading's noise on both measured values, scaled by the measure range in use.

        Drawn from a hash of the instrument, its levels, how often that level was applied and
        the reading's index since, so that a resumed sweep reads what an uninterrupted one
        read while a level visited again reads anew.
        """
        self._reads += 1
        level = (self.function, self.current_level, self.voltage_level)
        key = repr((self._noise_seed, self.name, *level, self._visits.get(level, 0),
                    self._reads)).encode()
        words = hashlib.blake2b(key, digest_size=16).digest()
        u1 = (int.from_bytes(words[:8], "little") + 1) / 2.0**64  # (0, 1]: log is finite
        u2 = int.from_bytes(words[8:], "little") / 2.0**64
        radius = math.sqrt(-2.0 * math.log(u1)) * READ_NOISE / math.sqrt(self.nplc)
        v_range = range_in_use(self.sense_voltage_range, self.sense_voltage_auto, v,
                               VOLTAGE_RANGES_2450)
        i_range = range_in_use(self.sense_current_range, self.sense_current_auto, i,
                               CURRENT_RANGES_2450)
        return (v + radius * math.cos(2 * math.pi * u2) * v_range,
                i + radius * math.sin(2 * math.pi * u2) * i_range)

    def _tripped(self, function: str) -> bool:
        if not self.output or self.function != function:
            return False
        v, i = self._state()
        if function == "CURR":
            return abs(v) >= self.voltage_limit * (1 - TRIP_TOLERANCE)
        return abs(i) >= self.current_limit * (1 - TRIP_TOLERANCE)

    def on_breakdown_fault(self) -> None:
        """Injected breakdown: the memristor behind a gate source fails short."""
        if self.name == "gate":
            self.device.break_memristor()

    def _set_output(self, on: bool) -> None:
        if self.output and not on:
            v, i = self._state()
            level = self.current_level if self.function == "CURR" else self.voltage_level
            if abs(i) > 1e-9 or abs(v) > 1e-6 or level != 0:
                self.live_switch_offs.append((self.clock.now(), v, i))  # a real transient
        self.output = on
        if on:
            self._apply()
        else:
            self.terminal.off()

    @staticmethod
    def number(x: float) -> str:
        return f"{x:.6E}"

    # ---- common commands ---------------------------------------------------------------
    @scpi(":SYSTem:ERRor[:NEXT]?")
    def _error(self, args):
        return self.next_error()

    @scpi(":STATus:PRESet")
    def _status_preset(self, args):
        """Nothing to preset: the simulated status model has no enable masks."""

    @scpi(":OUTPut[:STATe]")
    def _output(self, args):
        self._set_output(parse_bool(args))

    @scpi(":OUTPut[:STATe]?")
    def _output_query(self, args):
        return "1" if self.output else "0"
