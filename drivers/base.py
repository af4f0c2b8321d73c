"""Mixin shared by every labctl driver: instrument faults become InstrumentError.

Any VISA failure (timeout, lost connection) or error-queue entry is raised as an
InstrumentError that names the instrument and the command it concerned.
"""

from __future__ import annotations

import contextlib

from pyvisa.errors import VisaIOError

from labctl.errors import InstrumentError


class LabInstrument:
    """Put first in the bases: ``class Keithley2450(LabInstrument, pymeasure...Keithley2450)``."""

    last_command: str = ""

    def write(self, command: str, **kwargs) -> None:
        self.last_command = command
        try:
            super().write(command, **kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, command, _describe(err)) from err

    def write_bytes(self, content: bytes, **kwargs) -> None:
        try:
            super().write_bytes(content, **kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, self.last_command, _describe(err)) from err

    def read(self, **kwargs) -> str:
        try:
            return super().read(**kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, self.last_command, _describe(err)) from err

    def read_bytes(self, count: int = -1, **kwargs) -> bytes:
        try:
            return super().read_bytes(count, **kwargs)
        except VisaIOError as err:
            raise InstrumentError(self.name, self.last_command, _describe(err)) from err

    def raise_errors(self) -> None:
        """Read the error queue; raise InstrumentError if it held anything."""
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
