"""A queue's progress (``<out>.queue.json``): one writer, checked as untrusted input, and what
to do with each run when the queue (re)starts.

The state is written atomically after every change, so a crashed queue carries on with
``--resume``; the process running the queue holds the state file's lock; a state file that
names a run file outside the queue's out folder is refused, so --resume never touches (or
renames) any other file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.errors import LabctlError, UserInputError
from labctl.queue import PENDING, STATE_VERSION, Queue, QueueRun, _origin
from labctl.runlayout import ABORTED, COMPLETED, FAILED, RUNNING, now_iso


def queue_digest(queue: Queue) -> list[dict[str, Any]]:
    """What identifies each run for --resume: procedure and every parameter value."""
    return [{"index": r.index, "procedure": r.procedure, "parameters": r.parameters}
            for r in queue.runs]


class QueueState:
    """The JSON progress record of a queue; :meth:`save` replaces the file atomically.

    While a QueueState is in use it holds the state file's lock: a second process running
    the same queue (the same out folder) is refused with one line. :meth:`release` ends it.
    """

    def __init__(self, path: Path, data: dict[str, Any], lock=None):
        self.path = path
        self.data = data
        self._lock = lock

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.data["runs"]

    @classmethod
    def new(cls, queue: Queue) -> QueueState:
        lock = state_lock(queue)
        data = {"state_version": STATE_VERSION, "queue": str(queue.path.resolve()),
                "queue_sha256": _sha256(queue.path), "out": str(queue.out),
                "on_failure": queue.on_failure, "created": now_iso(), "updated": now_iso(),
                "runs": _fresh_runs(queue)}
        return cls(queue.state_path, data, lock)

    @classmethod
    def load(cls, queue: Queue) -> QueueState:
        """The saved state, checked against the queue (runs may only be appended)."""
        lock = state_lock(queue)
        try:
            data = read_state(queue)
            data["runs"].extend(_fresh_runs(queue)[len(data["runs"]):])
            data["queue_sha256"] = _sha256(queue.path)
        except BaseException:
            lock.release()
            raise
        return cls(queue.state_path, data, lock)

    def save(self) -> None:
        """Write to a temporary file, flush it to disk, then atomically replace the old one."""
        self.data["updated"] = now_iso()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")  # ours: we hold the state's lock
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, separators=(",", ":"), default=_json_default,
                      allow_nan=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def update(self, index: int, **values: Any) -> None:
        self.runs[index - 1].update(values)
        self.save()

    def release(self) -> None:
        """Let another process carry on with the queue."""
        if self._lock is not None:
            self._lock.release()


def check_queue_start(queue: Queue, resume: bool) -> None:
    """What starting ``queue`` would find wrong, found before any instrument is opened: a
    progress file without --resume, a progress file that does not fit the queue, another
    process running the queue, an out folder that cannot hold the queue's run files."""
    from labctl.diskspace import RESERVE_MIN, check_folder, estimate_bytes

    done: set[int] = set()
    if queue.state_path.exists():
        if not resume:
            raise UserInputError(
                f"queue file '{queue.path}': progress file '{queue.state_path}' exists; add "
                "--resume to carry on, or give the queue another out folder")
        done = {r["index"] for r in read_state(queue)["runs"] if r["status"] == COMPLETED}
    state_lock(queue).release()
    todo = [r for r in queue.runs if r.instance is not None and r.index not in done]
    need = sum(estimate_bytes(r.instance.schema(), r.instance.planned_points()) for r in todo)
    check_folder(queue.out, need + RESERVE_MIN, f"the queue's {len(todo)} runs to do")


def _fresh_runs(queue: Queue) -> list[dict[str, Any]]:
    return [{**d, "varied": r.varied, "status": PENDING, "path": None, "reason": "",
             "rows": 0, "planned": r.instance.planned_points() if r.instance else None,
             "started": None, "finished": None, "attempts": 0, "previous_paths": []}
            for d, r in zip(queue_digest(queue), queue.runs)]


def state_lock(queue: Queue):
    """The state file's lock, taken (LockHeld, one line, if another process has it)."""
    from labctl.locks import file_lock

    return file_lock(queue.state_path, f"queue progress file '{queue.state_path}'").acquire()


MAX_STATE_BYTES = 64 << 20


def read_state(queue: Queue) -> dict[str, Any]:
    """The saved state file, checked as untrusted input against the queue: its runs are the
    queue's (the queue may only have gained runs at the end) and every run file it names is
    a file in the queue's out folder."""
    path = queue.state_path
    origin = f"queue state file '{path}'"
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            raise UserInputError(f"{origin}: larger than {MAX_STATE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise UserInputError(f"{origin}: cannot read: {_first_line(err)}") from None
    if not isinstance(data, dict) or data.get("state_version") != STATE_VERSION or \
            not isinstance(data.get("runs"), list):
        raise UserInputError(f"{origin}: not a labctl queue state (version {STATE_VERSION})")
    digest = queue_digest(queue)
    if len(digest) < len(data["runs"]):
        raise UserInputError(f"{_origin(queue.path)}: has {len(digest)} runs, the state "
                             f"{len(data['runs'])}: runs may only be appended for --resume")
    out = queue.out.resolve()
    for k, (saved, now) in enumerate(zip(data["runs"], digest), start=1):
        if not isinstance(saved, dict) or saved.get("procedure") != now["procedure"] or \
                saved.get("parameters") != json.loads(json.dumps(now["parameters"])):
            raise UserInputError(
                f"{_origin(queue.path)}: run {now['index']} ({now['procedure']}) differs "
                f"from the one in '{path}'; restore the file or start a new out folder")
        if saved.get("status") not in (PENDING, RUNNING, COMPLETED, ABORTED, FAILED):
            raise UserInputError(f"{origin}: run {k}: status {saved.get('status')!r} unknown")
        if not isinstance(saved.get("attempts", 0), int) or \
                not isinstance(saved.get("previous_paths", []), list):
            raise UserInputError(f"{origin}: run {k}: attempts or previous_paths malformed")
        saved["index"] = k
        run_path = saved.get("path")
        if run_path is not None and (not isinstance(run_path, str)
                                     or not _inside(Path(run_path), out)):
            raise UserInputError(f"{origin}: run {k}: path {str(run_path)[:120]!r} is not "
                                     f"a file in the out folder '{queue.out}'; labctl touches "
                                     "no file outside it")
    return data


def _inside(path: Path, folder: Path) -> bool:
    """``path`` names a file directly in ``folder`` (links and '..' resolved), no link."""
    if path.is_symlink():
        return False
    try:
        return path.resolve().parent == folder
    except (OSError, RuntimeError):
        return False


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


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
    if not _inside(path, queue.out.resolve()):  # read_state checked it; checked again here
        raise UserInputError(f"run file '{path}' is not in the queue's out folder "
                             f"'{queue.out}'; labctl touches no file outside it")
    if not path.exists():
        return Attempt(path, note="restarted (its run file was never created)")
    try:
        info = read_info(path)
    except LabctlError as err:
        aside = _set_aside(path)
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


def _set_aside(path: Path) -> Path:
    """Rename an unreadable run file ``*.unreadable[-k]``, under its writer's lock (a file
    another process writes is never moved), never over an earlier one."""
    from labctl.locks import file_lock

    with file_lock(path, f"run file '{path}'"):
        aside, k = path.with_name(path.name + ".unreadable"), 1
        while aside.exists():
            k += 1
            aside = path.with_name(f"{path.name}.unreadable-{k}")
        os.replace(path, aside)
    return aside


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
