"""A pymeasure adapter that connects a real driver to a simulated instrument.

Timeouts and disconnects surface as pyvisa's own VisaIOError, exactly as from a real
VISA session, so drivers and roles handle both the same way.
"""

from __future__ import annotations

from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

from labctl.sim.instrument import SimDisconnected, SimInstrument, SimTimeout


class SimSession:
    """The VISA session's controls a driver uses: the timeout (ms) and device clear."""

    def __init__(self, instrument: SimInstrument, timeout: float):
        self.instrument = instrument
        self.timeout = timeout

    @property
    def timeout(self) -> float:
        return self.instrument.read_timeout * 1e3

    @timeout.setter
    def timeout(self, ms: float) -> None:
        self.instrument.read_timeout = ms / 1e3

    def clear(self) -> None:
        try:
            self.instrument.device_clear()
        except SimDisconnected:
            raise VisaIOError(constants.StatusCode.error_connection_lost) from None


class SimAdapter(Adapter):
    """Adapter whose other end is a :class:`SimInstrument` (no VISA library needed)."""

    def __init__(self, instrument: SimInstrument, timeout: float = 5000.0, **kwargs):
        super().__init__(**kwargs)
        self.instrument = instrument
        self.connection = SimSession(instrument, timeout)

    def close(self) -> None:
        """Nothing to release: the simulated instrument lives with the station."""

    def _io(self, func, *args):
        try:
            return func(*args)
        except SimTimeout:
            raise VisaIOError(constants.StatusCode.error_timeout) from None
        except SimDisconnected:
            raise VisaIOError(constants.StatusCode.error_connection_lost) from None

    def _write(self, command: str, **kwargs) -> None:
        self._io(self.instrument.write, command)

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._io(self.instrument.write, content.decode(errors="replace"))

    def _read(self, **kwargs) -> str:
        return self._io(self.instrument.read)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        return self._io(self.instrument.read_bytes, count)

    def flush_read_buffer(self) -> None:
        self.instrument._pending.clear()

    def __repr__(self) -> str:
        return f"<SimAdapter {self.instrument.name}>"
