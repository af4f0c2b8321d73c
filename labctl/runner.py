"""The runner: executes a procedure in a worker thread, writes every row, publishes events.

It owns pause and abort. Whatever ends a run (completion, abort, Ctrl-C, SIGTERM, an error)
the station's outputs are ramped to zero first, then the run file is closed with its status
and reason.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from labctl import __version__
from labctl.errors import Interrupted, LabctlError
from labctl.events import (
    FINISHED,
    LOG,
    POINT,
    PROGRESS,
    RESULTS,
    ROW,
    STARTED,
    EventBus,
    RunEvent,
    Subscriber,
)
from labctl.procedure import Procedure, Results, Row, RunContext
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING, RunFile

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.1  # s between progress events


class Runner:
    """Run one procedure on a station into one run file."""

    def __init__(self, procedure: Procedure, station, path: str | Path, *, resume: bool = False):
        self.procedure = procedure
        self.station = station
        self.path = Path(path)
        self.resume = resume
        self.bus = EventBus()
        self.run_id = uuid.uuid4().hex
        self.status = "pending"
        self.reason = ""
        self.results: dict[str, Any] = {}
        self.rows = 0
        self._thread: threading.Thread | None = None
        self._abort_reason = ""
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._done = threading.Event()
        self._runfile: RunFile | None = None

    # ---- control (any thread) ---------------------------------------------------------------
    def subscribe(self, callback: Subscriber):
        return self.bus.subscribe(callback)

    def start(self) -> None:
        self.procedure.check_station(self.station.config)  # before any instrument is touched
        self._thread = threading.Thread(target=self._run, name=f"run-{self.procedure.name}")
        self._thread.start()

    def run(self) -> str:
        """Start and wait until finished; returns the status."""
        self.start()
        self.wait()
        return self.status

    def pause(self) -> None:
        self._running.clear()
        self._log("info", "paused")

    def resume_run(self) -> None:
        self._running.set()
        self._log("info", "resumed")

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def abort(self, reason: str = "aborted by user") -> None:
        """Stop after the step in progress; outputs ramp down, the file records ``reason``."""
        if not self._abort_reason:
            self._abort_reason = reason
        self.station.request_stop()
        self._running.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it has. Never aborts the run on a timeout."""
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # ---- worker thread ----------------------------------------------------------------------
    def _log(self, level: str, message: str) -> None:
        getattr(log, level if level in ("debug", "info", "warning", "error") else "info")(
            "%s: %s", self.procedure.name, message)
        if self._runfile is not None and not self._runfile.closed:
            self._runfile.log(level, message)
        self.bus.publish(RunEvent(LOG, self.run_id, {"level": level, "message": message}))

    def _metadata(self) -> dict[str, Any]:
        st = self.station
        return {
            "run_id": self.run_id,
            "procedure": self.procedure.name,
            "parameters": self.procedure.values,
            "station": st.config.to_toml_dict(),
            "instruments": st.identities(),
            "snapshot": st.snapshot(),
            "software_version": __version__,
            "planned_points": self.procedure.planned_points() or -1,
            "host": socket.gethostname(),
        }

    def _open(self) -> RunFile:
        schema = self.procedure.schema()
        if self.resume:
            return RunFile.resume(self.path, schema)
        return RunFile.create(self.path, schema, self._metadata())

    def _run(self) -> None:
        station = self.station
        station.stop.clear()
        status, reason = FAILED, ""
        generator = None
        planned = self.procedure.planned_points()
        try:
            self.status = RUNNING
            self._runfile = rf = self._open()
            start = rf.rows()
            self.rows = start
            self.bus.publish(RunEvent(STARTED, self.run_id, {
                "path": str(self.path), "procedure": self.procedure.name,
                "parameters": dict(self.procedure.values), "schema": rf.schema,
                "planned": planned, "start": start}))
            self._log("info", f"{'resumed at row ' + str(start) if self.resume else 'started'}"
                              f" -> {self.path}")
            ctx = RunContext(station, start=start, runfile=rf, log=self._log)
            generator = self.procedure.execute(ctx)
            t0 = time.perf_counter()
            last_progress = 0.0
            for item in generator:
                if isinstance(item, Results):
                    self.results.update(item.values)
                    self.bus.publish(RunEvent(RESULTS, self.run_id, {"values": item.values}))
                elif isinstance(item, Row):
                    i = rf.append(item.values, item.stream)
                    self.bus.publish(RunEvent(ROW, self.run_id, {
                        "stream": item.stream, "index": i, "values": item.values}))
                else:
                    i = rf.append(item)
                    self.rows = i + 1
                    self.bus.publish(RunEvent(POINT, self.run_id, {
                        "index": i, "values": item, "planned": planned}))
                    now = time.perf_counter()
                    if now - last_progress >= PROGRESS_INTERVAL or self.rows == planned:
                        last_progress = now
                        elapsed = now - t0
                        self.bus.publish(RunEvent(PROGRESS, self.run_id, {
                            "done": self.rows, "planned": planned, "elapsed": elapsed,
                            "rate": (self.rows - start) / elapsed if elapsed > 0 else 0.0}))
                if not self._running.is_set():
                    self._running.wait()
                if self._abort_reason:
                    raise Interrupted(self._abort_reason)
            if self._abort_reason:  # the procedure stopped early because of the abort
                raise Interrupted(self._abort_reason)
            status, reason = COMPLETED, "all points measured"
        except Interrupted as err:
            status, reason = ABORTED, self._abort_reason or str(err)
        except LabctlError as err:
            status, reason = FAILED, str(err)
        except Exception as err:  # a bug or an unexpected library error: record it, stay safe
            log.exception("run failed")
            status, reason = FAILED, f"{type(err).__name__}: {err}"
        finally:
            if generator is not None:
                generator.close()
            self._finish(status, reason)

    def _finish(self, status: str, reason: str) -> None:
        failures = self.station.ramp_down()
        if failures:
            reason = f"{reason}; RAMP-DOWN FAILED: {'; '.join(failures)}"
            if status == COMPLETED:
                status = FAILED
        self.status, self.reason = status, reason
        rf = self._runfile
        try:
            if rf is not None:
                self._log("info" if status == COMPLETED else "warning",
                          f"{status}: {reason} (outputs ramped down)")
                problem = rf.close(status, reason, self.results)  # never raises
                if problem:  # e.g. a full disk: the rows are safe, the outcome is not recorded
                    reason = self.reason = f"{reason}; {problem}"
        finally:
            self.bus.publish(RunEvent(FINISHED, self.run_id, {
                "status": status, "reason": reason, "path": str(self.path), "rows": self.rows}))
            self._done.set()
