"""Simulated Lake Shore 425 gaussmeter with an HSE probe in the magnet gap."""

from __future__ import annotations

import math

from labctl.sim.instrument import ILLEGAL_PARAMETER, SimCommandError, SimInstrument
from labctl.sim.scpi import scpi

MU_0 = 1.25663706212e-6  # T m/A
UNITS = {1: 1e-4, 2: 1.0, 3: 1e-4, 4: MU_0}  # UNIT code -> tesla per unit of a reading
RANGES_GAUSS = {1: 35.0, 2: 350.0, 3: 3500.0, 4: 35000.0}  # RANGE code -> full scale
COUNTS = 35000  # 4 3/4 digits: resolution = full scale / COUNTS


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

    def __init__(self, name, device, clock, faults=None, seed=0):
        super().__init__(name, device, clock, faults, seed)
        self.reset()

    def reset(self) -> None:
        self.unit = 1  # gauss at power-up
        self.range = 4
        self.autorange = False
        self.reading_mode = (1, 0, 1)  # DC, filter off, wide band
        self.zero_offset = 0.0  # T, set by ZPROBE

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
        self.autorange = True

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
        return "40"  # high-sensitivity probe

    # ---- reading ---------------------------------------------------------------------------
    @scpi("RDGFIELD?")
    def _field(self, args):
        context = self.device.stripe.read()[1]  # the I_SHNO now: part of the station's state
        tesla = float(self.device.magnet.gaussmeter_reading(context)) - self.zero_offset
        gauss = tesla / 1e-4
        if self.autorange:
            self.range = next((r for r, fs in RANGES_GAUSS.items() if abs(gauss) < fs), 4)
        resolution = RANGES_GAUSS[self.range] / COUNTS  # in gauss
        gauss = round(gauss / resolution) * resolution
        return lakeshore_number(gauss * 1e-4 / UNITS[self.unit])
