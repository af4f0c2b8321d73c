"""The overnight queue, run by a lab in a worker thread, one procedure after the other.

Each run is recorded in the state file (``<out>.queue.json``) before it starts and after it
ends, so after a crash a resumed queue skips the completed runs and resumes the interrupted
one into its own file. :meth:`QueueHandle.abort` (what a client does on Ctrl-C or SIGTERM)
stops the queue whenever it comes: during a run (aborted safely, then the queue stops),
during a run's ramp-down (the run is recorded as aborted) or between runs (no further run
starts). The queue never installs a signal handler.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from labctl.errors import LabctlError
from labctl.events import (
    ENTRY_FINISHED,
    ENTRY_STARTED,
    QUEUE_FINISHED,
    QUEUE_STARTED,
    queue_event,
)
from labctl.queue import (
    PENDING,
    Queue,
    QueueRun,
    QueueState,
    check_queue_start,
    main_rows,
    now_iso,
    plan_attempt,
)
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING, read_info
from labctl.runner import Runner

if TYPE_CHECKING:
    from labctl.lab.lab import Lab

log = logging.getLogger(__name__)
STOPPED = "stopped"  # queue status: it ended before its last run (an abort, on_failure)


def write_figures(path, folder) -> subprocess.Popen:
    """`labctl plot RUN --out FOLDER` in its own process: Qt draws in a main thread, and the
    queue goes on with its next run meanwhile."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "plot.log", "a") as log_file:
        return subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "plot", str(path),
                                 "--out", str(folder)], stdout=log_file, stderr=log_file,
                                stdin=subprocess.DEVNULL)


def open_state(queue: Queue, resume: bool) -> tuple[QueueState, str]:
    """The queue's progress record, new or (with ``resume``) the saved one; and a note."""
    note = ""
    if queue.state_path.exists():
        check_queue_start(queue, resume)
        state = QueueState.load(queue)
    else:
        if resume:
            note = f"no progress file '{queue.state_path}': starting from the first run"
        state = QueueState.new(queue)
    return state, note


