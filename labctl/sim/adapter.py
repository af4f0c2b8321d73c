"""A pymeasure adapter that connects a real driver to a simulated instrument.

Timeouts and disconnects surface as pyvisa's own VisaIOError, exactly as from a real
VISA session, so drivers and roles handle both the same way.
"""

from __future__ import annotations

from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

from labctl.sim.instrument import SimDisconnected, SimInstrument, SimTimeout

SIM_FAULTS = (SimTimeout, SimDisconnected)


def _visa_error(err: Exception) -> VisaIOError:
    """The VISA error a real session raises for a simulated fault."""
    if isinstance(err, SimTimeout):
        return VisaIOError(constants.StatusCode.error_timeout)
    return VisaIOError(constants.StatusCode.error_connection_lost)


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

    # each exchange calls the simulated instrument directly (a helper around the call costs
    # an extra Python call per message); its faults become the VISA errors a session raises
    def _write(self, command: str, **kwargs) -> None:
        try:
            self.instrument.write(command)
        except SIM_FAULTS as err:
            raise _visa_error(err) from None

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._write(content.decode(errors="replace"))

    def _read(self, **kwargs) -> str:
        try:
            return self.instrument.read()
        except SIM_FAULTS as err:
            raise _visa_error(err) from None

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        try:
            return self.instrument.read_bytes(count)
        except SIM_FAULTS as err:
            raise _visa_error(err) from None

    def flush_read_buffer(self) -> None:
        self.instrument._pending.clear()

    def __repr__(self) -> str:
        return f"<SimAdapter {self.instrument.name}>"
