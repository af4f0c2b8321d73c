"""The procedure protocol: typed parameters with units and limits, a schema, a generator of rows.

It lives in the core so that both sides may import it: the procedures (which implement it) and
the runner and the lab (which drive it). A procedure never sends SCPI: it uses the station's
roles. The runner drives the generator, so pause, abort, ramp-down and the run file are the
runner's job, not each procedure's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from labctl.config import StationConfig
from labctl.duration import Plan
from labctl.errors import Interrupted, LabctlError, UserInputError, did_you_mean
from labctl.parameters import Parameter, StationLimit, check_gate_values
from labctl.schema import Schema

__all__ = ["Parameter", "Plan", "Procedure", "ProcedureError", "Results", "Row", "RunContext",
           "StationLimit", "check_gate_values"]


class ProcedureError(LabctlError):
    """A procedure broke its own contract (e.g. a row without a declared quantity): a bug."""


@dataclass
class Row:
    """One row for a stream other than the main one (e.g. a per-cycle result)."""

    stream: str
    values: dict[str, Any]


@dataclass
class Results:
    """Final results of a run (fits, extracted thresholds), stored as JSON with the run."""

    values: dict[str, Any] = field(default_factory=dict)


class RunContext:
    """What a running procedure may use besides the station: resume point, log, its own data,
    interruptible waits and the steps of its sweep still to measure."""

    def __init__(self, station, start: int = 0, runfile=None, log=None):
        self.station = station
        self.start = start  # rows of the main stream already in the file (resume)
        self._runfile = runfile
        self._log = log

    def log(self, message: str, level: str = "info") -> None:
        if self._log is not None:
            self._log(level, message)

    def recorded(self, name: str, stream: str | None = None) -> np.ndarray:
        """Rows of ``name`` already in the run file (empty for a fresh run)."""
        if self._runfile is None:
            return np.empty(0)
        return self._runfile.read(name, stream)

    def sleep(self, seconds: float) -> None:
        """Wait on the station's clock; an abort ends the wait (raises Interrupted)."""
        st = self.station
        if not st.clock.sleep(seconds, st.stop):
            raise Interrupted(f"interrupted during a wait of {seconds:g} s")

    def remaining(self, values: Iterable) -> Iterator:
        """The steps of the main stream's sweep still to measure: all on a fresh run, those
        after the last complete row on a resume.

        On a resume the recorded values of the swept quantity (the main stream's ``swept``)
        must be the first steps of ``values``: a file from other parameters is refused.
        """
        steps = list(values)
        if self.start and self._runfile is not None:
            swept = self._runfile.schema.main.swept
            if swept:
                done = self.recorded(swept)[:self.start]
                planned = np.asarray(steps[:self.start], dtype=float)
                if len(done) != len(planned) or not np.allclose(done, planned, rtol=1e-9,
                                                                 atol=0, equal_nan=True):
                    raise ProcedureError(f"resume: the {swept} values in the file are not the "
                                         "first steps of this sweep (other parameters?)")
        return iter(steps[self.start:])


class Procedure:
    """Base of every procedure. Subclasses set ``name``, ``title``, ``parameters`` and define
    :meth:`schema` and :meth:`execute`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    # main-stream quantity -> StationReading field it is, so a station panel can follow a run
    readings: ClassVar[dict[str, str]] = {}
    result_units: ClassVar[dict[str, str]] = {}  # result name -> unit, stored with the run

    def __init__(self, **values: Any):
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UserInputError(
                f"{self.name}: unknown parameter {unknown[0]!r}"
                f"{did_you_mean(unknown[0], known)} (known: {', '.join(known)})")
        self.values: dict[str, Any] = {}
        for p in self.parameters:
            self.values[p.name] = p.validate(values.get(p.name, p.default))
        self.check()

    def __getattr__(self, item: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and item in values:
            return values[item]
        raise AttributeError(item)

    @classmethod
    def parameter(cls, name: str) -> Parameter:
        for p in cls.parameters:
            if p.name == name:
                return p
        known = [p.name for p in cls.parameters]
        raise UserInputError(f"{cls.name}: unknown parameter {name!r}"
                             f"{did_you_mean(name, known)} (known: {', '.join(known)})")

    @classmethod
    def from_text(cls, settings: dict[str, str]) -> Procedure:
        """Build from NAME=VALUE texts (command line, queue file)."""
        return cls(**{k: cls.parameter(k).parse(v) for k, v in settings.items()})

    def check(self) -> None:
        """Cross-parameter checks (e.g. start < stop); raise UserInputError."""

    def check_station(self, config: StationConfig) -> None:
        """Check the parameters against the station's limits before any instrument is touched.

        Every parameter that declares a station limit is checked, except those
        :meth:`unused` with the present values; extend for checks the declarations cannot say.
        """
        skip = self.unused()
        for p in self.parameters:
            if p.name not in skip:
                p.check_station(self.values[p.name], config)

    def unused(self) -> set[str]:
        """Parameters that play no part with the present values (not held to the station)."""
        return set()

    def schema(self) -> Schema:
        raise NotImplementedError

    def planned_points(self) -> int | None:
        """Rows of the main stream the run will produce, if known."""
        return None

    def estimate(self, plan: Plan) -> None:
        """Walk ``plan`` through the run: outputs, field setpoints, spectra, readings, waits.

        The plan adds up the time of each step by the station's rules; the ramp-down at the
        end is added by :meth:`plan`.
        """
        plan.unknown(f"{self.name} does not estimate its duration")

    def plan(self, config: StationConfig) -> Plan:
        """What a run with these parameters will do on ``config``'s station, and how long it
        will take; nothing is sent to an instrument."""
        plan = Plan(config)
        plan.start()
        self.estimate(plan)
        plan.ramp_down()
        return plan

    def summarize(self, results: dict[str, Any]) -> list[str]:
        """Lines for the terminal after a run (the main findings)."""
        return [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                for k, v in results.items()]

    def execute(self, ctx: RunContext) -> Iterator[dict[str, Any] | Row | Results]:
        """Yield main-stream rows (dicts), :class:`Row` for other streams, :class:`Results`."""
        raise NotImplementedError
