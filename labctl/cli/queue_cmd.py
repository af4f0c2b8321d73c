"""``labctl queue FILE [--resume]``: run an overnight queue, one procedure after the other.

The whole queue is validated before the station is opened. Each run is recorded in the
state file (``<out>.queue.json``) before it starts and after it ends, so after a crash
``--resume`` skips the completed runs and resumes the interrupted one into its own file.
Ctrl-C (or SIGTERM) aborts the run in progress safely, records it as aborted and stops the
queue. Exit code: 0 when every run completed, 1 otherwise, 2 for a bad queue file.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path

from labctl.cli.common import echo
from labctl.errors import LabctlError, UserInputError
from labctl.queue import (
    PENDING,
    Queue,
    QueueRun,
    QueueState,
    load_queue,
    main_rows,
    now_iso,
    plan_attempt,
)
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING


class QueueStopped(Exception):
    """Ctrl-C or SIGTERM between two runs."""


@contextmanager
def stop_on_signals():
    """Between runs SIGINT/SIGTERM stop the queue (during a run, run_procedure aborts it)."""

    def handler(signum, frame):
        raise QueueStopped(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_queue_file(file: Path, *, resume: bool = False, quiet: bool = False) -> int:
    """Validate, then run (or carry on with) the queue in ``file``; return the exit code."""
    queue = load_queue(file)  # every mistake in the file is found here, nothing is opened
    if queue.state_path.exists():
        if not resume:
            raise UserInputError(
                f"queue file '{file}': progress file '{queue.state_path}' exists; add --resume "
                "to carry on, or give the queue another out folder")
        state = QueueState.load(queue)
    else:
        if resume:
            echo(f"no progress file '{queue.state_path}': starting from the first run")
        state = QueueState.new(queue)
    queue.out.mkdir(parents=True, exist_ok=True)
    state.save()
    todo = sum(r["status"] != COMPLETED for r in state.runs)
    echo(f"queue '{file}': {len(queue.runs)} runs, {todo} to do; progress in "
         f"'{queue.state_path}'")
    stopped = ""
    with stop_on_signals():
        try:
            stopped = _run_all(queue, state, quiet)
        except QueueStopped as err:
            stopped = f"stopped by {err} between runs"
            _reconcile(state)
    if stopped:
        echo(f"queue stopped: {stopped}")
    for line in summary_table(state):
        echo(line)
    return 0 if all(r["status"] == COMPLETED for r in state.runs) else 1


def _run_all(queue: Queue, state: QueueState, quiet: bool) -> str:
    """Run every unfinished run in order; return why the queue stopped early ('' if not)."""
    from labctl.station import open_station

    station = None
    n = len(queue.runs)
    for run in queue.runs:
        record = state.runs[run.index - 1]
        if record["status"] == COMPLETED:
            continue
        attempt = plan_attempt(queue, run, record)
        if attempt.completed:
            state.update(run.index, status=COMPLETED, path=str(attempt.path),
                         reason="completed (found in its run file)",
                         rows=main_rows(attempt.path), finished=now_iso())
            echo(f"[{run.index}/{n}] {run.procedure}: {attempt.note}")
            continue
        if station is None:
            station = open_station(queue.station)  # only now is an instrument touched
        state.update(run.index, status=RUNNING, path=str(attempt.path), reason="",
                     started=now_iso(), finished=None,
                     attempts=int(record.get("attempts", 0)) + 1)
        label = f" ({run.label})" if run.label else ""
        note = f" [{attempt.note}]" if attempt.note else ""
        echo(f"[{run.index}/{n}] {run.procedure}{label} -> {attempt.path}{note}")
        status, reason = _run_one(run, queue, station, attempt.path, attempt.resume, quiet)
        state.update(run.index, status=status, reason=reason, rows=main_rows(attempt.path),
                     finished=now_iso())
        echo(f"[{run.index}/{n}] {status}: {reason}")
        if status == ABORTED:
            return f"run {run.index} aborted ({reason}); --resume continues it"
        if status != COMPLETED and queue.on_failure == "stop":
            return f"run {run.index} {status} and on_failure = \"stop\""
    return ""


def _reconcile(state: QueueState) -> None:
    """After a stop between runs: a run still marked running takes its file's status."""
    from labctl.runfile import read_info

    for r in state.runs:
        if r["status"] == RUNNING and r.get("path"):
            try:
                info = read_info(r["path"])
            except LabctlError:
                continue
            state.update(r["index"], status=info["status"], reason=info["reason"],
                         rows=main_rows(r["path"]))


def _run_one(run: QueueRun, queue: Queue, station, path: Path, resume: bool,
             quiet: bool) -> tuple[str, str]:
    from labctl.cli.run_cmd import run_procedure

    try:
        runner = run_procedure(run.instance, queue.station, path, resume=resume,
                               progress=not quiet, station=station)
    except LabctlError as err:  # e.g. a run file that refuses to be resumed
        return FAILED, str(err)
    return runner.status, runner.reason


def summary_table(state: QueueState) -> list[str]:
    """One line per run: index, procedure, swept values, status, rows, run file."""
    rows = [("#", "procedure", "values", "status", "rows", "run file")]
    for r in state.runs:
        varied = ", ".join(f"{k}={_fmt(v)}" for k, v in (r.get("varied") or {}).items())
        planned = r.get("planned")
        count = f"{r.get('rows', 0)}/{planned}" if planned else str(r.get("rows", 0))
        path = Path(r["path"]).name if r.get("path") else "-"
        rows.append((str(r["index"]), r["procedure"], varied or "-", r["status"], count, path))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    counts = {s: sum(r["status"] == s for r in state.runs)
              for s in (COMPLETED, FAILED, ABORTED, RUNNING, PENDING)}
    lines.append(", ".join(f"{v} {k}" for k, v in counts.items() if v))
    return lines


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)
