"""Exceptions a user or an instrument can cause; the CLI turns them into one-line messages."""


class LabctlError(Exception):
    """Base class: anything the CLI reports as a one-line error."""

    exit_code = 1


class UserInputError(LabctlError):
    """Bad input from the user (station file, parameter, queue file): exit code 2."""

    exit_code = 2


class ConfigError(UserInputError):
    """A station file that cannot be used; the message names the file, key and value."""


class LimitError(UserInputError):
    """A request beyond a station safety limit; raised before anything is sent."""


class InstrumentError(LabctlError):
    """An instrument failed (timeout, error queue, disconnect); names instrument and command."""

    def __init__(self, instrument: str, command: str, detail: str):
        self.instrument = instrument
        self.command = command
        self.detail = detail
        super().__init__(f"{instrument}: {detail} (command {command!r})")


class Interrupted(LabctlError):
    """A ramp or run was interrupted by an abort request."""


class RunFileError(UserInputError):
    """A run file that cannot be read (corrupt, truncated, newer schema)."""


def did_you_mean(name: str, known) -> str:
    """`` (did you mean 'freq-current'?)`` for a misspelt name, else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
