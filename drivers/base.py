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
import inspect
import threading

from pymeasure.instruments.common_base import CommonBase, DynamicProperty
from pyvisa.errors import VisaIOError

from labctl.clock import Clock, RealClock
from labctl.errors import InstrumentError, LabctlError

_RESERVED_PREFIX = CommonBase._CommonBase__reserved_prefix  # pymeasure's, "___"
_NO_VALUE = object()


def _reserved_names(cls) -> list[str]:
    """The names pymeasure reserves for the dynamic properties of ``cls``."""
    params = sorted(set(CommonBase._fget_params_list + CommonBase._fset_params_list))
    return [f"{prop}_{param}" for prop, member in inspect.getmembers(cls)
            if isinstance(member, DynamicProperty) for param in params]


class _Reserved:
    """A reserved name of a pymeasure dynamic property: set per instance (stored where the
    property looks for it), never read back from one; read from the class, its default."""

    def __init__(self, name: str, default=_NO_VALUE):
        self.name = name
        self.default = default

    def __get__(self, obj, owner=None):
        if obj is not None:
            raise AttributeError(f"{self.name} is a reserved variable name and it cannot be read")
        return self if self.default is _NO_VALUE else self.default

    def __set__(self, obj, value) -> None:
        obj.__dict__[_RESERVED_PREFIX + self.name] = value


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


class LabInstrument:
    """Put first in the bases: ``class Keithley2450(LabInstrument, pymeasure...Keithley2450)``."""

    last_command: str = ""
    # the station's clock (a simulated station's is virtual): pacing and settling wait on it
    clock: Clock = RealClock()

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "_session_lock", threading.RLock())
        super().__init__(*args, **kwargs)

    # pymeasure's CommonBase hides the reserved names of its dynamic properties
    # (``<control>_values`` ...) behind a __getattribute__ and __setattr__ that call hasattr()
    # and scan a list on every attribute access: ~0.6 µs each, hundreds of accesses per point.
    # The same rule at no cost per access: Python's own attribute access, and each reserved
    # name a class attribute (a _Reserved guard) that refuses to be read from an instance
    # and stores what is set where the dynamic property looks for it.
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__getattribute__ = object.__getattribute__
        cls.__setattr__ = object.__setattr__
        for name in _reserved_names(cls):
            value = inspect.getattr_static(cls, name, _NO_VALUE)
            if not isinstance(value, _Reserved):
                setattr(cls, name, _Reserved(name, value))

    def _setup_special_names(self) -> list[str]:
        names = super()._setup_special_names()
        # pymeasure copies each reserved name's class value to the instance; a name without
        # one came through as its guard, which is no value
        for name in names:
            if isinstance(self.__dict__.get(_RESERVED_PREFIX + name), _Reserved):
                del self.__dict__[_RESERVED_PREFIX + name]
        return names

    def session(self) -> threading.RLock:
        """The lock of this instrument session (re-entrant): hold it for a sequence."""
        return self._session_lock

    # Every exchange holds the session's lock (taken in the method itself: a decorator's
    # extra call per exchange is measurable at a few dozen exchanges per point). Queries are
    # a write and a read, both inside one hold of the lock. The exchange is pymeasure's
    # (CommonBase.ask: write, wait, read; Instrument.write/read: the adapter's) written out
    # here, a layer of calls less on every message; tests/drivers/test_all_drivers.py checks
    # that no driver's pymeasure base changes those.
    def ask(self, command: str, query_delay: float | None = None) -> str:
        with self._session_lock:
            self.write(command)
            self.wait_for(query_delay)
            return self.read()

    def values(self, command: str, *args, **kwargs):
        with self._session_lock:
            try:
                return super().values(command, *args, **kwargs)
            except ValueError as err:  # a garbled or cut reply is the instrument's fault
                raise InstrumentError(self.name, command, f"unexpected reply ({err})") from err

    def binary_values(self, command: str, *args, **kwargs):
        with self._session_lock:
            return super().binary_values(command, *args, **kwargs)

    # the error-queue query, asked directly (it is read every point: pymeasure's property
    # machinery costs more than the exchange itself); None: the model's own check_errors
    ERROR_QUERY: str | None = None
    MAX_ERRORS = 64  # a queue that never empties is itself a fault

    def check_errors(self) -> list:
        if self.ERROR_QUERY is None:
            with self._session_lock:
                return super().check_errors()
        errors = []
        with self._session_lock:
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

    def write(self, command: str, **kwargs) -> None:
        with self._session_lock:
            self.last_command = command
            try:
                self.adapter.write(command, **kwargs)
            except VisaIOError as err:
                raise InstrumentError(self.name, command, _describe(err)) from err

    def write_bytes(self, content: bytes, **kwargs) -> None:
        with self._session_lock:
            try:
                self.adapter.write_bytes(content, **kwargs)
            except VisaIOError as err:
                raise InstrumentError(self.name, self.last_command, _describe(err)) from err

    def read(self, **kwargs) -> str:
        with self._session_lock:
            try:
                return self.adapter.read(**kwargs)
            except VisaIOError as err:
                raise self._read_failed(err) from err

    def read_bytes(self, count: int = -1, **kwargs) -> bytes:
        with self._session_lock:
            try:
                return self.adapter.read_bytes(count, **kwargs)
            except VisaIOError as err:
                raise self._read_failed(err) from err

    def _read_failed(self, err: VisaIOError) -> InstrumentError:
        # a reply that comes after the timeout would otherwise answer the next query: clear
        # the session so that every later read is the reply to its own query
        if "TMO" in (getattr(err, "abbreviation", "") or ""):
            with contextlib.suppress(InstrumentError):
                self.device_clear()
        return InstrumentError(self.name, self.last_command, _describe(err))

    def device_clear(self) -> None:
        """Device clear (IEEE 488.1): the instrument's input and output queues are emptied."""
        with self._session_lock:
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
        with self._session_lock:
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
