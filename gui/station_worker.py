"""One worker thread for everything the GUI asks of the station by hand.

Manual ramps, read-backs, memristor reads and monitor sweeps wait for each other here, one at a
time and in order (the Lab lets one manual action drive the station at a time), and never in
the GUI thread: a 20-second magnet ramp does not freeze the window. Results and errors come
back to the GUI thread through a queued signal. ``ramp everything down`` does not queue behind
them: it runs at once in its own thread (see :meth:`StationWorker.ramp_down`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal

log = logging.getLogger(__name__)


class StationWorker(QObject):
    """Runs submitted jobs in order in one thread; callbacks run in the GUI thread."""

    finished = pyqtSignal(object, object, object)  # on_done, on_error, (result | exception)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: queue.Queue = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.running: str = ""  # key of the job in progress ("" if idle)
        self.finished.connect(self._deliver)
        self._thread = threading.Thread(target=self._work, name="gui-station", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Exception], None] | None = None, key: str = "") -> bool:
        """Queue ``fn``; a job whose ``key`` is already queued is not queued twice (polls)."""
        with self._lock:
            if key and key in self._pending:
                return False
            if key:
                self._pending.add(key)
        self._jobs.put((key, fn, on_done, on_error))
        return True

    def pending(self, key: str) -> bool:
        with self._lock:
            return key in self._pending

    def idle(self) -> bool:
        return not self.running and self._jobs.empty()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            key, fn, on_done, on_error = job
            self.running = key or "job"
            try:
                outcome: Any = fn()
            except Exception as err:  # reported to the GUI, never lost in this thread
                outcome = err
            finally:
                with self._lock:
                    self._pending.discard(key)
                self.running = ""
            try:
                self.finished.emit(on_done, on_error, outcome)
            except RuntimeError:  # the window is gone
                return

    @staticmethod
    def _deliver(on_done, on_error, outcome) -> None:
        if isinstance(outcome, Exception):
            if on_error is not None:
                on_error(outcome)
            else:
                log.error("station job failed: %s", outcome)
        elif on_done is not None:
            on_done(outcome)

    def ramp_down(self, lab, on_done: Callable[[list[str]], None]) -> None:
        """``lab.ramp_down()`` at once in its own thread: it aborts a run first and stops a
        manual ramp in progress after its step, whatever is queued here."""

        def work() -> None:
            try:
                failures = lab.ramp_down()
            except Exception as err:
                failures = [str(err)]
            with contextlib.suppress(RuntimeError):  # the window is gone
                self.finished.emit(on_done, None, failures)

        threading.Thread(target=work, name="gui-ramp-down", daemon=True).start()

    def stop(self) -> None:
        self._jobs.put(None)
