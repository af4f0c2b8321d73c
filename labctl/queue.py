"""The overnight queue: a TOML file of runs and nested sweeps, expanded, validated, persisted.

Everything in a queue file is checked (TOML syntax, keys, procedure names, parameter names,
types and ranges, the station's limits) before any instrument is touched; each mistake is one
UserInputError line naming the file and the entry; a queue expands to at most MAX_RUNS runs.
Progress lives in a JSON state file (labctl/queuestate.py), so a crashed queue carries on
with ``--resume``. The format is described in docs/queue.md.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.config import StationConfig, default_sim_station, load_station, read_toml
from labctl.errors import LabctlError, UserInputError, did_you_mean
from labctl.procedure import Parameter
from labctl.runner import METADATA
from labctl.units import format_value

_BASE_VALIDATE = Parameter.validate

MAX_RUNS = 10_000  # runs a queue may expand to (its state file is rewritten after each)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|nan)", re.I)
TOP_KEYS = {"station", "out", "on_failure", "plots", "run", *METADATA}
RUN_KEYS = {"procedure", "set", "foreach", *METADATA}
ON_FAILURE = ("continue", "stop")
STATE_VERSION = 1
PENDING = "pending"  # the other statuses of a queued run are those of its run file


@dataclass
class QueueRun:
    """One run of the expanded queue (``index`` counts from 1 over the whole queue)."""

    index: int
    entry: int  # which [[run]] table (from 1) it came from
    procedure: str
    parameters: dict[str, Any]  # every parameter, validated, SI
    varied: dict[str, Any]  # the foreach values of this run (for the summary)
    instance: Any = field(repr=False, default=None)  # the Procedure object
    metadata: dict[str, str] = field(default_factory=dict)  # sample, device, operator, comment

    @property
    def label(self) -> str:
        return varied_label(self.procedure, self.varied)


@dataclass
class Queue:
    path: Path
    station: StationConfig
    out: Path
    on_failure: str
    runs: list[QueueRun]
    plots: bool = False  # write each run's figures (`labctl plot`) into <out>/figures

    @property
    def state_path(self) -> Path:
        """The state file, next to the out folder: ``<out>.queue.json``."""
        return self.out.with_name(self.out.name + ".queue.json")


def varied_label(procedure: str, varied: dict[str, Any]) -> str:
    """A queued run's foreach values in engineering units: ``gate_voltage=200 mV``."""
    from labctl.registry import procedure_class

    try:
        units = {q.name: q.unit for q in procedure_class(procedure).parameters}
    except LabctlError:  # a state file naming a procedure no longer installed
        units = {}
    return ", ".join(f"{k}={_short(v, units.get(k, ''))}" for k, v in varied.items())


def _short(v: Any, unit: str = "") -> str:
    if isinstance(v, float):
        return format_value(v, unit) if unit else f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x, unit) for x in v) + "]"
    return str(v)


def _origin(path: Path) -> str:
    return f"queue file '{path}'"


def load_queue(path: str | Path, station: StationConfig | None = None) -> Queue:
    """Read, expand and validate a queue file; UserInputError (one line) on any mistake.

    ``station`` replaces the station the file names (``labctl queue FILE --sim``).
    """
    path = Path(path)
    origin = _origin(path)
    data = read_toml(path, origin, UserInputError)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise UserInputError(f"{origin}: unknown key '{unknown[0]}'"
                             f"{did_you_mean(unknown[0], TOP_KEYS)} "
                             f"(known: {', '.join(sorted(TOP_KEYS))})")
    base = path.resolve().parent
    station = station or _station(data.get("station"), base, origin)
    out = data.get("out")
    if not isinstance(out, str) or not out.strip():
        raise UserInputError(f"{origin}: out = {out!r}: needs a folder for the run files")
    on_failure = data.get("on_failure", "continue")
    if on_failure not in ON_FAILURE:
        raise UserInputError(f"{origin}: on_failure = {on_failure!r}: must be "
                             f"{' or '.join(map(repr, ON_FAILURE))}")
    plots = data.get("plots", False)
    if not isinstance(plots, bool):
        raise UserInputError(f"{origin}: plots = {plots!r}: must be true or false")
    tables = data.get("run")
    if not isinstance(tables, list) or not tables:
        raise UserInputError(f"{origin}: no runs: add at least one [[run]] table")
    defaults = _metadata(data, origin, {})
    runs: list[QueueRun] = []
    for entry, table in enumerate(tables, start=1):
        runs.extend(_expand(table, entry, len(runs), station, origin, defaults))
    return Queue(path, station, base / out, on_failure, runs, plots)


def _station(value: Any, base: Path, origin: str) -> StationConfig:
    if not isinstance(value, str) or not value.strip():
        raise UserInputError(f"{origin}: station = {value!r}: give \"sim\" or a station file")
    if value == "sim":
        return default_sim_station()
    p = Path(value)
    try:
        return load_station(p if p.is_absolute() else base / p)
    except UserInputError as err:
        raise UserInputError(f"{origin}: station = {value!r}: {err}") from None


