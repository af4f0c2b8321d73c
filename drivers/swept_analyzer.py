"""Swept spectrum analyzers in general: settings, one averaged single sweep waited for with
``*OPC?``, and trace 1 as a binary REAL,32 (IEEE 488.2) block. Models subclass it.
"""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from labctl.errors import InstrumentError

FREQUENCY_FORMAT = "%.12g"  # Hz, integer-exact up to 1 THz
# a trace decoded with the wrong byte order gives 1e27-type values or NaN; a real one after a
# 20-35 dB amplifier lies well inside this band (dBm)
PLAUSIBLE_DBM = (-250.0, 60.0)


def strict_integer(value, values):
    """Validator: an integer within [min(values), max(values)]; raise otherwise."""
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"Value of {value!r} is not an integer")
    return int(strict_range(value, values))


def read_ieee_block(instrument, dtype: str) -> np.ndarray:
    """Read one IEEE-488.2 definite-length block (and its terminator) as float32 values."""

    def fail(detail: str) -> InstrumentError:
        instrument.adapter.flush_read_buffer()  # never leave half a block for the next read
        return InstrumentError(instrument.name, instrument.last_command, detail)

    head = instrument.read_bytes(2)
    if head[:1] != b"#" or not head[1:2].isdigit():
        raise fail(f"expected an IEEE-488.2 binary block, got {head!r}")
    digits = int(head[1:2])
    if digits == 0:
        raise fail("indefinite-length binary block (#0) not supported")
    size_text = instrument.read_bytes(digits)
    if not size_text.isdigit():
        raise fail(f"bad binary block length {size_text!r}")
    size = int(size_text)
    itemsize = np.dtype(dtype).itemsize
    if size % itemsize:
        raise fail(f"binary block of {size} bytes is not a whole number of {dtype} values")
    # payload and terminator in one read: every read costs a round trip through the adapter
    data = instrument.read_bytes(size + 1)
    if len(data) != size + 1:
        raise fail(f"binary block truncated: {max(len(data) - 1, 0)} of {size} bytes")
    if data[-1:] != b"\n":
        raise fail(f"binary block not followed by a newline but {data[-1:]!r}")
    payload = memoryview(data)[:size]
    return np.frombuffer(payload, dtype=dtype).astype(np.float32)


def _plausible_dbm(trace: np.ndarray) -> bool:
    """Finite, within PLAUSIBLE_DBM, and no tiny non-zero value: swapped bytes turn -85 dBm
    into 6e-41 (a denormal) or 3e27, neither of which is a level."""
    low, high = PLAUSIBLE_DBM
    lowest, highest = float(trace.min()), float(trace.max())  # NaN if any is NaN
    if not (low < lowest and highest < high):
        return False
    if highest < -1e-30 or lowest > 1e-30:  # all of one sign and none tiny (a real trace)
        return True
    return not ((np.abs(trace) < 1e-30) & (trace != 0)).any()


class SweptAnalyzer(SCPIMixin, Instrument):
    """Sweep and trace logic shared by the swept spectrum analyzers (contract SpectrumAnalyzer).

    A subclass declares the SCPI properties ``start_frequency``, ``stop_frequency``,
    ``sweep_points``, ``resolution_bandwidth``, ``video_bandwidth``, ``detector``,
    ``average_type``, ``trace_mode``, ``average_count``, ``reference_level``,
    ``continuous_sweep`` and ``sweep_time``, plus the class constants below.
    """

    SINGLE_SWEEP = ":INIT:IMM;*OPC?"
    TRACE_QUERY = ""  # sets the binary format and asks for trace 1 in one message
    FORMAT_QUERY = ":FORM?"
    BYTE_ORDER_QUERY = ":FORM:BORD?"
    TRACE_DTYPE = "<f4"
    # the model's detector names and allowed ranges, from its programming manual
    DETECTORS: dict[str, str] = {}
    MIN_SPAN = 10.0  # Hz
    POINTS: tuple[int, int]
    RBW: tuple[float, float]  # Hz
    VBW: tuple[float, float]  # Hz
    AVERAGES: tuple[int, int]
    REFERENCE_LEVEL: tuple[float, float]  # dBm
    max_frequency: float  # Hz, set per unit from its frequency option
    # margin on the expected acquisition time before a sweep counts as timed out
    TIMEOUT_FACTOR = 1.5
    TIMEOUT_MARGIN = 2.0  # s

    _acquisition_time: float | None = None  # s, one sweep times the averages
    # what the instrument really uses (RBW and VBW are quantised to the model's steps)
    settings_used: dict | None = None
    STATION_OPTIONS = {"max_frequency": float}

    def configure_sweep(self, f_start: float, f_stop: float, points: int, rbw: float,
                        vbw: float, averages: int, detector: str = "average",
                        reference_level: float = -20.0) -> None:
        """Single-sweep mode with power averaging of trace 1; every value is checked first."""
        if not f_stop > f_start:
            raise ValueError(f"f_stop = {f_stop:g} Hz must be above f_start = {f_start:g} Hz")
        if getattr(self, "max_frequency", None) is None:
            self.set_max_frequency(self.read_frequency_option())
        checks = [
            (strict_range, f_start, (0.0, self.max_frequency - self.MIN_SPAN)),
            (strict_range, f_stop, (self.MIN_SPAN, self.max_frequency)),
            (strict_integer, points, self.POINTS),
            (strict_range, rbw, self.RBW),
            (strict_range, vbw, self.VBW),
            (strict_integer, averages, self.AVERAGES),
            (strict_discrete_set, detector, self.DETECTORS),
            (strict_range, reference_level, self.REFERENCE_LEVEL),
        ]
        for validator, value, allowed in checks:
            validator(value, allowed)
        self.continuous_sweep = False
        self.start_frequency = f_start
        self.stop_frequency = f_stop
        self.sweep_points = int(points)
        self.resolution_bandwidth = rbw
        self.video_bandwidth = vbw
        self.detector = detector
        self.average_type = "power"
        self.trace_mode = "average"
        self.average_count = int(averages)
        self.reference_level = reference_level
        sweep_time = self.read_sweep_time()
        self._acquisition_time = sweep_time * int(averages)
        self.settings_used = {
            "rbw": float(self.resolution_bandwidth), "vbw": float(self.video_bandwidth),
            "sweep_time": sweep_time, "detector": self.DETECTORS[detector],
            "average_type": "power", "averages": int(averages),
        }

    def read_transfer_format(self) -> str:
        """Trace format and byte order as the instrument has them (e.g. ``ASC``, ``NORM``)."""
        with self.session():
            return f"{self.ask(self.FORMAT_QUERY).strip()}, byte order " \
                   f"{self.ask(self.BYTE_ORDER_QUERY).strip()}"

    def read_frequency_option(self) -> float:
        """The unit's top frequency from its options (subclasses that can tell)."""
        raise InstrumentError(self.name, "*OPT?", "frequency range unknown: give it as "
                              "spectrum.options.max_frequency in the station file")

    def set_max_frequency(self, max_frequency: float) -> None:
        """Frequency limits of this unit's option (e.g. 26.5e9 for N9020A option 526)."""
        self.max_frequency = max_frequency
        self.start_frequency_values = (0.0, max_frequency - self.MIN_SPAN)
        self.stop_frequency_values = (self.MIN_SPAN, max_frequency)
        self.center_frequency_values = (self.MIN_SPAN / 2, max_frequency - self.MIN_SPAN / 2)
        self.span_values = (self.MIN_SPAN, max_frequency)

    def frequencies(self) -> np.ndarray:
        """Frequency axis (Hz) from the instrument's start, stop and points."""
        return np.linspace(self.start_frequency, self.stop_frequency, int(self.sweep_points))

    def read_sweep_time(self) -> float:
        """Duration of one sweep in s, as the instrument computes it."""
        return float(self.sweep_time)

    def single_sweep(self) -> None:
        """Start one sweep with its averages and wait (``*OPC?``) until it is complete."""
        with self.session():
            connection, old = self._lengthen_timeout()
            try:
                reply = self.ask(self.SINGLE_SWEEP).strip()
            finally:
                if connection is not None:
                    connection.timeout = old
        if reply.lstrip("+") != "1":
            raise InstrumentError(self.name, self.SINGLE_SWEEP,
                                  f"unexpected reply {reply!r} to *OPC?")

    def read_trace(self) -> np.ndarray:
        """Trace 1 in dBm as float32, transferred as a binary REAL,32 block.

        The query sets format and byte order itself (the instrument may have been left with
        others); a trace that is not finite and plausible dBm is refused, as a wrong byte
        order would otherwise be decoded silently into garbage.
        """
        with self.session():  # the query and its block are one exchange
            self.write(self.TRACE_QUERY)
            trace = read_ieee_block(self, self.TRACE_DTYPE)
        if trace.size and not _plausible_dbm(trace):
            raise InstrumentError(self.name, self.TRACE_QUERY,
                                  f"trace not plausible dBm (min {trace.min():g}, max "
                                  f"{trace.max():g}): wrong byte order or format?")
        return trace

    def _lengthen_timeout(self):
        """Lengthen the VISA timeout for a long (averaged) sweep: (session, timeout to
        restore), or (None, None) if it is long enough or the adapter has none."""
        connection = getattr(self.adapter, "connection", None)
        old = getattr(connection, "timeout", None)
        if self._acquisition_time is None or not isinstance(old, (int, float)):
            return None, None  # the adapter has no VISA timeout to adjust, or it is infinite
        needed = (self.TIMEOUT_FACTOR * self._acquisition_time + self.TIMEOUT_MARGIN) * 1e3
        if needed <= old:
            return None, None
        connection.timeout = needed
        return connection, old
