"""Base class of the simulated instruments: SCPI dispatch, error queue, command log, faults."""

from __future__ import annotations

import inspect
import random
import threading
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from labctl.clock import Clock
from labctl.config import FaultConfig
from labctl.sim.scpi import compile_pattern, normalize_header, scpi, split_message

# SCPI standard error codes the simulated instruments push to their error queue
UNDEFINED_HEADER = (-113, "Undefined header")
DATA_OUT_OF_RANGE = (-222, "Data out of range")
ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
QUERY_INTERRUPTED = (-410, "Query INTERRUPTED")
LOG_LENGTH = 200_000  # commands kept in a simulated instrument's log


class SimTimeout(Exception):
    """Raised by a read that gets no answer (the adapter turns it into a VISA timeout)."""


class SimDisconnected(Exception):
    """Raised on any I/O after the simulated instrument was disconnected."""


class SimCommandError(Exception):
    """A handler rejects a command; the code and message go to the error queue."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class CommandRecord(NamedTuple):
    """One entry of a simulated instrument's command log (a tuple: cheap to make, and every
    command of a run makes one)."""

    time: float  # virtual station time in s
    header: str
    args: str

    @property
    def command(self) -> str:
        """The header and arguments as received."""
        return f"{self.header} {self.args}".strip()


class CommandLog:
    """The most recent commands (bounded: an overnight run sends millions), read as
    CommandRecords. Kept as plain tuples of a float and two strings, which Python's garbage
    collector stops tracking: as NamedTuples, a run's tens of thousands of entries made
    each full collection slower (26 ms each at 100,000 objects, a few per run)."""

    def __init__(self, maxlen: int):
        self._entries: deque[tuple[float, str, str]] = deque(maxlen=maxlen)

    def add(self, time: float, header: str, args: str) -> None:
        self._entries.append((time, header, args))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CommandRecord]:
        return map(CommandRecord._make, self._entries)


class SimInstrument:
    """A simulated instrument that answers SCPI like its real model.

    Subclasses mark handler methods with ``@scpi(pattern)``; a handler gets the argument
    string and returns the response (str, bytes, or None for a command). Concrete models
    are built as ``Model(name, device, clock, faults, seed)`` where ``device`` is the
    :class:`labctl.sim.device.DeviceModel` they are wired to.
    """

    idn = "labctl,SimInstrument,0,0"
    error_code_ok = (0, "No error")

    def __init__(self, name: str, device, clock: Clock, faults: list[FaultConfig] | None = None,
                 seed: int = 0, power_up=None, options: dict | None = None):
        self.name = name
        # the state the instrument is found in (a [sim.power_up.*] table; None: the model's)
        self.power_up_state = power_up
        self.options = dict(options or {})
        self.device = device
        self.clock = clock
        self.faults = [f for f in (faults or []) if f.instrument == name]
        self._fault_rng = random.Random(seed)
        self.log = CommandLog(LOG_LENGTH)
        self.errors: deque[tuple[int, str]] = deque(maxlen=32)
        self._pending: bytearray = bytearray()
        self._swallow_next_response = False
        self._late = False  # the pending reply comes after the reader's timeout
        self._late_next_response = False
        self.read_timeout = 5.0  # s: the VISA timeout of the session (the adapter sets it)
        self.connected = True
        self.commands_received = 0
        self._lock = threading.RLock()
        self._handlers = self._collect_handlers()
        self._routes: dict[str, tuple] = {}
        self._messages: dict[str, list[tuple[str, str]]] = {}

    def _collect_handlers(self):
        handlers = []
        for _, method in inspect.getmembers(type(self), predicate=inspect.isfunction):
            for pattern in getattr(method, "_scpi_patterns", ()):
                handlers.append((compile_pattern(pattern), method))
        return handlers

    # ---- I/O, called by the adapter ------------------------------------------------
    def write(self, message: str) -> None:
        with self._lock:
            if not self.connected:
                raise SimDisconnected(self.name)
            self.commands_received += 1
            if self.faults:
                self._inject_faults(message)
                if not self.connected:
                    raise SimDisconnected(self.name)
            start = len(self._pending)  # replies of earlier messages are not joined to ours
            for header, args in self._messages.get(message) or self._parse(message):
                self.log.add(self.clock.now(), header, args)
                response = self._dispatch(header, args)
                if response is None:
                    continue
                if self._swallow_next_response:
                    continue  # the reply to this message is lost, all of it
                if self._late_next_response:
                    self._late_next_response = False
                    self._late = True
                data = response if isinstance(response, bytes) else str(response).encode()
                if len(self._pending) > start:
                    self._pending[-1:] = b";"  # several queries in one message: one reply line
                self._pending += data
                self._pending += b"\n"
            self._swallow_next_response = False

    def _await_reply(self) -> None:
        """Raise SimTimeout (after the reader's timeout) when no reply is there in time."""
        if not self.connected:
            raise SimDisconnected(self.name)
        if self._pending and self._late:
            # the reader gives up before the reply is ready; it stays in the output queue
            # and will answer the next query unless the session is cleared
            self._late = False
            self._wait(self.read_timeout)
            raise SimTimeout(self.name)
        if not self._pending:
            raise SimTimeout(self.name)

    def _wait(self, seconds: float) -> None:
        advance = getattr(self.clock, "advance", None)
        if advance is not None:
            advance(seconds)

    def device_clear(self) -> None:
        """IEEE 488.1 device clear: input and output queues emptied, the parser reset."""
        with self._lock:
            if not self.connected:
                raise SimDisconnected(self.name)
            self._pending.clear()
            self._late = self._late_next_response = self._swallow_next_response = False

    def read_bytes(self, count: int = -1) -> bytes:
        with self._lock:
            self._await_reply()
            if count is None or count < 0:
                count = len(self._pending)
            with memoryview(self._pending) as pending:  # one copy (a slice would be two)
                out = pending[:count].tobytes()
            del self._pending[:count]
            return out

    def read(self) -> str:
        with self._lock:
            self._await_reply()
            end = self._pending.find(b"\n")
            end = len(self._pending) if end < 0 else end + 1
            out = bytes(self._pending[:end])
            del self._pending[:end]
            return out.decode(errors="replace").rstrip("\r\n")

    # ---- dispatch ---------------------------------------------------------------------
    def _parse(self, message: str) -> list[tuple[str, str]]:
        """``split_message``, remembered for queries: a sweep asks the same few many times
        (settings carry values that change, and are parsed afresh)."""
        units = self._messages.get(message)
        if units is None:
            units = split_message(message)
            if "?" in message and len(self._messages) < 1024:  # bounded, whatever is sent
                self._messages[message] = units
        return units

    def _route(self, header: str) -> tuple:
        """The handler (and numeric suffix) of a header; remembered, since a sweep loop sends
        the same few headers thousands of times and scanning every pattern is slow."""
        route = self._routes.get(header)
        if route is not None:
            return route
        route = (None, None)
        normalized = normalize_header(header)
        for regex, method in self._handlers:
            m = regex.match(normalized)
            if m:
                suffixes = [s for s in m.groups() if s]
                if suffixes and "suffix" in inspect.signature(method).parameters:
                    route = (method, int(suffixes[0]))
                else:
                    route = (method, None)
                break
        if len(self._routes) < 1024:  # bounded, should something send endless new headers
            self._routes[header] = route
        return route

    def _dispatch(self, header: str, args: str):
        method, suffix = self._routes.get(header) or self._route(header)
        if method is None:
            self.errors.append(UNDEFINED_HEADER)
            return None
        try:
            return method(self, args) if suffix is None else method(self, args, suffix=suffix)
        except SimCommandError as err:
            self.errors.append((err.code, err.message))
        except (ValueError, IndexError):
            self.errors.append(ILLEGAL_PARAMETER)
        return None

    # ---- faults -----------------------------------------------------------------------
    def _inject_faults(self, message: str) -> None:
        for fault in self.faults:
            hit = fault.at_command == self.commands_received or (
                fault.probability > 0 and self._fault_rng.random() < fault.probability
            )
            if not hit:
                continue
            if fault.kind == "late":
                self._late_next_response = "?" in message
            elif fault.kind == "timeout":
                self._swallow_next_response = "?" in message
                if not self._swallow_next_response:
                    # a command that gets lost: the instrument never saw it
                    raise SimTimeout(self.name)
            elif fault.kind == "error":
                self.errors.append((fault.code, fault.message))
            elif fault.kind == "disconnect":
                self.connected = False
            elif fault.kind == "breakdown":
                self.on_breakdown_fault()

    # ---- IEEE 488.2 common commands, the same on every model -----------------------------
    @scpi("*IDN?")
    def _idn(self, args):
        return self.idn

    @scpi("*RST")
    def _rst(self, args):
        self.reset()

    @scpi("*CLS")
    def _cls(self, args):
        self.errors.clear()

    @scpi("*OPC?")
    def _opc(self, args):
        return "1"  # the simulated instruments complete every operation synchronously

    @scpi("*WAI")
    def _wai(self, args):
        return None

    def reset(self) -> None:
        """The model's *RST state."""

    def power_on(self) -> None:
        """The state the instrument is found in: *RST, then the power-up table if any."""
        self.reset()
        if self.power_up_state is not None:
            self.apply_power_up(self.power_up_state)

    def apply_power_up(self, state) -> None:
        """Put the instrument in a ``[sim.power_up.*]`` state (models that have one)."""

    def on_breakdown_fault(self) -> None:
        """Hook for devices that can break down (memristor behind a gate source)."""

    # ---- helpers for subclasses and tests ----------------------------------------------
    def commands(self, pattern: str | None = None) -> list[CommandRecord]:
        """The logged commands, optionally only those whose header matches a SCPI pattern."""
        if pattern is None:
            return list(self.log)
        regex = compile_pattern(pattern)
        return [r for r in self.log if regex.match(normalize_header(r.header))]

    def next_error(self) -> str:
        code, msg = self.errors.popleft() if self.errors else self.error_code_ok
        return f'{code},"{msg}"'

    @staticmethod
    def block(values: np.ndarray, datatype: str = "f", big_endian: bool = False) -> bytes:
        """An IEEE 488.2 definite-length binary block of the values (``#<n><length><data>``,
        as pyvisa's to_ieee_block makes it, with the data copied once: a trace is 40 kB)."""
        data = np.ascontiguousarray(values, dtype=(">" if big_endian else "<") + datatype)
        length = str(data.nbytes)
        if len(length) > 9:
            raise OverflowError(f"binary block of {length} bytes: too long for a header")
        return b"".join((f"#{len(length)}{length}".encode(), memoryview(data).cast("B")))
