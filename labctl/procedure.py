"""The procedure protocol: typed parameters with units and limits, a schema, a generator of rows.

It lives in the core so that both sides may import it: the procedures (which implement it) and
the runner and the lab (which drive it). A procedure never sends SCPI: it uses the station's
roles. The runner drives the generator, so pause, abort, ramp-down and the run file are the
runner's job, not each procedure's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from labctl.config import GateLimits, StationConfig
from labctl.errors import LabctlError, LimitError, UserInputError
from labctl.schema import Schema


class ProcedureError(LabctlError):
    """A procedure broke its own contract (e.g. a row without a declared quantity): a bug."""


@dataclass(frozen=True)
class Parameter:
    """A typed procedure parameter; values are SI (A, V, T, Hz, s)."""

    name: str
    default: Any
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    kind: type = float  # float, int, str, bool, or list (of floats)
    choices: tuple = ()

    def parse(self, text: str) -> Any:
        """Turn command-line text into a value of this parameter's kind.

        Numbers may carry a unit with an SI prefix ("2.2 mA", "650 mT"); bare numbers are SI.
        """
        from labctl.units import parse_list, parse_value

        if self.kind is float:
            return parse_value(text, self.unit, self.name)
        if self.kind is list:
            return parse_list(text, self.unit, self.name)
        try:
            if self.kind is bool:
                low = text.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(text)
                return low in ("1", "true", "yes", "on")
            if self.kind is int:
                f = float(text)
                if not f.is_integer():
                    raise ValueError(text)
                return int(f)
            return self.kind(text)
        except ValueError:
            raise UserInputError(
                f"parameter {self.name} = {text!r}: not a valid {self.kind.__name__}") from None

    def validate(self, value: Any) -> Any:
        """Check type, range and choices; return the value in its kind."""
        if self.kind is list:
            if isinstance(value, int | float):
                value = [value]
            if not isinstance(value, list | tuple) or not value:
                raise UserInputError(f"parameter {self.name} = {value!r}: needs a list of numbers")
            return [self._check_number(float(v)) for v in value]
        if self.kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return self._check_number(float(value))
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool):
            return int(self._check_number(value))
        if self.kind is str and isinstance(value, str):
            if self.choices and value not in self.choices:
                raise UserInputError(
                    f"parameter {self.name} = {value!r}: must be one of {', '.join(self.choices)}")
            return value
        if self.kind is bool and isinstance(value, bool):
            return value
        raise UserInputError(
            f"parameter {self.name} = {value!r}: must be a {self.kind.__name__}")

    def _check_number(self, v: float) -> float:
        if not math.isfinite(v):
            raise UserInputError(f"parameter {self.name} = {v}: not a finite number")
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None and v < self.minimum:
            raise UserInputError(
                f"parameter {self.name} = {v:g}{unit}: below the minimum {self.minimum:g}{unit}")
        if self.maximum is not None and v > self.maximum:
            raise UserInputError(
                f"parameter {self.name} = {v:g}{unit}: above the maximum {self.maximum:g}{unit}")
        return v


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
    """What a running procedure may use besides the station: resume point, log, its own data."""

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


def check_gate_values(limits: GateLimits, voltages: dict[str, float],
                      compliances: dict[str, float]) -> None:
    """LimitError naming the parameter if a level or compliance is beyond the station's gate."""
    for name, v in voltages.items():
        if not limits.min_voltage <= v <= limits.max_voltage:
            raise LimitError(f"parameter {name} = {v:g} V: outside the station's V_M range "
                             f"[{limits.min_voltage:g}, {limits.max_voltage:g}] V")
    for name, amps in compliances.items():
        if not 0 < amps <= limits.max_compliance:
            raise LimitError(f"parameter {name} = {amps:g} A: beyond the station's max gate "
                             f"compliance of {limits.max_compliance:g} A")


class Procedure:
    """Base of every procedure. Subclasses set ``name``, ``title``, ``parameters`` and define
    :meth:`schema` and :meth:`execute`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    def __init__(self, **values: Any):
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UserInputError(
                f"{self.name}: unknown parameter {unknown[0]!r} "
                f"(known: {', '.join(known)})")
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
        raise UserInputError(
            f"{cls.name}: unknown parameter {name!r} "
            f"(known: {', '.join(p.name for p in cls.parameters)})")

    @classmethod
    def from_text(cls, settings: dict[str, str]) -> Procedure:
        """Build from NAME=VALUE texts (command line, queue file)."""
        return cls(**{k: cls.parameter(k).parse(v) for k, v in settings.items()})

    def check(self) -> None:
        """Cross-parameter checks (e.g. start < stop); raise UserInputError."""

    def check_station(self, config: StationConfig) -> None:
        """Check the parameters against the station's limits before any instrument is touched."""

    @staticmethod
    def within(name: str, value: float, limit: float, unit: str, what: str) -> None:
        if abs(value) > limit:
            raise LimitError(f"parameter {name} = {value:g} {unit}: beyond the station's "
                             f"{what} of {limit:g} {unit}")

    def schema(self) -> Schema:
        raise NotImplementedError

    def planned_points(self) -> int | None:
        """Rows of the main stream the run will produce, if known."""
        return None

    def summarize(self, results: dict[str, Any]) -> list[str]:
        """Lines for the terminal after a run (the main findings)."""
        return [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                for k, v in results.items()]

    def execute(self, ctx: RunContext) -> Iterator[dict[str, Any] | Row | Results]:
        """Yield main-stream rows (dicts), :class:`Row` for other streams, :class:`Results`."""
        raise NotImplementedError
