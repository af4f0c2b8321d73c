"""What a station panel shows: one reading of every output and read-back, in SI units.

Idle, a reading asks the instruments. While a run owns the station, asking them would be a
second conversation with instruments a procedure is driving, so the reading is derived from
the run's events instead: the levels every ramp step writes (``output`` events) and the
quantities of each point that a procedure maps to the station (``Procedure.readings``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from labctl.events import OUTPUT, POINT, STARTED, RunEvent

NAN = math.nan
ANALYZER_SETTINGS = ("f_start", "f_stop", "points", "rbw", "vbw", "averages", "detector",
                     "reference_level")
# output role -> the reading field its ramp level is
LEVELS = {"shno_source": "i_shno", "gate": "v_m", "field": "supply_current"}


@dataclass(frozen=True)
class StationReading:
    """Every output and read-back of the station (A, V, ohm, T, epoch s); NaN: not measured."""

    i_shno: float = NAN  # A, I_SHNO programmed (read back)
    v_shno: float = NAN  # V, stripe voltage
    r_shno: float = NAN  # ohm, stripe resistance V/I
    shno_output: bool | None = None
    v_m: float = NAN  # V, gate level programmed (read back)
    i_m: float = NAN  # A, gate current
    gate_output: bool | None = None
    gate_compliance: float = NAN  # A
    field: float = NAN  # T, gaussmeter
    supply_current: float = NAN  # A, magnet supply setpoint (read back)
    analyzer: dict[str, Any] = dataclasses.field(default_factory=dict)  # the sweep settings in use
    time: float = dataclasses.field(default_factory=time.time)
    derived: bool = False  # True: from a run's events, not a fresh read of the instruments


def read_instruments(station) -> StationReading:
    """A fresh reading; measurements of an output that is off are NaN (nothing to measure)."""
    src, gate = station.shno_source, station.gate
    shno_on = bool(src.driver.read_output_enabled())
    i_shno = float(src.read_current())
    v_shno = float(src.read_voltage()) if shno_on else NAN
    gate_on = bool(gate.driver.read_output_enabled())
    settings = getattr(station.spectrum, "_settings", None) or ()
    return StationReading(
        i_shno=i_shno, v_shno=v_shno, r_shno=v_shno / i_shno if i_shno else NAN,
        shno_output=shno_on,
        v_m=float(gate.driver.read_source_voltage()),
        i_m=float(gate.driver.measure_current()) if gate_on else NAN,
        gate_output=gate_on,
        gate_compliance=float(gate.driver.read_compliance_current()) if gate_on else NAN,
        field=float(station.field.read_field()),
        supply_current=float(station.field.read_current()),
        analyzer=dict(zip(ANALYZER_SETTINGS, settings)))


class ReadingTracker:
    """Subscriber that keeps the last reading up to date from a run's events."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reading = StationReading()
        self._map: dict[str, str] = {}

    @property
    def reading(self) -> StationReading:
        with self._lock:
            return self._reading

    def reset(self, reading: StationReading) -> None:
        """Start from a fresh read of the instruments."""
        with self._lock:
            self._reading = reading

    def follow(self, readings: dict[str, str]) -> None:
        """The quantity -> reading-field map of the procedure about to run."""
        with self._lock:
            self._map = dict(readings)

    def __call__(self, event: RunEvent) -> None:
        update: dict[str, Any] = {}
        if event.kind == OUTPUT and event.data.get("role") in LEVELS:
            update[LEVELS[event.data["role"]]] = event.data["level"]
            if event.data["role"] == "shno_source":
                update["shno_output"] = True
            elif event.data["role"] == "gate":
                update["gate_output"] = True
        elif event.kind == POINT:
            values = event.data.get("values", {})
            for quantity, name in self._map.items():
                if quantity in values:
                    update[name] = _scalar(values[quantity])
        elif event.kind == STARTED and event.source == "run":
            update["analyzer"] = {k: event.data.get("parameters", {}).get(k)
                                  for k in ANALYZER_SETTINGS
                                  if k in event.data.get("parameters", {})}
        if update:
            with self._lock:
                self._reading = replace(self._reading, **update, time=event.time, derived=True)


def _scalar(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN
