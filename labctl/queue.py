"""The overnight queue: a TOML file of runs and nested sweeps, expanded, validated, persisted.

Everything in a queue file is checked (TOML syntax, keys, procedure names, parameter names,
types and ranges, the station's limits) before any instrument is touched; each mistake is one
UserInputError line naming the file and the entry. Progress lives in a JSON state file
written atomically after every change, so a crashed queue carries on with ``--resume``.
The format is described in docs/queue.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.config import StationConfig, default_sim_station, load_station
from labctl.errors import LabctlError, UserInputError
from labctl.procedure import Parameter
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING, now_iso
from labctl.runner import METADATA

_BASE_VALIDATE = Parameter.validate

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
        return ", ".join(f"{k}={_short(v)}" for k, v in self.varied.items())


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


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def _origin(path: Path) -> str:
    return f"queue file '{path}'"


def load_queue(path: str | Path, station: StationConfig | None = None) -> Queue:
    """Read, expand and validate a queue file; UserInputError (one line) on any mistake.

    ``station`` replaces the station the file names (``labctl queue FILE --sim``).
    """
    path = Path(path)
    origin = _origin(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UserInputError(f"{origin}: cannot read: {err.strerror or err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserInputError(f"{origin}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise UserInputError(f"{origin}: unknown key '{unknown[0]}' "
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
        raise UserInputError(f"{where}: unknown key '{unknown[0]}' "
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
        return p.parse(value)
    if p.kind is list and isinstance(value, list) and p.validate.__func__ is _BASE_VALIDATE:
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int | float | str)]
        if bad:
            raise UserInputError(f"parameter {name} = {value!r}: {bad[0]!r} is not a number")
    if isinstance(value, dict) or hasattr(value, "isoformat"):  # a table, date or time
        raise UserInputError(f"parameter {name} = {value!r}: must be a {p.kind.__name__}")
    return value


# ---- the state file ------------------------------------------------------------------------



def queue_digest(queue: Queue) -> list[dict[str, Any]]:
    """What identifies each run for --resume: procedure and every parameter value."""
    return [{"index": r.index, "procedure": r.procedure, "parameters": r.parameters}
            for r in queue.runs]


class QueueState:
    """The JSON progress record of a queue; :meth:`save` replaces the file atomically."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.data["runs"]

    @classmethod
    def new(cls, queue: Queue) -> QueueState:
        runs = [{**d, "varied": r.varied, "status": PENDING, "path": None, "reason": "",
                 "rows": 0, "planned": r.instance.planned_points() if r.instance else None,
                 "started": None, "finished": None, "attempts": 0,
                 "previous_paths": []}
                for d, r in zip(queue_digest(queue), queue.runs)]
        data = {"state_version": STATE_VERSION, "queue": str(queue.path.resolve()),
                "queue_sha256": _sha256(queue.path), "out": str(queue.out),
                "on_failure": queue.on_failure, "created": now_iso(), "updated": now_iso(),
                "runs": runs}
        return cls(queue.state_path, data)

    @classmethod
    def load(cls, queue: Queue) -> QueueState:
        """The saved state, checked against the queue (runs may only be appended)."""
        path = queue.state_path
        origin = f"queue state file '{path}'"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise UserInputError(f"{origin}: cannot read: {err}") from None
        if not isinstance(data, dict) or data.get("state_version") != STATE_VERSION or \
                not isinstance(data.get("runs"), list):
            raise UserInputError(f"{origin}: not a labctl queue state (version "
                                 f"{STATE_VERSION})")
        state = cls(path, data)
        digest = queue_digest(queue)
        if len(digest) < len(state.runs):
            raise UserInputError(f"{_origin(queue.path)}: has {len(digest)} runs, the state "
                                 f"{len(state.runs)}: runs may only be appended for --resume")
        for saved, now in zip(state.runs, digest):
            if saved.get("procedure") != now["procedure"] or \
                    saved.get("parameters") != json.loads(json.dumps(now["parameters"])):
                raise UserInputError(
                    f"{_origin(queue.path)}: run {now['index']} ({now['procedure']}) differs "
                    f"from the one in '{path}'; restore the file or start a new out folder")
        fresh = QueueState.new(queue).runs
        state.runs.extend(fresh[len(state.runs):])
        data["queue_sha256"] = _sha256(queue.path)
        return state

    def save(self) -> None:
        """Write to a temporary file, flush it to disk, then atomically replace the old one."""
        self.data["updated"] = now_iso()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, indent=1, default=_json_default, allow_nan=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def update(self, index: int, **values: Any) -> None:
        self.runs[index - 1].update(values)
        self.save()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(obj)


# ---- what to do with each run on (re)start ------------------------------------------------


@dataclass
class Attempt:
    """How the next attempt at a run goes: into ``path``, resuming it or from the start."""

    path: Path
    resume: bool = False
    completed: bool = False  # the file is complete already: the state file lagged behind
    note: str = ""


def fresh_path(queue: Queue, run: QueueRun, attempt: int) -> Path:
    """``NNN_procedure.h5`` in the out folder (``_tryK`` after a restart), never an old file."""
    stem = f"{run.index:03d}_{run.procedure}" + (f"_try{attempt}" if attempt > 1 else "")
    path = queue.out / f"{stem}.h5"
    k = attempt
    while path.exists():
        k += 1
        path = queue.out / f"{run.index:03d}_{run.procedure}_try{k}.h5"
    return path


def plan_attempt(queue: Queue, run: QueueRun, record: dict[str, Any]) -> Attempt:
    """Resume an interrupted run into its own file; restart it if that file is unusable.

    A run whose file says running/aborted/failed continues after its last complete row (the
    runner's resume), so nothing measured is lost or measured twice. A file that cannot be
    read (killed while being created) is renamed ``*.unreadable`` and the run restarts.
    """
    from labctl.runfile import read_info

    attempt = int(record.get("attempts", 0)) + 1
    old = record.get("path")
    if not old:
        return Attempt(fresh_path(queue, run, attempt))
    path = Path(old)
    if not path.exists():
        return Attempt(path, note="restarted (its run file was never created)")
    try:
        info = read_info(path)
    except LabctlError as err:
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        record.setdefault("previous_paths", []).append(str(aside))
        return Attempt(fresh_path(queue, run, attempt), note=f"restarted ({err})")
    if info["procedure"] != run.procedure:
        raise UserInputError(f"run file '{path}' holds a {info['procedure']} run, the queue "
                             f"says run {run.index} is {run.procedure}")
    if info["status"] == COMPLETED:
        return Attempt(path, completed=True, note="already completed in its run file")
    if info["status"] in (RUNNING, ABORTED, FAILED):
        return Attempt(path, resume=True, note=f"resumed ({info['status']} after "
                                                f"{main_rows(path)} rows)")
    raise UserInputError(f"run file '{path}': status {info['status']!r} cannot be resumed")


def main_rows(path: Path | str | None) -> int:
    """Complete rows of a run file's main stream (0 if there is no readable file)."""
    from labctl.runfile import read_info

    if not path or not Path(path).exists():
        return 0
    try:
        info = read_info(path)
    except LabctlError:
        return 0
    main = (info.get("schema") or {}).get("streams", [{}])[0].get("name")
    return int(info["rows"].get(main, 0))
