"""Simulated swept spectrum analyzers: Keysight X-series and R&S FSV, spectrum from the device.

A sweep (``INIT:IMM``) asks the device model for the displayed trace and advances the
virtual clock by the sweep time the settings imply; ``*OPC?`` then answers at once.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from labctl.sim.instrument import (
    DATA_OUT_OF_RANGE,
    ILLEGAL_PARAMETER,
    SimCommandError,
    SimInstrument,
)
from labctl.sim.scpi import parse_bool, parse_number, scpi

_UNITS = {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6, "MAHZ": 1e6, "GHZ": 1e9, "DBM": 1.0,
          "S": 1.0, "MS": 1e-3, "US": 1e-6}


def _number(arg: str, low: float, high: float) -> float:
    """A numeric argument with an optional unit suffix (``8 GHz``); -222 outside [low, high]."""
    text = arg.strip().upper().replace(" ", "")
    scale = 1.0
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)][-1:].isdigit():
            text, scale = text[: -len(unit)], _UNITS[unit]
            break
    value = parse_number(text, low, high) * scale
    if not low <= value <= high:
        raise SimCommandError(*DATA_OUT_OF_RANGE)
    return value


@cache
def _forms(mnemonic: str) -> tuple[str, str]:
    return "".join(ch for ch in mnemonic if not ch.islower()), mnemonic.upper()


def _keyword(arg: str, mnemonics: tuple[str, ...]) -> str:
    """The short form of a character argument given in short or long form (``AVERage``)."""
    a = arg.strip().upper()
    for m in mnemonics:
        short, long = _forms(m)
        if a in (short, long):
            return short
    raise SimCommandError(*ILLEGAL_PARAMETER)


class SimSweptAnalyzer(SimInstrument):
    """What the two analyzers share; subclasses set the model's limits, names and presets."""

    F_MAX = 26.5e9
    MIN_SPAN = 10.0
    POINTS = (1, 40001)
    RBW = (1.0, 8e6)
    VBW = (1.0, 50e6)
    AVERAGES = (1, 10000)
    REFERENCE_LEVEL = (-170.0, 30.0)
    NUMBER = "{:.12g}"
    # SCPI mnemonic -> name the device model uses (it knows power and log averaging only;
    # voltage averaging, whose noise bias lies between the two, is shown as power)
    DETECTORS = {"AVERage": "average", "POSitive": "peak", "SAMPle": "sample",
                 "NEGative": "negative"}
    AVERAGE_TYPES = {"RMS": "power", "LOG": "log", "SCALar": "power"}
    TRACE_MODES = ("WRITe", "AVERage", "MAXHold", "MINHold")
    PRESET: dict = {}

    # FORM:BORD as this model names it -> big-endian? (the names mean opposite things on
    # the two makers' instruments); the *RST value
    BYTE_ORDERS = {"NORM": True, "SWAP": False}
    DEFAULT_BYTE_ORDER = "NORM"
    RBW_STEPS: tuple[float, ...] = ()  # mantissas of the RBWs the model can set, per decade
    OPTIONS = ""  # *OPT? reply

    def __init__(self, name, device, clock, faults=None, seed=0, power_up=None, options=None):
        super().__init__(name, device, clock, faults, seed, power_up, options)
        self._detector_names = {_keyword(m, (m,)): v for m, v in self.DETECTORS.items()}
        self._average_names = {_keyword(m, (m,)): v for m, v in self.AVERAGE_TYPES.items()}
        self.F_MAX = float(self.options.get("max_frequency", self.F_MAX))
        self.power_on()

    def apply_power_up(self, state) -> None:
        self.data_format = {"ascii": "ASC", "real32": "REAL,32", "real64": "REAL,64"}[
            state.format]
        if state.byte_order is not None:
            self.big_endian = self.BYTE_ORDERS[state.byte_order[:4].upper()]

    def quantize_rbw(self, rbw: float) -> float:
        """The RBW the model really uses for a request: the nearest of its steps."""
        if not self.RBW_STEPS:
            return rbw
        decade = 10.0 ** np.floor(np.log10(rbw))
        candidates = [m * decade * k for m in self.RBW_STEPS for k in (0.1, 1.0, 10.0)]
        candidates = [c for c in candidates if self.RBW[0] <= c <= self.RBW[1]]
        return float(min(candidates, key=lambda c: abs(np.log(c / rbw))))

    def reset(self) -> None:
        """Settings after *RST: continuous sweeps, ASCII transfer."""
        self.start, self.stop = self.PRESET["start"], self.F_MAX
        self.points = self.PRESET["points"]
        self.rbw, self.vbw = self.PRESET["rbw"], self.PRESET["vbw"]
        self.averages = self.PRESET["averages"]
        self.average_type = self.PRESET["average_type"]
        self.detector = self.PRESET["detector"]
        self.trace_mode = "WRIT"
        self.reference_level = self.PRESET["reference_level"]
        self.continuous = True
        self.data_format = "ASC"
        self.big_endian = self.BYTE_ORDERS[self.DEFAULT_BYTE_ORDER]
        self._changed()

    def _changed(self) -> None:
        self._trace: np.ndarray | None = None  # the displayed trace is stale
        self._sweep_time: float | None = None

    # ---- the sweep ----------------------------------------------------------------------
    def _sweep_count(self) -> int:
        return max(1, self.averages) if self.trace_mode == "AVER" else 1

    def sweep(self) -> np.ndarray:
        """Run one (averaged) sweep: trace from the device, clock advanced by its duration."""
        n = self._sweep_count()
        self._trace = self.device.spectrum(
            self.start, self.stop, self.points, self.rbw, self.vbw, n,
            detector=self._detector_names[self.detector],
            average_type=self._average_names[self.average_type])
        self.clock.advance(self.sweep_time() * n)
        return self._trace

    def sweep_time(self) -> float:
        """Duration of one sweep in s (cached until a setting changes)."""
        if self._sweep_time is None:
            self._sweep_time = float(self.device.sweep_time(
                self.start, self.stop, self.points, self.rbw, self.vbw, 1))
        return self._sweep_time

    # ---- common commands ----------------------------------------------------------------
    @scpi(":SYSTem:ERRor[:NEXT]?")
    def _error(self, args):
        return self.next_error()

    @scpi("*OPT?")
    def _options(self, args):
        return self.OPTIONS

    @scpi(":FORMat:BORDer")
    def _set_byte_order(self, args):
        self.big_endian = self.BYTE_ORDERS[_keyword(args, ("NORMal", "SWAPped"))]

    @scpi(":FORMat:BORDer?")
    def _byte_order(self, args):
        return next(k for k, big in self.BYTE_ORDERS.items() if big == self.big_endian)

    @scpi(":INITiate[:IMMediate]")
    def _init(self, args):
        self.sweep()

    @scpi(":INITiate:CONTinuous")
    def _set_continuous(self, args):
        self.continuous = parse_bool(args)

    @scpi(":INITiate:CONTinuous?")
    def _continuous(self, args):
        return "1" if self.continuous else "0"

    # ---- frequency axis -----------------------------------------------------------------
    @scpi("[:SENSe]:FREQuency:STARt")
    def _set_start(self, args):
        self.start = _number(args, 0.0, self.F_MAX - self.MIN_SPAN)
        self.stop = max(self.stop, self.start + self.MIN_SPAN)  # the stop moves along
        self._changed()

    @scpi("[:SENSe]:FREQuency:STOP")
    def _set_stop(self, args):
        self.stop = _number(args, self.MIN_SPAN, self.F_MAX)
        self.start = min(self.start, self.stop - self.MIN_SPAN)
        self._changed()

    @scpi("[:SENSe]:FREQuency:CENTer")
    def _set_center(self, args):
        half = (self.stop - self.start) / 2
        center = _number(args, half, self.F_MAX - half)
        self.start, self.stop = center - half, center + half
        self._changed()

    @scpi("[:SENSe]:FREQuency:SPAN")
    def _set_span(self, args):
        center = (self.start + self.stop) / 2
        span = _number(args, self.MIN_SPAN, 2 * min(center, self.F_MAX - center))
        self.start, self.stop = center - span / 2, center + span / 2
        self._changed()

    @scpi("[:SENSe]:FREQuency:STARt?")
    def _start(self, args):
        return self.NUMBER.format(self.start)

    @scpi("[:SENSe]:FREQuency:STOP?")
    def _stop(self, args):
        return self.NUMBER.format(self.stop)

    @scpi("[:SENSe]:FREQuency:CENTer?")
    def _center(self, args):
        return self.NUMBER.format((self.start + self.stop) / 2)

    @scpi("[:SENSe]:FREQuency:SPAN?")
    def _span(self, args):
        return self.NUMBER.format(self.stop - self.start)

    # ---- bandwidths, points, averaging, detector, level -------------------------------
    @scpi("[:SENSe]:BANDwidth[:RESolution]")
    @scpi("[:SENSe]:BWIDth[:RESolution]")
    def _set_rbw(self, args):
        self.rbw = self.quantize_rbw(_number(args, *self.RBW))
        self._changed()

    @scpi("[:SENSe]:BANDwidth[:RESolution]?")
    @scpi("[:SENSe]:BWIDth[:RESolution]?")
    def _rbw(self, args):
        return self.NUMBER.format(self.rbw)

    @scpi("[:SENSe]:BANDwidth:VIDeo")
    @scpi("[:SENSe]:BWIDth:VIDeo")
    def _set_vbw(self, args):
        self.vbw = _number(args, *self.VBW)
        self._changed()

    @scpi("[:SENSe]:BANDwidth:VIDeo?")
    @scpi("[:SENSe]:BWIDth:VIDeo?")
    def _vbw(self, args):
        return self.NUMBER.format(self.vbw)

    @scpi("[:SENSe]:SWEep:POINts")
    def _set_points(self, args):
        self.points = round(_number(args, *self.POINTS))
        self._changed()

    @scpi("[:SENSe]:SWEep:POINts?")
    def _points(self, args):
        return str(self.points)

    @scpi("[:SENSe]:SWEep:TIME?")
    def _sweep_time_query(self, args):
        return self.NUMBER.format(self.sweep_time())

    def _set_averages(self, args):
        self.averages = round(_number(args, *self.AVERAGES))
        self._changed()

    def _averages(self, args):
        return str(self.averages)

    @scpi("[:SENSe]:AVERage:TYPE")
    def _set_average_type(self, args):
        self.average_type = _keyword(args, tuple(self.AVERAGE_TYPES))
        self._changed()

    @scpi("[:SENSe]:AVERage:TYPE?")
    def _average_type(self, args):
        return self.average_type

    def _set_detector(self, args):
        self.detector = _keyword(args, tuple(self.DETECTORS))
        self._changed()

    def _detector(self, args):
        return self.detector

    def _set_trace_mode(self, args):
        self.trace_mode = _keyword(args, self.TRACE_MODES)
        self._changed()

    def _trace_mode(self, args):
        return self.trace_mode

    @scpi(":DISPlay[:WINDow#]:TRACe#:Y[:SCALe]:RLEVel")
    @scpi(":DISPlay[:WINDow#]:TRACe:Y[:SCALe]:RLEVel")
    def _set_reference_level(self, args):
        self.reference_level = _number(args, *self.REFERENCE_LEVEL)

    @scpi(":DISPlay[:WINDow#]:TRACe#:Y[:SCALe]:RLEVel?")
    @scpi(":DISPlay[:WINDow#]:TRACe:Y[:SCALe]:RLEVel?")
    def _reference_level(self, args):
        return self.NUMBER.format(self.reference_level)

    # ---- trace transfer -------------------------------------------------------------------
    @scpi(":FORMat[:TRACe][:DATA]")
    def _set_format(self, args):
        kind, _, bits = args.replace(" ", "").upper().partition(",")
        if kind in ("ASC", "ASCII"):
            self.data_format = "ASC"
        elif kind == "REAL" and bits in ("32", "64"):
            self.data_format = "REAL," + bits
        else:
            raise SimCommandError(*ILLEGAL_PARAMETER)

    @scpi(":FORMat[:TRACe][:DATA]?")
    def _format(self, args):
        return self.data_format

    @scpi(":TRACe[:DATA]?")
    def _trace_data(self, args):
        if args.strip().upper() not in ("TRACE1", "TRAC1", ""):
            raise SimCommandError(*ILLEGAL_PARAMETER)
        if self.continuous or self._trace is None:
            self.sweep()  # a free-running analyzer always has a fresh trace on screen
        if self.data_format == "ASC":
            return ",".join(f"{v:.4f}" for v in self._trace)
        datatype = "f" if self.data_format == "REAL,32" else "d"
        return self.block(self._trace, datatype, self.big_endian)


class SimKeysightXSeries(SimSweptAnalyzer):
    """A simulated Keysight N9020A MXA (26.5 GHz) in the Swept SA measurement."""

    idn = "Keysight Technologies,N9020A,SIM0000001,A.14.16"
    OPTIONS = "526,B25,P26,EA3,PFR"  # 526: 26.5 GHz
    # Keysight: NORMal = big-endian (the *RST value), SWAPped = little-endian
    BYTE_ORDERS = {"NORM": True, "SWAP": False}
    # 1 Hz .. 3 MHz in ~10 % steps, then 4, 5, 6, 8 MHz (approximated by the E24 series)
    RBW_STEPS = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9,
                 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)
    NUMBER = "{:+.11E}"
    DETECTORS = {"AVERage": "average", "POSitive": "peak", "SAMPle": "sample",
                 "NEGative": "negative", "NORMal": "normal"}
    PRESET = {"start": 10e6, "points": 1001, "rbw": 3e6, "vbw": 3e6, "averages": 100,
              "average_type": "LOG", "detector": "NORM", "reference_level": 0.0}

    @scpi("[:SENSe]:AVERage:COUNt")
    def _k_set_averages(self, args):
        self._set_averages(args)

    @scpi("[:SENSe]:AVERage:COUNt?")
    def _k_averages(self, args):
        return self._averages(args)

    @scpi("[:SENSe]:DETector:TRACe#")
    @scpi("[:SENSe]:DETector[:FUNCtion]")
    def _k_set_detector(self, args):
        self._set_detector(args)

    @scpi("[:SENSe]:DETector:TRACe#?")
    @scpi("[:SENSe]:DETector[:FUNCtion]?")
    def _k_detector(self, args):
        return self._detector(args)

    @scpi(":TRACe#:TYPE")
    def _k_set_trace_type(self, args):
        self._set_trace_mode(args)

    @scpi(":TRACe#:TYPE?")
    def _k_trace_type(self, args):
        return self._trace_mode(args)



class SimRohdeSchwarzFSV(SimSweptAnalyzer):
    """A simulated R&S FSV30 (30 GHz) in the spectrum application."""

    idn = "Rohde&Schwarz,FSV-30,1307.9002K30/SIM001,3.40"
    F_MAX = 30e9
    # R&S: NORMal = little-endian (the *RST value), SWAPped = big-endian
    BYTE_ORDERS = {"NORM": False, "SWAP": True}
    RBW_STEPS = (1.0, 2.0, 3.0, 5.0)  # the FSV's 1-2-3-5 sequence
    POINTS = (101, 32001)
    RBW = (1.0, 10e6)
    VBW = (1.0, 10e6)
    AVERAGES = (0, 32767)  # 0: one sweep in single mode
    REFERENCE_LEVEL = (-130.0, 30.0)
    DETECTORS = {"AVERage": "average", "RMS": "rms", "POSitive": "peak", "SAMPle": "sample",
                 "NEGative": "negative", "APEak": "peak"}  # auto peak: noise shows its peaks
    AVERAGE_TYPES = {"POWer": "power", "VIDeo": "log", "LINear": "power"}
    PRESET = {"start": 0.0, "points": 691, "rbw": 3e6, "vbw": 10e6, "averages": 0,
              "average_type": "VID", "detector": "APE", "reference_level": -10.0}

    @scpi("[:SENSe]:SWEep:COUNt")
    @scpi("[:SENSe]:AVERage#:COUNt")
    def _r_set_averages(self, args):
        self._set_averages(args)

    @scpi("[:SENSe]:SWEep:COUNt?")
    @scpi("[:SENSe]:AVERage#:COUNt?")
    def _r_averages(self, args):
        return self._averages(args)

    @scpi("[:SENSe][:WINDow#]:DETector#[:FUNCtion]")
    def _r_set_detector(self, args):
        self._set_detector(args)

    @scpi("[:SENSe][:WINDow#]:DETector#[:FUNCtion]?")
    def _r_detector(self, args):
        return self._detector(args)

    @scpi(":DISPlay[:WINDow#]:TRACe#:MODE")
    def _r_set_trace_mode(self, args):
        self._set_trace_mode(args)

    @scpi(":DISPlay[:WINDow#]:TRACe#:MODE?")
    def _r_trace_mode(self, args):
        return self._trace_mode(args)
