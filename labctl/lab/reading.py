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

from drivers.contracts import CURRENT, VOLTAGE
from drivers.roles import Spectrum
from labctl.events import OUTPUT, POINT, STARTED, RunEvent

NAN = math.nan
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
    supply_current: float = NAN  # A, magnet supply current (measured; ramp steps while a run)
    shno_function: str = ""  # what the I_SHNO output follows, as asked ("current" expected)
    gate_function: str = ""  # what the V_M output follows, as asked ("voltage" expected)
    shno_tripped: bool | None = None  # I_SHNO clamped at its voltage compliance
    gate_tripped: bool | None = None  # V_M clamped at its current compliance
    analyzer: dict[str, Any] = dataclasses.field(default_factory=dict)  # the sweep settings in use
    time: float = dataclasses.field(default_factory=time.time)
    derived: bool = False  # True: from a run's events, not a fresh read of the instruments


def read_instruments(station) -> StationReading:
    """A fresh reading; measurements of an output that is off are NaN (nothing to measure).

    Each source is asked its function first: a level is only reported as I_SHNO (or V_M)
    when the output follows that function, never assumed from the role.
    """
    src, gate = station.shno_source, station.gate
    shno, gated = src.read_state(), gate.read_state()
    shno_current = shno.function == CURRENT
    i_shno = float(shno.level) if shno_current else NAN
    v_shno = float(src.read_voltage()) if shno.output and shno_current else NAN
    gate_voltage = gated.function == VOLTAGE
    return StationReading(
        i_shno=i_shno, v_shno=v_shno, r_shno=v_shno / i_shno if i_shno else NAN,
        shno_output=shno.output, shno_function=shno.function,
        shno_tripped=bool(src.in_compliance()) if shno.output else None,
        v_m=float(gated.level) if gate_voltage else NAN,
        i_m=float(gate.driver.measure_current()) if gated.output else NAN,
        gate_output=gated.output, gate_function=gated.function,
        gate_compliance=float(gated.compliance) if gated.output and gate_voltage else NAN,
        gate_tripped=bool(gate.driver.in_compliance()) if gated.output else None,
        field=float(station.field.read_field()),
        # measured, not programmed: in voltage mode the programmed current is only a limit
        supply_current=float(station.field.supply.measure_current()),
        analyzer=station.spectrum.settings)


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
                                  for k in Spectrum.SETTING_NAMES
                                  if k in event.data.get("parameters", {})}
        if update:
            with self._lock:
                self._reading = replace(self._reading, **update, time=event.time, derived=True)


def _scalar(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN
