"""The lab process: a Lab served over a pipe to the process that started it (the GUI's).

Why a process of its own: a run and a Qt window in one process share the GIL. The run lets go
of it several times per point (every HDF5 chunk write and flush), the window takes it each
time, and the run then waits for the window and for a CPU to be woken on: at 5,000 points/s
a run lost 40-65 % of its rate to a window in its process, and almost none of that was the
window's own CPU time. In a process of its own the run never waits for the window.

What crosses the pipe: calls (start, ramp, read_station, ...) with their replies, and the
lab's events, made light (:func:`light_events`) and sent in batches every
``SEND_INTERVAL`` by a thread of their own, so that publishing costs the run a deque append.
Points and rows reach the other process without their arrays: it reads them from the run
file, which holds them anyway.

When the other process ends, however it ends (a crash, a kill), this one aborts what runs,
ramps every output down, closes the lab and exits. Ctrl-C in the terminal is the GUI's to
handle (this process ignores SIGINT); SIGTERM sent to this process closes the lab the same way.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import signal
import threading
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from labctl.errors import LabctlError, UserInputError
from labctl.events import OUTPUT, POINT, PROGRESS, ROW, STARTED, RunEvent, latest_only
from labctl.lab.handles import RunHandle
from labctl.lab.lab import Lab, open_lab
from labctl.lab.queue_run import QueueHandle

log = logging.getLogger(__name__)
SEND_INTERVAL = 0.02  # s between batches of events: 50 wake-ups a second, whatever the rate
# what the other process may call, on the lab and on the handles it was given
LAB_CALLS = frozenset({"start", "resume", "start_queue", "abort", "ramp", "read_station",
                       "read_memristor", "acquire_spectrum", "ramp_down", "close"})
HANDLE_CALLS = {
    "run": frozenset({"pause", "unpause", "abort", "wait", "state", "status", "reason",
                      "results", "rows"}),
    "queue": frozenset({"abort", "wait", "entries", "status", "reason"}),
}


@dataclass(frozen=True)
class HandleInfo:
    """What a call that started something returns across the pipe: a handle's id and facts."""

    kind: str  # "run" or "queue"
    id: int
    path: str = ""
    run_id: str = ""
    procedure: str = ""


class Terminated(Exception):
    """SIGTERM reached the lab process."""


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the ramp-down
    raise Terminated(signal.Signals(signum).name)


def portable(err: BaseException) -> BaseException:
    """``err`` if it survives the pipe (pickle), else one of labctl's errors with its text."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        kind = UserInputError if isinstance(err, UserInputError) else LabctlError
        return kind(f"{type(err).__name__}: {err}")


def _small(values: dict[str, Any]) -> dict[str, Any]:
    """The scalars of a row (a spectrum stays in the run file)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()
            if np.ndim(v) == 0}


def light_events(events: list[RunEvent]) -> list[RunEvent]:
    """What the other process needs of ``events``: only the latest ramp step of each output,
    point and row of each run and stream, progress of each run; points and rows without
    arrays; started events saying that the rows are to be read from the run file."""
    out = []
    for event in latest_only(events, (OUTPUT, POINT, ROW, PROGRESS)):
        if event.kind in (POINT, ROW) and event.source == "run":
            event = replace(event, data={**event.data, "values": _small(event.data["values"])})
        elif event.kind == STARTED and event.source == "run":
            event = replace(event, data={**event.data, "rows_in_file": True})
        out.append(event)
    return out


