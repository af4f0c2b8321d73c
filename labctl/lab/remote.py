"""A Lab in a process of its own, driven from this one: what `labctl gui` opens a station with.

:class:`RemoteLab` has the Lab's interface as the GUI uses it (``config``, ``owner``,
``closed``, ``subscribe``, ``start``, ``start_queue``, ``abort``, ``ramp``, ``read_station``,
``read_memristor``, ``acquire_spectrum``, ``ramp_down``, ``close``); the lab itself runs in
the process :mod:`labctl.lab.server` serves it from, so that a run never waits for this
process's GIL (see there). Calls block their caller until the lab process answers; an error
there is raised here as the same exception. Events arrive in this process's thread
``lab-receiver`` and are published to subscribers from it, light (see
:func:`labctl.lab.server.light_events`): a point event tells which row is complete, the row
itself is in the run file.

If the lab process ends without being closed, every call waiting for it raises
:class:`~labctl.lab.LabClosed` and subscribers receive a ``lost`` event; the lab process, for
its part, ramps down and closes the lab when this process ends without closing it.
"""

from __future__ import annotations

import itertools
import logging
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from labctl.errors import LabctlError, UserInputError
from labctl.events import LOST, OWNER, EventBus, station_event
from labctl.lab.handles import RunResult
from labctl.lab.lab import LabClosed, Owned, _open_labs
from labctl.lab.server import HandleInfo
from labctl.procedure import Procedure

log = logging.getLogger(__name__)
START_TIMEOUT = 300.0  # s for the lab process to open the station (real instruments are slow)


class _Call:
    """A call waiting for its reply."""

    def __init__(self):
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


class RemoteLab(Owned):
    """A station opened by a lab process of its own (``sim=True`` or a station file)."""

    def __init__(self, station: str | Path | None = None, *, sim: bool = False):
        if (station is None) == (not sim):
            raise UserInputError("RemoteLab: give either a station file or sim=True")
        mine, theirs = socket.socketpair()
        # a fresh interpreter (never a fork of a process that runs Qt), in a session of its
        # own: Ctrl-C in the terminal is this process's to handle, not the lab's
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labctl.lab", str(theirs.fileno()),
             *([str(station)] if station is not None else [])],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._conn = Connection(mine.detach())
        try:
            ready = self._conn.poll(START_TIMEOUT)
            message = self._conn.recv() if ready else ("failed", LabctlError(
                f"the lab process did not open the station in {START_TIMEOUT} s"))
        except EOFError:
            message = ("failed", LabctlError("the lab process ended before opening the "
                                             "station (see its messages above)"))
        if message[0] == "failed":
            self._conn.close()
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            raise message[1]
        _, self.config, self._owner = message
        self.bus = EventBus()
        self._closed = False
        self._closing = False  # close() was called: the end of the lab process is expected
        self._lost = ""
        self._calls: dict[int, _Call] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # sending, and the table of calls waiting
        self._receiver = threading.Thread(target=self._receive, name="lab-receiver",
                                          daemon=True)
        self._receiver.start()
        _open_labs.add(self)  # closed at exit, as a Lab is

    # ``owner`` (as of the last event or reply from the lab process), ``busy``, ``closed``,
    # ``subscribe`` (events are published from the thread ``lab-receiver``): see Owned

    # ---- calls ----------------------------------------------------------------------------
    def _call(self, target: int | None, name: str, *args: Any, **kwargs: Any) -> Any:
        call = _Call()
        with self._lock:
            if self._closed:
                raise LabClosed(f"station '{self.config.name}': the lab is closed"
                                + (f" ({self._lost})" if self._lost else ""))
            call_id = next(self._ids)
            self._calls[call_id] = call
            try:
                self._conn.send(("call", call_id, target, name, args, kwargs))
            except (OSError, EOFError):
                del self._calls[call_id]
                raise LabClosed(f"station '{self.config.name}': the lab process is gone") \
                    from None
        call.done.wait()
        if not call.ok:
            raise call.value
        return self._handle(call.value)

    def _handle(self, value: Any) -> Any:
        if isinstance(value, HandleInfo):
            return (RemoteRunHandle if value.kind == "run" else RemoteQueueHandle)(self, value)
        return value

    def _receive(self) -> None:
        try:
            while True:
                message = self._conn.recv()
                if message[0] == "events":
                    for event in message[1]:
                        if event.kind == OWNER:
                            self._owner = event.data.get("owner")
                        self.bus.publish(event)
                elif message[0] == "reply":
                    with self._lock:
                        call = self._calls.pop(message[1])
                    call.ok, call.value = message[2], message[3]
                    call.done.set()
        except (EOFError, OSError):
            pass
        except Exception:  # a message that makes no sense: let go of the lab process (it
            log.exception("message from the lab process not understood")  # ramps down)
            self._conn.close()
        self._gone()

    def _gone(self) -> None:
        """The lab process ended: fail the calls waiting, tell subscribers if unexpected."""
        with self._lock:
            expected = self._closed or self._closing
            self._closed = True
            waiting, self._calls = list(self._calls.values()), {}
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        if not expected:
            self._lost = f"the lab process ended unexpectedly (exit code {code})"
            log.error("%s", self._lost)
        for call in waiting:
            call.ok, call.value = False, LabClosed(f"station '{self.config.name}': "
                                                   f"{self._lost or 'the lab was closed'}")
            call.done.set()
        self._owner = None
        if not expected:
            self.bus.publish(station_event(OWNER, owner=None))
            self.bus.publish(station_event(LOST, reason=self._lost))

    # ---- the Lab's interface --------------------------------------------------------------
    def start(self, procedure: str | type[Procedure] | Procedure,
              parameters: dict[str, Any] | None = None, **options: Any) -> RemoteRunHandle:
        """As :meth:`Lab.start`; an instance travels as its class and parameter values."""
        if isinstance(procedure, Procedure):
            procedure, parameters = type(procedure), {**procedure.values, **(parameters or {})}
        return self._call(None, "start", procedure, parameters, **options)

    def resume(self, path: str | Path, *, keep_outputs: bool = False) -> RemoteRunHandle:
        return self._call(None, "resume", path, keep_outputs=keep_outputs)

    def start_queue(self, queue: str | Path, resume: bool = False) -> RemoteQueueHandle:
        return self._call(None, "start_queue", queue, resume)

    def abort(self, reason: str = "aborted by user") -> None:
        self._call(None, "abort", reason)

    def ramp(self, role: str, value: float, compliance: float | None = None) -> float:
        return self._call(None, "ramp", role, value, compliance)

    def read_station(self):
        return self._call(None, "read_station")

    def read_memristor(self, v_read: float = 0.1, compliance: float = 100e-6) -> float:
        return self._call(None, "read_memristor", v_read, compliance)

    def acquire_spectrum(self, settings: dict[str, Any]):
        return self._call(None, "acquire_spectrum", settings)

    def ramp_down(self) -> list[str]:
        return self._call(None, "ramp_down")

    def close(self) -> list[str]:
        """Abort what runs, ramp every output down, close the lab; the lab process exits."""
        if self._closed:
            return []
        self._closing = True
        try:
            failures = self._call(None, "close")
        except LabClosed:
            failures = []
        with self._lock:
            self._closed = True
        self._conn.close()  # the lab process sees the end of the pipe and exits
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            log.error("the lab process %d did not end within 60 s of closing", self.process.pid)
        _open_labs.discard(self)
        return failures

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, pid {self.process.pid}>"


