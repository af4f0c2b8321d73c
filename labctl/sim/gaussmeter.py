"""Simulated Lake Shore 425 gaussmeter with an HSE probe in the magnet gap."""

from __future__ import annotations

import math

from labctl.sim.instrument import ILLEGAL_PARAMETER, SimCommandError, SimInstrument
from labctl.sim.scpi import scpi

MU_0 = 1.25663706212e-6  # T m/A
UNITS = {1: 1e-4, 2: 1.0, 3: 1e-4, 4: MU_0}  # UNIT code -> tesla per unit of a reading
UNIT_CODES = {"G": 1, "T": 2, "Oe": 3, "A/m": 4}
# probe type -> RANGE code -> full scale in gauss
PROBE_RANGES = {
    40: {1: 35.0, 2: 350.0, 3: 3500.0, 4: 35000.0},  # high sensitivity (HSE)
    41: {1: 350.0, 2: 3500.0, 3: 35000.0, 4: 350000.0},  # high stability
    42: {1: 0.35, 2: 3.5, 3: 35.0, 4: 350.0},  # ultra-high sensitivity
}
RANGES_GAUSS = PROBE_RANGES[40]
COUNTS = 35000  # 4 3/4 digits: resolution = full scale / COUNTS
QUIET_TIME = 0.030  # s after each transaction (manual 6.2.5)
MAX_RATE = 30.0  # transactions per s
OVERLOAD = "OL"  # reply to a reading beyond the range (what the front panel shows)


def lakeshore_number(value: float) -> str:
    """A number in the 425's reading format ``±nnn.nnnE±nn``."""
    if value == 0 or not math.isfinite(value):
        return "+000.000E+00"
    exponent = math.floor(math.log10(abs(value))) - 2
    mantissa = round(value / 10.0**exponent, 3)
    if abs(mantissa) >= 1000:
        exponent += 1
        mantissa = round(value / 10.0**exponent, 3)
    return f"{mantissa:+08.3f}E{exponent:+03d}"


class SimLakeShore425(SimInstrument):
    """Reads the simulated magnet's field (with probe noise) in the selected unit.

    Errors set bits of the standard event status register (*ESR?), as on the real meter:
    undefined commands the command-error bit, bad parameters the execution-error bit.
    """

    idn = "LSCI,MODEL425,4250113,1.0"

    def __init__(self, name, device, clock, faults=None, seed=0, power_up=None, options=None):
        super().__init__(name, device, clock, faults, seed, power_up, options)
        self.probe = 40
        self.paced_failures = 0  # transactions garbled or lost for coming too fast
        self._quiet_until = -math.inf
        self._last_start = -math.inf
        self._garble = False
        self.power_on()

    def reset(self) -> None:
        self.unit = 1  # gauss at power-up
        self.range = 4
        self.autorange = False
        self.reading_mode = (1, 0, 1)  # DC, filter off, wide band
        self.zero_offset = 0.0  # T, set by ZPROBE

    def apply_power_up(self, state) -> None:
        self.probe = state.probe
        self.unit = UNIT_CODES[state.unit]
        ranges = PROBE_RANGES[self.probe]
        self.range = next((c for c, fs in ranges.items() if fs == state.range), 4)
        self.autorange = state.auto_range

    # ---- pacing: a transaction that comes too soon is lost or garbled ---------------------
    def write(self, message: str) -> None:
        with self._lock:
            now = self.clock.now()
            too_soon = (now < self._quiet_until - 1e-9
                        or now < self._last_start + 1.0 / MAX_RATE - 1e-9)
            self._last_start = now
            if too_soon:
                self.paced_failures += 1
                if "?" not in message or self.paced_failures % 2:
                    self.commands_received += 1
                    self._quiet_until = now + QUIET_TIME
                    return  # lost: a command never executes, a query never answers
                self._garble = True
            super().write(message)
            if self._garble and self._pending:
                # the reply's characters arrive corrupted
                self._pending[:] = bytes(b ^ 0x15 for b in self._pending[:-1]) + b"\n"
            self._garble = False
            if "?" not in message:
                self._quiet_until = now + QUIET_TIME

    def read(self) -> str:
        with self._lock:
            try:
                return super().read()
            finally:
                self._quiet_until = self.clock.now() + QUIET_TIME

    def _int_choice(self, args: str, choices) -> int:
        value = int(args.strip())
        if value not in choices:
            raise SimCommandError(*ILLEGAL_PARAMETER)
        return value

    # ---- IEEE 488.2 common commands -----------------------------------------------------
    @scpi("*ESR?")
    def _esr(self, args):
        """Event status bits summarise the errors since the last read; reading clears them."""
        esr = 0
        for code, _ in self.errors:
            if -199 <= code <= -100:
                esr |= 32  # command error
            elif -299 <= code <= -200:
                esr |= 16  # execution error
            elif -499 <= code <= -400:
                esr |= 4  # query error
            else:
                esr |= 8  # device-specific error
        self.errors.clear()
        return str(esr)

    # ---- settings -------------------------------------------------------------------------
    @scpi("UNIT")
    def _set_unit(self, args):
        self.unit = self._int_choice(args, UNITS)

    @scpi("UNIT?")
    def _get_unit(self, args):
        return str(self.unit)

    @scpi("RANGE")
    def _set_range(self, args):
        self.range = self._int_choice(args, RANGES_GAUSS)
        self.autorange = False

    @scpi("RANGE?")
    def _get_range(self, args):
        return str(self.range)

    @scpi("AUTO")
    def _auto(self, args):
        self.autorange = bool(self._int_choice(args, (0, 1)))  # a bare AUTO is an error

    @scpi("AUTO?")
    def _get_auto(self, args):
        return "1" if self.autorange else "0"

    @scpi("RDGMODE")
    def _set_mode(self, args):
        mode, filt, band = (int(a) for a in args.split(","))
        if mode not in (1, 2) or filt not in (0, 1) or band not in (1, 2):
            raise SimCommandError(*ILLEGAL_PARAMETER)
        self.reading_mode = (mode, filt, band)

    @scpi("RDGMODE?")
    def _get_mode(self, args):
        return ",".join(str(v) for v in self.reading_mode)

    @scpi("ZPROBE")
    def _zero_probe(self, args):
        # zeroing belongs in a zero-gauss chamber; here it nulls the present reading
        self.zero_offset = float(self.device.magnet.gaussmeter_reading())

    @scpi("TYPE?")
    def _type(self, args):
        return str(self.probe)

    # ---- reading ---------------------------------------------------------------------------
    @scpi("RDGFIELD?")
    def _field(self, args):
        context = self.device.stripe.read()[1]  # the I_SHNO now: part of the station's state
        tesla = float(self.device.magnet.gaussmeter_reading(context)) - self.zero_offset
        gauss = tesla / 1e-4
        ranges = PROBE_RANGES[self.probe]
        if self.autorange:
            self.range = next((r for r, fs in ranges.items() if abs(gauss) < fs), 4)
        if abs(gauss) > ranges[self.range]:
            return OVERLOAD
        resolution = ranges[self.range] / COUNTS  # in gauss
        gauss = round(gauss / resolution) * resolution
        return lakeshore_number(gauss * 1e-4 / UNITS[self.unit])
