"""The Lab: the one owner of a station for its lifetime (the CLI, the GUI and scripts use it).

It opens the station and takes its lock (a second process is refused, naming the holder),
runs procedures and queues in worker threads, lets one owner drive the outputs at a time
(a run, a queue, or manual control), publishes one event stream (runs, queue, station), and
shuts down safely: :meth:`Lab.close` aborts what runs, ramps every output down and releases
every instrument session and the lock. It installs no signal handler (see
:mod:`labctl.lab.signals`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import labctl.station
from labctl.config import StationConfig, default_sim_station, load_station
from labctl.diskspace import check_output
from labctl.errors import UserInputError
from labctl.events import OUTPUT, OWNER, READING, EventBus, Subscriber, station_event
from labctl.lab.handles import RunHandle, RunResult
from labctl.lab.queue_run import QueueHandle, open_state
from labctl.lab.reading import ReadingTracker, StationReading, read_instruments
from labctl.lab.runs import default_run_path, make_procedure
from labctl.lab.signals import Interrupt, wait_aborting
from labctl.locks import ExclusiveLock, station_lock
from labctl.procedure import Procedure
from labctl.queue import Queue, load_queue
from labctl.resuming import resumable_procedure
from labctl.runner import Runner
from labctl.station import Station
from labctl.units import format_value, parse_value

log = logging.getLogger(__name__)
OUTPUT_ROLES = ("shno_source", "gate", "field")
OUTPUT_UNITS = {"shno_source": "A", "gate": "V", "field": "T"}
_open_labs: weakref.WeakSet = weakref.WeakSet()  # Lab and RemoteLab


class StationBusy(UserInputError):
    """Another owner (a run, a queue, manual control) drives the station: one line, exit 2."""


class LabClosed(UserInputError):
    """The lab was closed: its station is released."""


def open_lab(station: str | Path | None = None, *, sim: bool = False,
             config: StationConfig | None = None) -> Lab:
    """Open a station (a station file, the built-in simulated one, or a config) as a Lab."""
    if sum((station is not None, bool(sim), config is not None)) != 1:
        raise UserInputError("open_lab: give exactly one of a station file, sim=True or config")
    if sim:
        config = default_sim_station()
    elif station is not None:
        config = load_station(station)
    locks = station_locks(config)
    try:
        for lock in locks:
            lock.acquire()
        st = labctl.station.open_station(config)  # looked up here: tests spy on it
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return Lab(config, st, locks)


def station_locks(config: StationConfig) -> list[ExclusiveLock]:
    """The locks that make a station exclusive: one per VISA address of a real station, one
    per station file of a simulated one (the same file is the same station)."""
    if config.simulated:
        match = re.fullmatch(r"station file '(.+)'", config.source)
        key = str(Path(match.group(1)).resolve()) if match else config.source or config.name
        return [station_lock(f"sim:{key}", config.name)]
    instruments = (config.shno_source, config.gate, config.spectrum, config.field.supply,
                   config.field.gaussmeter)
    return [station_lock(f"visa:{address}", config.name)
            for address in sorted({i.address for i in instruments})]


class Owned:
    """What a lab tells of itself wherever it runs (here: Lab; in its own process: RemoteLab):
    who drives the station, whether it is closed, and its events."""

    _owner: str | None = None
    _closed = False
    bus: EventBus

    @property
    def owner(self) -> str | None:
        """Who drives the station: None, "run", "queue" or "manual"."""
        return self._owner

    @property
    def busy(self) -> bool:
        return self._owner is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every event (runs, queue, station); returns a function that unsubscribes."""
        return self.bus.subscribe(callback)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._owner or "idle")
        return f"<{type(self).__name__} {self.config.name!r} {state}>"


