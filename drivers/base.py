"""Mixin shared by every labctl driver: instrument faults become InstrumentError.

Any VISA failure (timeout, lost connection) or error-queue entry is raised as an
InstrumentError that names the instrument and the command it concerned.

Every exchange with the instrument holds the session's lock, so two threads (a run and a
GUI read-back poller) can never interleave a write of one with the read of the other. A
sequence that must not be split (a query loop over the error queue, a configure-then-verify)
holds :meth:`LabInstrument.session` around it.
"""

from __future__ import annotations

import contextlib
import functools
import threading

from pyvisa.errors import VisaIOError

from labctl.clock import Clock, RealClock
from labctl.errors import InstrumentError, LabctlError

_LOCK_GUARD = threading.Lock()


class UnsafeCommand(LabctlError, NotImplementedError):
    """A pymeasure shortcut that would change an output outside labctl's safe ramps."""


def blocked(alternative: str):
    """A method that refuses, naming the safe alternative; nothing is sent."""

    def refuse(self, *args, **kwargs):
        raise UnsafeCommand(f"{self.name}: not allowed (it could change an output outside "
                            f"the station's safe ramps); use {alternative}")

    refuse.__doc__ = f"Blocked by labctl: use {alternative}."
    refuse.blocked = True
    return refuse


def read_only(control: property, alternative: str) -> property:
    """A pymeasure control whose query still works and whose setting is blocked."""
    return property(control.fget, blocked(alternative),
                    doc=f"{control.__doc__ or ''} (read-only in labctl: use {alternative})")


def blocked_property(alternative: str) -> property:
    """A pymeasure property (query or setting) blocked whole, e.g. one whose query acts."""
    refuse = blocked(alternative)
    return property(refuse, refuse, doc=f"Blocked by labctl: use {alternative}.")


def _locked(method):
    """Run ``method`` holding the instrument session's lock."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.session():
            return method(self, *args, **kwargs)

    return wrapper


class LabInstrument:
    """Put first in the bases: ``class Keithley2450(LabInstrument, pymeasure...Keithley2450)``."""

    last_command: str = ""
    # the station's clock (a simulated station's is virtual): pacing and settling wait on it
    clock: Clock = RealClock()

    def session(self) -> threading.RLock:
        """The lock of this instrument session (re-entrant): hold it for a sequence."""
        lock = self.__dict__.get("_session_lock")
        if lock is None:
            with _LOCK_GUARD:
                lock = self.__dict__.setdefault("_session_lock", threading.RLock())
        return lock

    # queries are a write and a read: both inside one hold of the lock
    @_locked
    def ask(self, command: str, *args, **kwargs) -> str:
        return super().ask(command, *args, **kwargs)

    @_locked
    def values(self, command: str, *args, **kwargs):
        try:
            return super().values(command, *args, **kwargs)
        except ValueError as err:  # a garbled or cut reply is the instrument's fault
            raise InstrumentError(self.name, command, f"unexpected reply ({err})") from err

    @_locked
    def binary_values(self, command: str, *args, **kwargs):
        return super().binary_values(command, *args, **kwargs)

    # the error-queue query, asked directly (it is read every point: pymeasure's property
    # machinery costs more than the exchange itself); None: the model's own check_errors
    ERROR_QUERY: str | None = None
    MAX_ERRORS = 64  # a queue that never empties is itself a fault

    @_locked
    def check_errors(self) -> list:
        if self.ERROR_QUERY is None:
            return super().check_errors()
        errors = []
        while len(errors) < self.MAX_ERRORS:
            reply = self.ask(self.ERROR_QUERY).strip()
            code, _, message = reply.partition(",")
            try:
                number = int(float(code))
            except ValueError:
                raise InstrumentError(self.name, self.ERROR_QUERY,
                                      f"unexpected reply {reply!r}") from None
            if number == 0:
                break
            errors.append((number, message.strip().strip('"')))
        return errors

    @_locked
    def write(self, command: str, **kwargs) -> None:
        self.last_command = command
        try:
            super().write(command, **kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, command, _describe(err)) from err

    @_locked
    def write_bytes(self, content: bytes, **kwargs) -> None:
        try:
            super().write_bytes(content, **kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, self.last_command, _describe(err)) from err

    @_locked
    def read(self, **kwargs) -> str:
        try:
            return super().read(**kwargs)
        except VisaIOError as err:
            raise self._read_failed(err) from err

    @_locked
    def read_bytes(self, count: int = -1, **kwargs) -> bytes:
        try:
            return super().read_bytes(count, **kwargs)
        except VisaIOError as err:
            raise self._read_failed(err) from err

    def _read_failed(self, err: VisaIOError) -> InstrumentError:
        # a reply that comes after the timeout would otherwise answer the next query: clear
        # the session so that every later read is the reply to its own query
        if "TMO" in (getattr(err, "abbreviation", "") or ""):
            with contextlib.suppress(InstrumentError):
                self.device_clear()
        return InstrumentError(self.name, self.last_command, _describe(err))

    @_locked
    def device_clear(self) -> None:
        """Device clear (IEEE 488.1): the instrument's input and output queues are emptied."""
        connection = getattr(self.adapter, "connection", None)
        try:
            clear = getattr(connection, "clear", None)
            if callable(clear):
                clear()
            with contextlib.suppress(NotImplementedError):
                self.adapter.flush_read_buffer()
        except VisaIOError as err:
            raise InstrumentError(self.name, "device clear", _describe(err)) from err

    def raise_errors(self) -> None:
        """Read the error queue; raise InstrumentError if it held anything."""
        with self.session():
            command = self.last_command
            errors = self.check_errors()
        if errors:
            text = "; ".join(_format_error(e) for e in errors)
            raise InstrumentError(self.name, command, f"instrument error queue: {text}")


def _format_error(entry) -> str:
    """``-222,"Data out of range"`` from whatever shape check_errors returned."""
    if isinstance(entry, list | tuple) and len(entry) > 1:
        code = entry[0]
        with contextlib.suppress(TypeError, ValueError):
            code = int(float(code))
        return f"{code},{entry[1]}"
    return str(entry)


def _describe(err: VisaIOError) -> str:
    name = getattr(err, "abbreviation", "") or type(err).__name__
    if "TMO" in name:
        return "timeout: no answer from the instrument"
    if "CONN_LOST" in name:
        return "connection lost (instrument disconnected?)"
    return f"VISA error {name}: {err.description}"