class EventSender:
    """A subscriber that queues events; a thread sends them in batches (or :meth:`flush`)."""

    def __init__(self, send, interval: float = SEND_INTERVAL):
        self._send = send
        self._interval = interval
        self._events: deque[RunEvent] = deque()
        self._lock = threading.Lock()  # one batch at a time: batches stay in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="lab-events", daemon=True)
        self._thread.start()

    def __call__(self, event: RunEvent) -> None:
        self._events.append(event)

    def flush(self) -> None:
        """Send what is queued now (before a reply, so that its events arrive first)."""
        with self._lock:
            batch = []
            while self._events:
                batch.append(self._events.popleft())
            if batch:
                try:
                    self._send(("events", light_events(batch)))
                except (OSError, EOFError):
                    raise
                except Exception:  # an event that cannot cross must not stop the others
                    log.exception("events %s cannot be sent",
                                  sorted({e.kind for e in batch}))

    def _work(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except (OSError, EOFError):  # the other process is gone: the server notices
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class LabServer:
    """Serves one lab over ``conn`` until told to close or until the other end goes away."""

    def __init__(self, lab: Lab, conn):
        self.lab = lab
        self.conn = conn
        self._send_lock = threading.Lock()
        self.events = EventSender(self.send)
        self._unsubscribe = lab.subscribe(self.events)
        self._handles: dict[int, RunHandle | QueueHandle] = {}
        self._ids = itertools.count(1)
        self._closed = threading.Event()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def serve(self) -> None:
        """Answer calls until the lab is closed; close it when the other process is gone."""
        reason = "the GUI process ended"
        try:
            while not self._closed.is_set():
                try:
                    if not self.conn.poll(0.5):  # now and then: was the lab closed?
                        continue
                    message = self.conn.recv()
                except (EOFError, OSError):
                    break
                threading.Thread(target=self._answer, args=(message,), name="lab-call",
                                 daemon=True).start()
        except Terminated as err:
            reason = f"{err} received by the lab process"
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # nothing may cut the ramp-down short
            if not self._closed.is_set():
                log.warning("%s: aborting, ramping down, closing the lab", reason)
                self.lab.abort(reason)
                failures = self.lab.close()
                for failure in failures:
                    log.error("RAMP-DOWN FAILED: %s", failure)
            self.events.stop()
            self._unsubscribe()

    def _answer(self, message: tuple) -> None:
        _, call_id, target, name, args, kwargs = message
        try:
            value, ok = self._call(target, name, args, kwargs), True
        except BaseException as err:  # the caller's to see, as if the lab were local
            if not isinstance(err, LabctlError):
                log.exception("lab call %s failed", name)
            value, ok = portable(err), False
        try:
            self.events.flush()
            try:
                self.send(("reply", call_id, ok, value))
            except (OSError, EOFError):
                raise
            except Exception as err:  # a value that cannot cross: say so, never leave it waiting
                log.exception("the reply to %s cannot be sent", name)
                self.send(("reply", call_id, False, LabctlError(
                    f"the lab process cannot send the reply to {name}: {err}")))
        except (OSError, EOFError):
            pass  # the other process is gone; serve() closes the lab
        if ok and target is None and name == "close":
            self._closed.set()

    def _call(self, target: int | None, name: str, args: tuple, kwargs: dict) -> Any:
        if target is None:
            if name not in LAB_CALLS:
                raise UserInputError(f"the lab process does not answer {name!r}")
            value = getattr(self.lab, name)(*args, **kwargs)
        else:
            handle = self._handles.get(target)
            kind = "run" if isinstance(handle, RunHandle) else "queue"
            if handle is None or name not in HANDLE_CALLS[kind]:
                raise UserInputError(f"the lab process has no {name!r} for handle {target}")
            value = getattr(handle, name)
            if callable(value):
                value = value(*args, **kwargs)
        return self._describe(value)

    def _describe(self, value: Any) -> Any:
        """Handles become HandleInfo (the other process calls them by id)."""
        if isinstance(value, RunHandle):
            hid = next(self._ids)
            self._handles[hid] = value
            return HandleInfo("run", hid, str(value.path), value.run_id, value.procedure.name)
        if isinstance(value, QueueHandle):
            hid = next(self._ids)
            self._handles[hid] = value
            return HandleInfo("queue", hid, str(value.queue.path))
        return value


def serve(conn, station: str | None) -> None:
    """Open the lab (``station``: a station file, None: the built-in simulated station), say
    so or why not, serve it until it is closed or the other end goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        lab = open_lab(Path(station)) if station else open_lab(sim=True)
    except BaseException as err:
        conn.send(("failed", portable(err)))
        return
    try:
        conn.send(("ready", lab.config, lab.owner))
    except OSError:  # the other process ended while the station opened (Ctrl-C): close it
        log.warning("the GUI process ended before the station was open: closing the lab")
        lab.close()
        return
    LabServer(lab, conn).serve()


def main(argv: list[str]) -> int:
    """``python -m labctl.lab FD [STATION_FILE]``: serve over the socket ``FD``."""
    logging.basicConfig(level=logging.WARNING, format="lab process: %(levelname)s %(message)s")
    conn = Connection(int(argv[1]))
    with conn:
        serve(conn, argv[2] if len(argv) > 2 else None)
    return 0
