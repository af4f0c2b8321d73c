"""Keysight X-series signal analyzers (N9010A EXA, N9020A MXA, N9030A PXA), swept SA mode."""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers.base import LabInstrument
from drivers.swept_analyzer import FREQUENCY_FORMAT, SweptAnalyzer, strict_integer
from labctl.errors import InstrumentError

# frequency options of the N9010A/N9020A/N9030A -> top frequency in Hz
FREQUENCY_OPTIONS = {"503": 3.6e9, "507": 7.0e9, "508": 8.4e9, "513": 13.6e9, "526": 26.5e9,
                     "532": 32e9, "543": 43e9, "544": 44e9, "550": 50e9}


class KeysightXSeries(LabInstrument, SweptAnalyzer):
    """Keysight N9010A/N9020A/N9030A signal analyzer in the Swept SA measurement."""

    SINGLE_SWEEP = ":INIT:IMM;*OPC?"
    ERROR_QUERY = "SYST:ERR?"
    # Keysight's FORM:BORD NORMal is big-endian (and the *RST value); SWAPped is little-endian
    TRACE_QUERY = ":FORM:DATA REAL,32;:FORM:BORD SWAP;:TRAC:DATA? TRACE1"
    TRACE_DTYPE = "<f4"
    # "rms" is the average detector with RMS (power) averaging, which configure_sweep sets
    DETECTORS = {"average": "AVER", "rms": "AVER", "peak": "POS", "sample": "SAMP",
                 "negative": "NEG", "normal": "NORM"}
    POINTS = (1, 40001)
    RBW = (1.0, 8e6)
    VBW = (1.0, 50e6)
    AVERAGES = (1, 10000)
    REFERENCE_LEVEL = (-170.0, 30.0)

    start_frequency = Instrument.control(
        ":SENS:FREQ:STAR?", ":SENS:FREQ:STAR " + FREQUENCY_FORMAT,
        "Control the start frequency in Hz.",
        validator=strict_range, values=(0.0, 26.5e9), dynamic=True)
    stop_frequency = Instrument.control(
        ":SENS:FREQ:STOP?", ":SENS:FREQ:STOP " + FREQUENCY_FORMAT,
        "Control the stop frequency in Hz.",
        validator=strict_range, values=(10.0, 26.5e9), dynamic=True)
    center_frequency = Instrument.control(
        ":SENS:FREQ:CENT?", ":SENS:FREQ:CENT " + FREQUENCY_FORMAT,
        "Control the center frequency in Hz.",
        validator=strict_range, values=(5.0, 26.5e9), dynamic=True)
    span = Instrument.control(
        ":SENS:FREQ:SPAN?", ":SENS:FREQ:SPAN " + FREQUENCY_FORMAT,
        "Control the frequency span in Hz (zero span is not supported).",
        validator=strict_range, values=(10.0, 26.5e9), dynamic=True)
    resolution_bandwidth = Instrument.control(
        ":SENS:BAND:RES?", ":SENS:BAND:RES %.6g",
        "Control the resolution bandwidth in Hz (setting it turns RBW auto off).",
        validator=strict_range, values=RBW)
    video_bandwidth = Instrument.control(
        ":SENS:BAND:VID?", ":SENS:BAND:VID %.6g",
        "Control the video bandwidth in Hz (setting it turns VBW auto off).",
        validator=strict_range, values=VBW)
    sweep_points = Instrument.control(
        ":SENS:SWE:POIN?", ":SENS:SWE:POIN %d",
        "Control the number of trace points.",
        validator=strict_integer, values=POINTS, cast=int)
    average_count = Instrument.control(
        ":SENS:AVER:COUN?", ":SENS:AVER:COUN %d",
        "Control the number of sweeps averaged by a single sweep.",
        validator=strict_integer, values=AVERAGES, cast=int)
    average_type = Instrument.control(
        ":SENS:AVER:TYPE?", ":SENS:AVER:TYPE %s",
        "Control the averaging scale: 'power' (RMS), 'log' or 'voltage'.",
        validator=strict_discrete_set, map_values=True, cast=str,
        values={"power": "RMS", "log": "LOG", "voltage": "SCAL"})
    trace_mode = Instrument.control(
        ":TRAC1:TYPE?", ":TRAC1:TYPE %s",
        "Control the type of trace 1: 'write', 'average', 'max_hold' or 'min_hold'.",
        validator=strict_discrete_set, map_values=True, cast=str,
        values={"write": "WRIT", "average": "AVER", "max_hold": "MAXH", "min_hold": "MINH"})
    detector = Instrument.control(
        ":SENS:DET:TRAC?", ":SENS:DET:TRAC %s",
        "Control the detector of trace 1 (keys of DETECTORS).",
        validator=strict_discrete_set, map_values=True, cast=str, values=DETECTORS)
    reference_level = Instrument.control(
        ":DISP:WIND:TRAC:Y:RLEV?", ":DISP:WIND:TRAC:Y:RLEV %.6g",
        "Control the reference level in dBm.",
        validator=strict_range, values=REFERENCE_LEVEL)
    continuous_sweep = Instrument.control(
        ":INIT:CONT?", ":INIT:CONT %d",
        "Control continuous sweeping (False: single sweeps started by single_sweep).",
        validator=strict_discrete_set, map_values=True, values={True: 1, False: 0})
    sweep_time = Instrument.measurement(
        ":SENS:SWE:TIME?", "Get the duration of one sweep in s.")

    def __init__(self, adapter, name: str = "Keysight X-series analyzer",
                 max_frequency: float | None = None, **kwargs):
        super().__init__(adapter, name, **kwargs)
        # units differ by their frequency option: from the station file, else from *OPT?
        self.max_frequency = None
        if max_frequency is not None:
            self.set_max_frequency(max_frequency)

    def read_frequency_option(self) -> float:
        """Top frequency from the frequency option in ``*OPT?`` (e.g. 526: 26.5 GHz)."""
        reply = self.ask("*OPT?").strip().strip('"')
        options = [o.strip() for o in reply.split(",")]
        found = [FREQUENCY_OPTIONS[o] for o in options if o in FREQUENCY_OPTIONS]
        if not found:
            raise InstrumentError(self.name, "*OPT?", f"no frequency option in {reply!r}: give "
                                  "spectrum.options.max_frequency in the station file")
        return max(found)