class Lab(Owned):
    """One station, owned by this object until :meth:`close` (use it as a context manager)."""

    def __init__(self, config: StationConfig, station: Station,
                 locks: list[ExclusiveLock] | None = None):
        self.config = config
        self.station = station  # direct use bypasses the ownership checks: for tests, experts
        self.bus = EventBus()
        self._locks = locks or []
        self._cv = threading.Condition()
        self._owner: str | None = None
        self._workers: set[threading.Thread] = set()
        self._run: RunHandle | None = None
        self._queue: QueueHandle | None = None
        self._closed = False
        self._tracker = ReadingTracker()
        self.bus.subscribe(self._tracker)
        station.observe_outputs(self._on_output)
        _open_labs.add(self)

    # ---- ownership ------------------------------------------------------------------------
    def _claim(self, owner: str, wait: bool = False) -> None:
        with self._cv:
            if self._closed:
                raise LabClosed(f"station '{self.config.name}': the lab is closed")
            if wait:
                self._cv.wait_for(lambda: self._owner is None)
            elif self._owner is not None:
                raise StationBusy(f"station '{self.config.name}' is busy: {self._describe()} "
                                  "owns it; wait for it to end or abort it")
            self._owner = owner
        self.bus.publish(station_event(OWNER, owner=owner))

    def _release(self, owner: str) -> None:
        with self._cv:
            if self._owner != owner:
                return
            self._owner = None
            self._workers.discard(threading.current_thread())
            self._cv.notify_all()
        self.bus.publish(station_event(OWNER, owner=None))

    def _describe(self) -> str:
        if self._owner == "run" and self._run is not None:
            return f"a run ({self._run.procedure.name} -> {self._run.path})"
        if self._owner == "queue" and self._queue is not None:
            return f"a queue ({self._queue.queue.path})"
        return f"{self._owner} control"

    @contextmanager
    def _manual(self, wait: bool = False) -> Iterator[None]:
        self._claim("manual", wait=wait)
        try:
            self.station.stop.clear()
            yield
        finally:
            self._release("manual")

    def _on_output(self, role: str, level: float, target: float, unit: str) -> None:
        self.bus.publish(station_event(OUTPUT, role=role, level=level, target=target,
                                       unit=unit, done=level == target))

    def _follow(self, procedure: Procedure) -> None:
        self._tracker.follow(getattr(procedure, "readings", {}))

    # ---- runs -----------------------------------------------------------------------------
    def start(self, procedure: str | type[Procedure] | Procedure,
              parameters: dict[str, Any] | None = None, *, out: str | Path = "runs",
              path: str | Path | None = None, sample: str = "", device: str = "",
              operator: str = "", comment: str = "", keep_outputs: bool = False) -> RunHandle:
        """Start a procedure (a name, a class or an instance) in a worker thread.

        Parameters are SI values (or text such as "2 mA"); the run file goes to ``path``, or
        to a new file in ``out``. With ``keep_outputs`` a completed run leaves the outputs
        where they are (an aborted or failed one always ramps down).
        """
        proc = make_procedure(procedure, parameters)
        metadata = {"sample": sample, "device": device, "operator": operator,
                    "comment": comment}
        target = Path(path) if path is not None else default_run_path(out, proc.name)
        return self._start_runner(proc, target, False, metadata, keep_outputs)

    def run(self, procedure: str | type[Procedure] | Procedure,
            parameters: dict[str, Any] | None = None, **options: Any) -> RunResult:
        """Start a procedure and wait for it; Ctrl-C aborts it, ramps down, records why.

        After such an abort KeyboardInterrupt is raised again, so that a script stops there.
        """
        handle = self.start(procedure, parameters, **options)
        return _finish_waiting(handle)

    def resume(self, path: str | Path, *, keep_outputs: bool = False) -> RunHandle:
        """Continue an interrupted run from its last complete row, into the same file."""
        proc = resumable_procedure(path)  # status, layout and procedure checked first
        return self._start_runner(proc, Path(path), True, None, keep_outputs)

    def _start_runner(self, proc: Procedure, path: Path, resume: bool,
                      metadata: dict[str, Any] | None, keep_outputs: bool) -> RunHandle:
        proc.check_station(self.config)  # bad input touches nothing, busy or not
        check_output(path, proc.schema(), proc.planned_points(), resume=resume)
        self._claim("run")
        thread = None
        try:
            runner = Runner(proc, self.station, path, resume=resume, metadata=metadata,
                            keep_outputs=keep_outputs, bus=self.bus)
            runner.on_done = lambda: self._release("run")
            self._run = handle = RunHandle(runner)
            self._follow(proc)
            runner.prepare()
            thread = threading.Thread(target=named(runner.execute, f"run-{proc.name}"),
                                      name=f"run-{proc.name}", daemon=True)
            self._workers.add(thread)
            thread.start()
        except BaseException:
            if thread is None or not thread.is_alive():  # started: it releases when it ends
                self._release("run")
            raise
        return handle

    # ---- queues ---------------------------------------------------------------------------
    def start_queue(self, queue: str | Path | Queue, resume: bool = False) -> QueueHandle:
        """Start an overnight queue (a queue file, checked whole first) in a worker thread."""
        if not isinstance(queue, Queue):
            queue = load_queue(queue)
        mine = self.config.model_dump(exclude={"source"})
        if queue.station.model_dump(exclude={"source"}) != mine:
            raise UserInputError(f"queue file '{queue.path}': its station "
                                 f"({queue.station.source}) is not this lab's "
                                 f"({self.config.source})")
        state, note = open_state(queue, resume)
        self._claim("queue")
        handle = None
        try:
            queue.out.mkdir(parents=True, exist_ok=True)
            state.save()
            self._queue = handle = QueueHandle(self, queue, state, note)
            handle.start()
            self._workers.add(handle._thread)
        except BaseException:
            if handle is None or handle._thread is None:  # started: it releases at its end
                self._release("queue")
            raise
        return handle

    def abort(self, reason: str = "aborted by user") -> None:
        """Abort the run or the queue in progress, if any (manual control is left alone)."""
        if self._owner == "queue" and self._queue is not None:
            self._queue.abort(reason)
        elif self._owner == "run" and self._run is not None:
            self._run.abort(reason)

    # ---- manual control -------------------------------------------------------------------
    def ramp(self, role: str, value: float | str, compliance: float | str | None = None
             ) -> float:
        """Ramp an output ("shno_source" A, "gate" V, "field" T) by the station's safe ramp.

        Values are SI numbers or texts with units ("1.2 mA", "650 mT"). Refused
        (StationBusy) while a run or a queue owns the station. Returns the level reached
        (the measured field for "field").
        """
        if role not in OUTPUT_ROLES:
            raise UserInputError(f"unknown output {role!r} (known: {', '.join(OUTPUT_ROLES)})")
        value = _quantity(value, OUTPUT_UNITS[role], role)
        if compliance is not None:
            compliance = _quantity(compliance, "A", "compliance")
        with self._manual():
            if role == "shno_source":
                return self.station.shno_source.ramp_to(value)
            if role == "gate":
                return self.station.gate.ramp_to(value, compliance)
            return self.station.field.set_field(value)

    def read_station(self) -> StationReading:
        """Every output and read-back; while a run owns the station, derived from its events."""
        with self._cv:
            if self._owner in ("run", "queue"):
                return dataclasses.replace(self._tracker.reading, derived=True)
            self._check_open()
            reading = read_instruments(self.station)
            self._tracker.reset(reading)
        self.bus.publish(station_event(READING, reading=reading))
        return reading

    def read_memristor(self, v_read: float = 0.1, compliance: float = 100e-6) -> float:
        """The memristor's resistance (ohm), read at ``v_read`` (≤ 0.2 V) with a compliance."""
        from procedures.memristor_ops import read_resistance

        with self._manual():
            # the stripe's current flows under the memristor's bottom electrode and biases the
            # read (a 3.9 GOhm HRS reads 47 GOhm at 1.2 mA): asked, never assumed
            shno = self.station.shno_source.read_state()
            if shno.output and abs(float(shno.level)) > 1e-9:
                now = format_value(float(shno.level), "A" if shno.function == "current" else "V")
                raise UserInputError(f"the memristor is read with I_SHNO at zero (its source is "
                                     f"at {now}): ramp it down first, lab.ramp('shno_source', 0)")
            return read_resistance(self.station.gate, v_read, compliance)

    def acquire_spectrum(self, settings: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """One analyzer sweep with ``settings`` (f_start, f_stop, points, rbw, vbw, averages):
        (frequency in Hz, trace in dBm)."""
        with self._manual():
            self.station.spectrum.configure(**settings)
            return self.station.spectrum.acquire()

    def ramp_down(self) -> list[str]:
        """Ramp every output to zero, aborting whatever runs first; failures as text."""
        if threading.current_thread() in self._workers:
            self.abort("ramp-down requested")  # the worker ramps down as it ends
            return []
        self._stop_everything("ramp-down requested")
        with self._manual(wait=True):
            return self.station.ramp_down()

    # ---- closing --------------------------------------------------------------------------
    def _stop_everything(self, reason: str) -> None:
        self.abort(reason)
        self.station.request_stop()  # a manual ramp in another thread stops after its step
        for handle in (self._queue, self._run):
            if handle is not None:
                handle.wait()

    def _check_open(self) -> None:
        if self._closed:
            raise LabClosed(f"station '{self.config.name}': the lab is closed")

    def close(self) -> list[str]:
        """Abort what runs, ramp every output down, release the instruments and the lock.

        A Ctrl-C while closing does not cut the ramp-down short (it is raised afterwards).
        """
        if self._closed:
            return []
        if threading.current_thread() in self._workers:
            raise RuntimeError("Lab.close() from a run's own thread would wait for itself; "
                               "abort the run there and close the lab from another thread")

        def shut() -> list[str]:
            self._stop_everything("the lab was closed")
            with self._cv:
                self._cv.wait_for(lambda: self._owner is None)
                self._closed = True
            return self.station.close()

        try:
            return _shielded(shut)
        finally:
            for lock in self._locks:
                lock.release()
            _open_labs.discard(self)


def named(target: Callable[[], Any], name: str) -> Callable[[], Any]:
    """``target``, in a thread the operating system knows by ``name`` too (top -H, py-spy,
    /proc/PID/task/TID/comm, the GUI benchmark): Python 3.11 tells it only its own name."""

    def run() -> Any:
        with contextlib.suppress(OSError):  # not Linux: the name stays Python's
            Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])
        return target()

    return run


def _finish_waiting(handle: RunHandle) -> RunResult:
    if wait_aborting(handle):
        raise Interrupt(handle.reason)
    return handle.result()


def _shielded(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread and wait for it; a KeyboardInterrupt is raised after it ends."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, name="lab-close")
    thread.start()
    interrupted: BaseException | None = None
    while thread.is_alive():
        try:
            thread.join(0.1)
        except KeyboardInterrupt as exc:
            interrupted = interrupted or exc
    if "error" in box:
        raise box["error"]
    if interrupted is not None:
        raise interrupted
    return box.get("value")


@atexit.register
def _close_open_labs() -> None:
    """A script that ends without closing its lab still leaves the station safe."""
    for lab in list(_open_labs):
        try:
            lab.close()
        except Exception:
            log.exception("closing %r at exit failed", lab)



def _quantity(value: float | str, unit: str, name: str) -> float:
    """An SI number as it is, a text with units ("1.2 mA") parsed and checked against ``unit``."""
    if isinstance(value, str):
        return parse_value(value, unit, name)
    return value
