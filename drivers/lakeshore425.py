"""Lake Shore 425 Hall gaussmeter: the field reading of the ``field`` role, in tesla.

Extends pymeasure's driver with the identification query, a range control that raises
instead of picking a neighbouring range, and error reporting through the standard event
status register (the 425 has no SCPI error queue).
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.lakeshore import LakeShore425 as _PymeasureLakeShore425
from pymeasure.instruments.validators import strict_discrete_set

from drivers.base import LabInstrument, blocked_property
from labctl.errors import InstrumentError

MU_0 = 1.25663706212e-6  # vacuum permeability in T m/A

# tesla per unit of a reading: B = mu_0 H in the air gap for the H units
TESLA_PER_UNIT = {"G": 1e-4, "T": 1.0, "Oe": 1e-4, "A/m": MU_0}

# bits of the standard event status register (*ESR?) that mean an error
ESR_ERRORS = {
    4: "Query error",
    8: "Device-specific error",
    16: "Execution error",
    32: "Command error",
}

UNIT_CODES = {"1": "G", "2": "T", "3": "Oe", "4": "A/m"}  # UNIT? reply -> unit

# manual 6.2.5: no other communication for 30 ms after a transaction ends, and at most
# 30 transactions per second, "else intermittent failures in communication"
QUIET_TIME = 0.030  # s
MAX_RATE = 30.0  # transactions per s

# TYPE? code -> (probe, full scale of RANGE 1..4 in gauss), from the manual's probe table
PROBES = {
    40: ("high sensitivity", (35.0, 350.0, 3500.0, 35000.0)),
    41: ("high stability", (350.0, 3500.0, 35000.0, 350000.0)),
    42: ("ultra-high sensitivity", (0.35, 3.5, 35.0, 350.0)),
}
PROBE_NAMES = {"high_sensitivity": 40, "high_stability": 41, "ultra_high_sensitivity": 42}
RANGE_HEADROOM = 1.1  # the range chosen holds the station's max field with 10 % to spare


class LakeShore425(LabInstrument, _PymeasureLakeShore425):
    """Lake Shore 425 gaussmeter: the ``Gaussmeter`` of the ``field`` role.

    Every transaction is paced as the manual asks. ``probe`` (a key of PROBE_NAMES) and
    ``range_gauss`` (a full scale) may be given per unit in the station file.
    """

    STATION_OPTIONS = {"probe": str, "range_gauss": float}

    id = Instrument.measurement(
        "*IDN?",
        """Get the identification (manufacturer, model, serial, firmware).""",
        cast=str,
        maxsplit=0,
    )

    range_code = Instrument.control(
        "RANGE?",
        "RANGE %d",
        """Control the field range as its code 1..4 (full scale depends on the probe).""",
        validator=strict_discrete_set,
        values=(1, 2, 3, 4),
        cast=int,
    )
    range = blocked_property("configure_field_reading() (the range depends on the probe)")

    probe_type = Instrument.measurement(
        "TYPE?", """Get the probe type code (40, 41, 42; 50-52 with programmable cable).""",
        cast=int,
    )

    event_status = Instrument.measurement(
        "*ESR?",
        """Get (and clear) the standard event status register.""",
        cast=int,
    )

    _quiet_until = -math.inf  # clock time before which the bus must stay quiet
    _last_start = -math.inf
    _full_scale: float | None = None  # gauss, of the range set there

    def __init__(self, adapter, name: str = "Lake Shore 425", probe: str | None = None,
                 range_gauss: float | None = None, **kwargs):
        super().__init__(adapter, name=name, **kwargs)
        if probe is not None and probe not in PROBE_NAMES:
            raise ValueError(f"probe {probe!r}: one of {', '.join(PROBE_NAMES)}")
        self.expected_probe = probe
        self.range_gauss = range_gauss

    # ---- pacing: every transaction waits for the quiet time of the one before ---------
    def _pace(self) -> None:
        now = self.clock.now()
        wait = max(self._quiet_until, self._last_start + 1.0 / MAX_RATE) - now
        if wait > 0:
            self.clock.sleep(wait)
        self._last_start = self.clock.now()

    def _quiet(self) -> None:
        self._quiet_until = self.clock.now() + QUIET_TIME

    def write(self, command: str, **kwargs) -> None:
        with self.session():
            self._pace()
            try:
                super().write(command, **kwargs)
            finally:
                if "?" not in command:
                    self._quiet()

    def read(self, **kwargs) -> str:
        with self.session():
            try:
                return super().read(**kwargs)
            finally:
                self._quiet()

    # ---- settings ------------------------------------------------------------------------
    def clear(self) -> None:
        """Clear the status registers."""
        self.write("*CLS")

    def auto_range(self, enabled: bool = True) -> None:
        """Automatic ranging on or off (``AUTO <0|1>``; a bare ``AUTO`` is an error)."""
        self.write(f"AUTO {int(bool(enabled))}")

    def plan_range(self, max_field: float) -> tuple[str, float, int]:
        """(probe, full scale in G, RANGE code) for ``max_field`` T: asks the probe type."""
        code = self.probe_type
        probe = PROBES.get(code - 10 if code >= 50 else code)  # 5x: programmable cable
        if probe is None:
            raise InstrumentError(self.name, "TYPE?", f"unknown probe type {code}")
        name, ranges = probe
        if self.expected_probe and PROBE_NAMES[self.expected_probe] != code % 10 + 40:
            raise InstrumentError(self.name, "TYPE?", f"a {name} probe is plugged in; the "
                                  f"station file names {self.expected_probe}")
        gauss = abs(max_field) / 1e-4
        full_scale = self.range_gauss or next(
            (r for r in ranges if r >= gauss * RANGE_HEADROOM), None)
        if full_scale not in ranges or full_scale < gauss:
            raise InstrumentError(self.name, "RANGE", f"the {name} probe has no range for "
                                  f"{max_field:g} T (ranges {ranges} G)")
        return name, full_scale, ranges.index(full_scale) + 1

    def configure_field_reading(self, max_field: float) -> None:
        """Tesla, a fixed range holding ``max_field`` T, the probe checked; all read back."""
        with self.session():
            _, full_scale, code = self.plan_range(max_field)
            self.write(f"UNIT 2;RANGE {code}")
            unit, code_read = self.unit, self.range_code
            if unit != "T" or code_read != code:
                raise InstrumentError(self.name, "UNIT?;RANGE?", f"reads unit {unit}, range "
                                      f"{code_read} after setting T and {full_scale:g} G")
            self._full_scale = full_scale

    def check_errors(self) -> list[tuple[int, str]]:
        """Error bits of the event status register as (bit weight, meaning); reading clears."""
        reply = self.ask("*ESR?").strip()  # asked directly: it is read every point
        try:
            esr = int(float(reply))
        except ValueError:
            raise InstrumentError(self.name, "*ESR?", f"unexpected reply {reply!r}") from None
        return [(bit, text) for bit, text in ESR_ERRORS.items() if esr & bit]

    def read_field(self) -> float:
        """Field in tesla; InstrumentError on an overload or an unreadable reply."""
        with self.session():
            # asked with every reading: a unit changed at the front panel would otherwise
            # turn gauss into tesla for the closed loop
            unit = UNIT_CODES.get(self.ask("UNIT?").strip())
            reply = self.ask("RDGFIELD?").strip()
        if unit is None:
            raise InstrumentError(self.name, "UNIT?", "unexpected unit reply")
        try:
            value = float(reply)
        except ValueError:
            raise InstrumentError(self.name, "RDGFIELD?", f"unreadable field reading {reply!r} "
                                  "(overload, or a reply garbled by a too-fast exchange)") from None
        if not math.isfinite(value):
            raise InstrumentError(self.name, "RDGFIELD?", f"unreadable field reading {reply!r}")
        tesla = value * TESLA_PER_UNIT[unit]
        if self._full_scale is not None and abs(tesla) / 1e-4 > self._full_scale:
            raise InstrumentError(self.name, "RDGFIELD?", f"reading {tesla:g} T beyond the "
                                  f"{self._full_scale:g} G range (overload)")
        return tesla
