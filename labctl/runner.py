"""The runner: executes a procedure against a station, writes every row, publishes events.

It owns pause and abort. Whatever ends a run (completion, abort, an error) the station's
outputs are ramped to zero first (unless a completed run was asked to keep them), then the
run file is closed with its status and reason. It installs no signal handler: the client
that owns the main thread turns Ctrl-C and SIGTERM into :meth:`Runner.abort`.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
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
    STATE,
    EventBus,
    RunEvent,
    Subscriber,
)
from labctl.procedure import Procedure, ProcedureError, Results, Row, RunContext
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING, RunFile

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.1  # s between progress events
PENDING, PAUSED, ABORTING, FINISHED_STATE = "pending", "paused", "aborting", "finished"
METADATA = ("sample", "device", "operator", "comment")  # text a lab stores with every run
# the run log's last line of every session that closes the file: the time the run took on
# the station's clock (a simulated station's virtual time; resumed runs add their sessions)
STATION_CLOCK = re.compile(r"station clock: (\S+) s this session$")

class Runner:
    """Run one procedure on a station into one run file."""

    def __init__(self, procedure: Procedure, station, path: str | Path, *, resume: bool = False,
                 metadata: dict[str, Any] | None = None, keep_outputs: bool = False,
                 bus: EventBus | None = None):
        self.procedure = procedure
        self.station = station
        self.path = Path(path)
        self.resume = resume
        self.metadata = {key: "" for key in METADATA} | dict(metadata or {})
        self.keep_outputs = keep_outputs
        self.bus = bus if bus is not None else EventBus()
        self.run_id = uuid.uuid4().hex
        self.state = PENDING
        self.status = "pending"
        self.reason = ""
        self.results: dict[str, Any] = {}
        self.rows = 0
        # called after the ramp-down and the file's close, before `finished` is published
        # (the lab releases the station there, so a subscriber may start the next run)
        self.on_done: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._abort_reason = ""
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._done = threading.Event()
        self._runfile: RunFile | None = None
        self._state_lock = threading.Lock()
        self._clock0 = 0.0  # the station clock when the run began (this session)

    # ---- control (any thread) ---------------------------------------------------------------
    def subscribe(self, callback: Subscriber):
        return self.bus.subscribe(callback)

    def prepare(self) -> None:
        """Check the parameters against the station; arm the station's stop event afresh.

        Called in the caller's thread, before the worker starts, so that bad input touches
        no instrument and an abort() that follows at once is never cleared by the worker.
        """
        self.procedure.check_station(self.station.config)
        self.station.stop.clear()

    def start(self) -> None:
        """Run in a new worker thread."""
        self.prepare()
        self._thread = threading.Thread(target=self.execute, name=f"run-{self.procedure.name}",
                                        daemon=True)
        self._thread.start()

    def run(self) -> str:
        """Start and wait until finished; returns the status."""
        self.start()
        self.wait()
        return self.status

    def pause(self) -> None:
        """Hold after the point in progress; outputs stay where they are."""
        if self._set_state(PAUSED, only_from=(PENDING, RUNNING)):
            self._running.clear()
            self._log("info", "paused")

    def unpause(self) -> None:
        if self._set_state(RUNNING, only_from=(PAUSED,)):
            self._running.set()
            self._log("info", "resumed")

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def abort(self, reason: str = "aborted by user") -> None:
        """Stop after the step in progress; outputs ramp down, the file records ``reason``.

        An abort that arrives while a finished run is ramping down still counts: the run is
        recorded as aborted (its rows are all kept, so a resume completes it).
        """
        if self._done.is_set():
            return
        if not self._abort_reason:
            self._abort_reason = reason
        self.station.request_stop()
        self._set_state(ABORTING, only_from=(PENDING, RUNNING, PAUSED))
        self._running.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it has. Never aborts the run on a timeout."""
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # ---- worker thread ----------------------------------------------------------------------
    def _set_state(self, state: str, only_from: tuple[str, ...]) -> bool:
        with self._state_lock:
            if self.state not in only_from:
                return False
            self.state = state
        self.bus.publish(RunEvent(STATE, self.run_id, {"state": state}))
        return True

    def _log(self, level: str, message: str) -> None:
        getattr(log, level if level in ("debug", "info", "warning", "error") else "info")(
            "%s: %s", self.procedure.name, message)
        if self._runfile is not None and not self._runfile.closed:
            self._runfile.log(level, message)
        self.bus.publish(RunEvent(LOG, self.run_id, {"level": level, "message": message}))

    def _metadata(self) -> dict[str, Any]:
        st = self.station
        return {
            **self.metadata,
            "run_id": self.run_id,
            "procedure": self.procedure.name,
            "parameters": self.procedure.values,
            "parameter_units": {p.name: p.unit for p in self.procedure.parameters},
            "result_units": dict(self.procedure.result_units),
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

    def execute(self) -> str:
        """Run in the calling thread until the run ends; returns the status."""
        status, reason = FAILED, ""
        generator = None
        planned = self.procedure.planned_points()
        self._clock0 = self.station.clock.now()
        try:
            if self._abort_reason:  # aborted before it started: touch nothing
                raise Interrupted(self._abort_reason)
            self.status = RUNNING
            self.station.read_faults.clear()
            self._runfile = rf = self._open()
            if self.station.read_faults:  # recorded in the file; a faulty instrument fails the run
                raise LabctlError("instrument fault at the start: "
                                  + "; ".join(self.station.read_faults))
            start = rf.rows()
            self.rows = start
            self.bus.publish(RunEvent(STARTED, self.run_id, {
                "path": str(self.path), "procedure": self.procedure.name,
                "parameters": dict(self.procedure.values), "schema": rf.schema,
                "planned": planned, "start": start,
                "metadata": {key: self.metadata.get(key, "") for key in METADATA}}))
            self._set_state(RUNNING, only_from=(PENDING,))
            self._log("info", f"{'resumed at row ' + str(start) if self.resume else 'started'}"
                              f" -> {self.path}")
            # an output left on by a front panel, another program or a crash, beyond what the
            # station allows, is made safe before the procedure drives anything
            for note in self.station.secure():
                self._log("warning", note)
            ctx = RunContext(self.station, start=start, runfile=rf, log=self._log)
            declared = {s.name: {q.name for q in s.quantities} for s in rf.schema.streams}
            main = rf.schema.main.name
            generator = self.procedure.execute(ctx)
            t0 = time.perf_counter()
            last_progress = 0.0
            for item in generator:
                if isinstance(item, Results):
                    self.results.update(item.values)
                    self.bus.publish(RunEvent(RESULTS, self.run_id, {"values": item.values}))
                elif isinstance(item, Row):
                    self._check_row(item.values, item.stream, declared)
                    i = rf.append(item.values, item.stream)
                    self.bus.publish(RunEvent(ROW, self.run_id, {
                        "stream": item.stream, "index": i, "values": item.values}))
                else:
                    self._check_row(item, main, declared)
                    # every instrument's error queue, once per point and before the point is
                    # written: a row measured under an instrument error must not look good
                    try:
                        self.station.check_errors()
                    except LabctlError as err:
                        self._fail_into(generator, err)
                    i = rf.append(item)
                    if i == start:  # the analyzer is set up by now: what it really uses
                        self._log_settings_used()
                    self.rows = i + 1
                    self.bus.publish(RunEvent(POINT, self.run_id, {
                        "index": i, "values": item, "planned": planned}))
                    now = time.perf_counter()
                    if now - last_progress >= PROGRESS_INTERVAL or self.rows == planned:
                        last_progress = now
                        self._progress(now - t0, start, planned)
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
        return self.status

    def _fail_into(self, generator, err: LabctlError) -> None:
        """Raise ``err`` inside the procedure, where it is met like a fault of its own (it may
        yield the analysis of the rows it measured); then raise it here."""
        try:
            item = generator.throw(err)
            while isinstance(item, Results):
                self.results.update(item.values)
                self.bus.publish(RunEvent(RESULTS, self.run_id, {"values": item.values}))
                item = next(generator)
        except StopIteration:
            pass
        raise err

    def _log_settings_used(self) -> None:
        """Record in the run log what the analyzer reports using (its RBW is quantised)."""
        used = getattr(getattr(self.station, "spectrum", None), "settings_used", None)
        if used:
            self._log("info", "analyzer uses " + ", ".join(f"{k} {v:g}" if isinstance(
                v, float) else f"{k} {v}" for k, v in used.items()))

    def _check_row(self, values: dict[str, Any], stream: str,
                   declared: dict[str, set[str]]) -> None:
        """A row must hold every quantity its stream declares (None: deliberately unmeasured)."""
        if stream not in declared:
            raise ProcedureError(f"{self.procedure.name}: row for undeclared stream {stream!r}")
        missing = sorted(declared[stream] - values.keys())
        if missing:
            raise ProcedureError(
                f"{self.procedure.name}: a row of stream '{stream}' lacks the declared "
                f"quantit{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")

    def _progress(self, elapsed: float, start: int, planned: int | None) -> None:
        rate = (self.rows - start) / elapsed if elapsed > 0 else 0.0
        remaining = (planned - self.rows) / rate if planned and rate > 0 else None
        self.bus.publish(RunEvent(PROGRESS, self.run_id, {
            "done": self.rows, "planned": planned, "elapsed": elapsed, "rate": rate,
            "remaining": remaining}))

    def _finish(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason
        try:
            if status == COMPLETED and self.keep_outputs:
                failures, kept = [], True
            else:
                failures, kept = self.station.ramp_down(), False
            if status == COMPLETED and self._abort_reason:  # arrived during the ramp-down
                status, reason = ABORTED, self._abort_reason
            # a fault met while ramping down (even one the retry got past) fails the run; an
            # output not confirmed at zero is said in capitals and never "ramped down"
            unconfirmed = [f for f in failures if "NOT CONFIRMED" in f]
            if failures:
                reason = f"{reason}; RAMP-DOWN FAILED: {'; '.join(failures)}"
                if status == COMPLETED:
                    status = FAILED
            self.status, self.reason = status, reason
            if unconfirmed:
                self._log("error", "OUTPUTS NOT CONFIRMED AT ZERO: " + "; ".join(unconfirmed))
            rf = self._runfile
            if rf is not None:
                outputs = ("OUTPUTS NOT CONFIRMED AT ZERO" if unconfirmed
                           else "outputs kept on request" if kept
                           else "outputs ramped down and confirmed at zero")
                self._log("info" if status == COMPLETED else "warning",
                          f"{status}: {reason} ({outputs})")
                elapsed = self.station.clock.now() - self._clock0
                self._log("info", f"station clock: {elapsed:.9g} s this session")
                problem = rf.close(status, reason, self.results)  # never raises
                if problem:  # e.g. a full disk: the rows are safe, the outcome is not recorded
                    reason = self.reason = f"{reason}; {problem}"
        finally:
            with self._state_lock:
                self.state = FINISHED_STATE
            try:
                if self.on_done is not None:
                    self.on_done()
            finally:
                self.bus.publish(RunEvent(FINISHED, self.run_id, {
                    "status": self.status, "reason": self.reason, "path": str(self.path),
                    "rows": self.rows}))
                self._done.set()


def station_seconds(log: list[bytes]) -> float | None:
    """The time a run took on its station's clock, from its log (None: not recorded, e.g. a
    session that was killed)."""
    total, found = 0.0, False
    for line in log:
        match = STATION_CLOCK.search(line.decode(errors="replace").rstrip())
        if match:
            try:
                total += float(match.group(1))
                found = True
            except ValueError:
                continue
    return total if found else None
