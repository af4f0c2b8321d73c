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

from drivers.base import LabInstrument
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


class LakeShore425(LabInstrument, _PymeasureLakeShore425):
    """Lake Shore 425 gaussmeter: the ``Gaussmeter`` of the ``field`` role."""

    id = Instrument.measurement(
        "*IDN?",
        """Get the identification (manufacturer, model, serial, firmware).""",
        cast=str,
        maxsplit=0,
    )

    range = Instrument.control(
        "RANGE?",
        "RANGE %d",
        """Control the field range in gauss for the HSE probe: 35, 350, 3500 or 35000 G.
        Any other value raises ValueError.""",
        validator=strict_discrete_set,
        values={35: 1, 350: 2, 3500: 3, 35000: 4},
        map_values=True,
    )

    event_status = Instrument.measurement(
        "*ESR?",
        """Get (and clear) the standard event status register.""",
        cast=int,
    )

    def __init__(self, adapter, name: str = "Lake Shore 425", **kwargs):
        super().__init__(adapter, name=name, **kwargs)

    def clear(self) -> None:
        """Clear the status registers."""
        self.write("*CLS")

    def check_errors(self) -> list[tuple[int, str]]:
        """Error bits of the event status register as (bit weight, meaning); reading clears."""
        esr = self.event_status
        return [(bit, text) for bit, text in ESR_ERRORS.items() if esr & bit]

    def read_field(self) -> float:
        """Field in tesla, converted from whatever unit the instrument is set to."""
        unit = self.unit
        value = self.field
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InstrumentError(self.name, "RDGFIELD?", f"unreadable field reading {value!r}")
        return float(value) * TESLA_PER_UNIT[unit]