def _asked(name: str) -> property:
    """An attribute of a handle in the lab process, asked for each time it is read."""
    return property(lambda self: self._ask(name))


class _RemoteHandle:
    """A handle in the lab process, called by its id."""

    def __init__(self, lab: RemoteLab, info: HandleInfo):
        self._lab, self._id = lab, info.id
        self.path = Path(info.path)

    def _ask(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._lab._call(self._id, name, *args, **kwargs)

    status = _asked("status")
    reason = _asked("reason")

    def abort(self, reason: str = "aborted by user") -> None:
        self._ask("abort", reason)

    def wait(self, timeout: float | None = None) -> bool:
        """True once it has ended."""
        return self._ask("wait", timeout)


class RemoteRunHandle(_RemoteHandle):
    """A run in the lab process, as :class:`~labctl.lab.RunHandle`."""

    def __init__(self, lab: RemoteLab, info: HandleInfo):
        super().__init__(lab, info)
        self.run_id = info.run_id
        self.procedure_name = info.procedure

    state = _asked("state")  # pending, running, paused, aborting or finished
    results = _asked("results")
    rows = _asked("rows")

    def pause(self) -> None:
        self._ask("pause")

    def unpause(self) -> None:
        self._ask("unpause")

    def result(self) -> RunResult:
        return RunResult(self.path, self.status, self.reason, dict(self.results))

    def __repr__(self) -> str:
        return f"<RemoteRunHandle {self.procedure_name} -> {self.path}>"


class RemoteQueueHandle(_RemoteHandle):
    """A queue in the lab process, as :class:`~labctl.lab.QueueHandle`."""

    entries = _asked("entries")