def _metadata(table: dict, where: str, defaults: dict[str, str]) -> dict[str, str]:
    """The run metadata keys of a table (text), over those it inherits."""
    out = dict(defaults)
    for key in METADATA:
        if key in table:
            if not isinstance(table[key], str):
                raise UserInputError(f"{where}: {key} = {table[key]!r}: must be text")
            out[key] = table[key]
    return out


def _expand(table: Any, entry: int, before: int, station: StationConfig,
            origin: str, defaults: dict[str, str] | None = None) -> list[QueueRun]:
    from labctl.registry import procedure_class

    where = f"{origin}: run {entry}"
    if not isinstance(table, dict):
        raise UserInputError(f"{where}: must be a table")
    unknown = sorted(set(table) - RUN_KEYS)
    if unknown:
        raise UserInputError(f"{where}: unknown key '{unknown[0]}'"
                             f"{did_you_mean(unknown[0], RUN_KEYS)} "
                             f"(known: {', '.join(sorted(RUN_KEYS))})")
    name = table.get("procedure")
    if not isinstance(name, str):
        raise UserInputError(f"{where}: procedure = {name!r}: needs a procedure name")
    try:
        cls = procedure_class(name)
    except UserInputError as err:
        raise UserInputError(f"{where}: {err}") from None
    where = f"{where} ({name})"
    metadata = _metadata(table, where, defaults or {})
    fixed = table.get("set", {})
    foreach = table.get("foreach", {})
    for key, value in (("set", fixed), ("foreach", foreach)):
        if not isinstance(value, dict):
            raise UserInputError(f"{where}: {key} = {value!r}: must be a table "
                                 "{ name = value, ... }")
    both = sorted(set(fixed) & set(foreach))
    if both:
        raise UserInputError(f"{where}: parameter {both[0]!r} is both in set and in foreach")
    for key, values in foreach.items():
        if not isinstance(values, list) or not values:
            raise UserInputError(f"{where}: foreach {key} = {values!r}: needs a non-empty "
                                 "list of values")
    count = math.prod(len(v) for v in foreach.values())
    if before + count > MAX_RUNS:
        raise UserInputError(f"{where}: foreach makes {count} runs, the queue "
                             f"{before + count}; a queue holds at most {MAX_RUNS} runs")
    keys = list(foreach)
    runs = []
    for combo in itertools.product(*(foreach[k] for k in keys)):
        varied = dict(zip(keys, combo))
        label = ", ".join(f"{k} = {_short(v)}" for k, v in varied.items())
        at = f"{where}{' [' + label + ']' if label else ''}"
        try:
            values = {k: _coerce(cls, k, v) for k, v in {**fixed, **varied}.items()}
            proc = cls(**values)
            proc.check_station(station)
        except LabctlError as err:
            raise UserInputError(f"{at}: {str(err).removeprefix(name + ': ')}") from None
        runs.append(QueueRun(before + len(runs) + 1, entry, name, dict(proc.values),
                             varied, proc, metadata))
    return runs


def _coerce(cls, name: str, value: Any) -> Any:
    """TOML value -> parameter value: text goes through the parameter's own parser."""
    p = cls.parameter(name)
    if isinstance(value, str) and p.kind is not str:
        # text is for a quantity with its unit ("2 mA"); a number or a boolean is written
        # as one, without quotes (a quoted one is a typo as often as not)
        if p.kind is bool or _NUMBER.fullmatch(value.strip()):
            raise UserInputError(f"parameter {name} = {value!r}: text where a "
                                 f"{p.kind.__name__} belongs: write it without quotes")
        return p.parse(value)
    if p.kind is list and isinstance(value, list) and p.validate.__func__ is _BASE_VALIDATE:
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int | float | str)]
        if bad:
            raise UserInputError(f"parameter {name} = {value!r}: {bad[0]!r} is not a number")
        quoted = [v for v in value if isinstance(v, str) and _NUMBER.fullmatch(v.strip())]
        if quoted:  # "-500 mV" is a quantity, "-0.5" a number in quotes
            raise UserInputError(f"parameter {name} = {value!r}: {quoted[0]!r}: text where a "
                                 "number belongs: write it without quotes")
    if isinstance(value, dict) or hasattr(value, "isoformat"):  # a table, date or time
        raise UserInputError(f"parameter {name} = {value!r}: must be a {p.kind.__name__}")
    return value


# the state file and the runs' attempts (re-exported: they were defined here)
from labctl.queuestate import (  # noqa: E402, F401
    Attempt,
    QueueState,
    check_queue_start,
    fresh_path,
    main_rows,
    now_iso,
    plan_attempt,
    queue_digest,
    read_state,
    state_lock,
)
