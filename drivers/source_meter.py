"""What every Keithley source-meter driver of labctl shares.

Numeric controls that raise on out-of-range values (pymeasure's may clamp), the error queue read
as (code, message), and no way around the station's safe ramps: pymeasure's own ramp shortcuts
are refused and the output is only switched off at a zero level.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_range

from drivers.base import LabInstrument

# source levels go out with 10 significant digits: with %g's 6, a ramp step across a decade
# (0.000999878 -> 0.00100988 A) is rounded to more than the station's max_step
LEVEL_FORMAT = "%.10g"


def strict_control(get: str | None, set_: str, doc: str, values, **kwargs):
    """A numeric control whose out-of-range values raise (pymeasure's default may clamp)."""
    return Instrument.control(get, set_, doc, validator=strict_range, values=values, **kwargs)


def error_entry(values: list) -> tuple[int, str]:
    """(code, message) from a ``SYST:ERR?`` reply such as ``-113,"Undefined header"``."""
    code = int(float(values[0]))
    message = str(values[1]).strip().strip('"') if len(values) > 1 else ""
    return code, message


class KeithleySourceMeter(LabInstrument):
    """Mixin, first in the bases of a Keithley driver (before the pymeasure class)."""

    next_error = Instrument.measurement(
        "SYST:ERR?", """Get the next error-queue entry as (code, message).""",
        cast=str, maxsplit=1, get_process=lambda v: error_entry([v]),
        get_process_list=error_entry,
    )

    # the compliance-trip query of each source function (models set it)
    TRIP_QUERIES: dict[str, str] = {}

    def read_output_enabled(self) -> bool:
        return bool(self.source_enabled)

    def enable_output(self) -> None:
        self.source_enabled = True

    def disable_output(self) -> None:
        self.source_enabled = False

    def in_compliance(self) -> bool:
        """Whether the source is clamped at its limit (asks the source function first)."""
        # the trip flag belongs to the source function in use, which the front panel may
        # have changed: ask, do not assume
        query = self.TRIP_QUERIES["current" if self.source_mode == "current" else "voltage"]
        return bool(int(float(self.ask(query))))

    def ramp_to_current(self, *args, **kwargs):
        raise NotImplementedError("use the shno_source role: it ramps within the station limits")

    def ramp_to_voltage(self, *args, **kwargs):
        raise NotImplementedError("use the gate role: it ramps within the station limits")

    def present_level(self) -> float:
        """The programmed level of the present source function, read from the instrument."""
        if self.source_mode == "current":
            return self.read_source_current()
        return self.read_source_voltage()

    def shutdown(self) -> None:
        """Switch the output off, but only at a zero level (ramp down with the role first)."""
        if self.read_output_enabled():
            level = self.present_level()
            if not math.isclose(level, 0.0, abs_tol=1e-12):
                raise RuntimeError(f"{self.name}: output at {level:g}, not 0; "
                                   "ramp it down before shutting down")
            self.disable_output()
        self.isShutdown = True