class QueueHandle:
    """A queue in progress: abort, wait; per-entry status, the queue's status and reason."""

    def __init__(self, lab: Lab, queue: Queue, state: QueueState, note: str = ""):
        self.queue = queue
        self.note = note
        self.status = PENDING  # then running; at the end completed, failed or stopped
        self.reason = ""
        self._lab = lab
        self._state = state
        self._lock = threading.Lock()
        self._stop_reason = ""
        self._current: Runner | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._figures: list[subprocess.Popen] = []

    # ---- control (any thread) -------------------------------------------------------------
    @property
    def entries(self) -> list[dict[str, Any]]:
        """One record per run of the queue (as in the state file), a copy."""
        with self._lock:
            return copy.deepcopy(self._state.runs)

    @property
    def state_path(self):
        return self._state.path

    @property
    def stopping(self) -> str:
        """Why the queue was asked to stop ("" if it was not)."""
        return self._stop_reason

    @property
    def current(self):
        """The run in progress (a Runner), if any."""
        return self._current

    def abort(self, reason: str = "queue aborted by user") -> None:
        """Stop the queue: the run in progress is aborted, no further run starts."""
        with self._lock:
            if not self._stop_reason:
                self._stop_reason = reason
            current = self._current
        if current is not None:
            current.abort(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the queue has ended (the last run closed, the station released)."""
        return self._done.wait(timeout)

    # ---- worker thread ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="queue", daemon=True)
        self._thread.start()

    def _publish(self, kind: str, **data: Any) -> None:
        self._lab.bus.publish(queue_event(kind, **data))

    def _work(self) -> None:
        stopped = ""
        self.status = RUNNING
        try:
            self._publish(QUEUE_STARTED, entries=self.entries, state_path=str(self.state_path),
                          path=str(self.queue.path), note=self.note)
            stopped = self._run_all()
        except Exception as err:  # the state file or a run file became unusable
            log.exception("queue failed")
            stopped = f"queue failed: {err}"
        finally:
            try:
                self._reconcile()
            finally:
                for drawing in self._figures:  # figures of the last runs, still being drawn
                    drawing.wait()
                runs = self._state.runs
                if stopped:
                    self.status, self.reason = STOPPED, stopped
                elif all(r["status"] == COMPLETED for r in runs):
                    self.status, self.reason = COMPLETED, "every run completed"
                else:
                    self.status = FAILED
                    self.reason = f"{sum(r['status'] != COMPLETED for r in runs)} run(s) " \
                                  "not completed"
                self._state.release()  # another process may carry on with the queue
                self._lab._release("queue")
                self._publish(QUEUE_FINISHED, status=self.status, reason=self.reason)
                self._done.set()

    def _run_all(self) -> str:
        """Run every unfinished run in order; return why the queue stopped early ('' if not)."""
        queue, state = self.queue, self._state
        n = len(queue.runs)
        for run in queue.runs:
            if self._stop_reason:
                return f"stopped ({self._stop_reason}) between runs"
            record = state.runs[run.index - 1]
            if record["status"] == COMPLETED:
                continue
            attempt = plan_attempt(queue, run, record)
            if attempt.completed:
                with self._lock:
                    state.update(run.index, status=COMPLETED, path=str(attempt.path),
                                 reason="completed (found in its run file)",
                                 rows=main_rows(attempt.path), finished=now_iso())
                self._publish(ENTRY_FINISHED, index=run.index, total=n, status=COMPLETED,
                              reason=attempt.note, procedure=run.procedure)
                continue
            with self._lock:
                if self._stop_reason:
                    return f"stopped ({self._stop_reason}) between runs"
                state.update(run.index, status=RUNNING, path=str(attempt.path), reason="",
                             started=now_iso(), finished=None,
                             attempts=int(record.get("attempts", 0)) + 1)
                runner = self._runner(run, attempt.path, attempt.resume)
                self._current = runner
            self._publish(ENTRY_STARTED, index=run.index, total=n, procedure=run.procedure,
                          path=str(attempt.path), label=run.label, note=attempt.note,
                          run_id=runner.run_id)
            status, reason = self._execute(runner)
            with self._lock:
                self._current = None
                state.update(run.index, status=status, reason=reason,
                             rows=main_rows(attempt.path), finished=now_iso())
            self._publish(ENTRY_FINISHED, index=run.index, total=n, status=status,
                          reason=reason, procedure=run.procedure)
            if queue.plots and attempt.path.exists():
                self._figures.append(write_figures(attempt.path, queue.out / "figures"))
            if status == ABORTED:
                return f"run {run.index} aborted ({reason}); --resume continues it"
            if status != COMPLETED and queue.on_failure == "stop":
                return f"run {run.index} {status} and on_failure = \"stop\""
        return ""

    def _runner(self, run: QueueRun, path, resume: bool) -> Runner:
        """A runner armed for ``run`` (called holding the lock, so an abort is never lost)."""
        runner = Runner(run.instance, self._lab.station, path, resume=resume,
                        metadata=run.metadata, bus=self._lab.bus)
        self._lab._follow(run.instance)
        try:
            runner.prepare()
        except LabctlError as err:
            runner.status, runner.reason = FAILED, str(err)
        return runner

    @staticmethod
    def _execute(runner: Runner) -> tuple[str, str]:
        if runner.status == FAILED:  # refused before it started
            return runner.status, runner.reason
        runner.execute()
        return runner.status, runner.reason

    def _reconcile(self) -> None:
        """After a stop: a run still marked running takes its file's status."""
        for r in self._state.runs:
            if r["status"] == RUNNING and r.get("path"):
                try:
                    info = read_info(r["path"])
                except LabctlError:
                    continue
                with self._lock:
                    self._state.update(r["index"], status=info["status"],
                                       reason=info["reason"], rows=main_rows(r["path"]))
