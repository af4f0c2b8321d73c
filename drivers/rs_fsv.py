"""Rohde & Schwarz FSV signal and spectrum analyzer (FSV3/7/13/30/40), spectrum mode."""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers.base import LabInstrument
from drivers.swept_analyzer import FREQUENCY_FORMAT, SweptAnalyzer, strict_integer


class RohdeSchwarzFSV(LabInstrument, SweptAnalyzer):
    """R&S FSV in the spectrum application: averaged single sweeps, binary trace transfer."""

    SINGLE_SWEEP = "INIT:IMM;*OPC?"
    ERROR_QUERY = "SYST:ERR?"
    # R&S names byte orders the other way round from Keysight: FORM:BORD NORMal is
    # little-endian. Set it every time: the instrument may have been left SWAPped.
    TRACE_QUERY = "FORM REAL,32;:FORM:BORD NORM;:TRAC:DATA? TRACE1"
    TRACE_DTYPE = "<f4"
    # "average" is power averaging on both makes: the FSV's AVERage detector averages the
    # linear voltage (about 1 dB lower on noise than the X-series' RMS-averaged AVER), so
    # labctl's "average" is the FSV's RMS detector; "voltage_average" is its AVERage
    DETECTORS = {"average": "RMS", "rms": "RMS", "voltage_average": "AVER", "peak": "POS",
                 "sample": "SAMP", "negative": "NEG", "autopeak": "APE"}
    POINTS = (101, 32001)
    RBW = (1.0, 10e6)
    VBW = (1.0, 10e6)
    AVERAGES = (1, 32767)
    REFERENCE_LEVEL = (-130.0, 30.0)

    start_frequency = Instrument.control(
        "FREQ:STAR?", "FREQ:STAR " + FREQUENCY_FORMAT,
        "Control the start frequency in Hz.",
        validator=strict_range, values=(0.0, 30e9), dynamic=True)
    stop_frequency = Instrument.control(
        "FREQ:STOP?", "FREQ:STOP " + FREQUENCY_FORMAT,
        "Control the stop frequency in Hz.",
        validator=strict_range, values=(10.0, 30e9), dynamic=True)
    center_frequency = Instrument.control(
        "FREQ:CENT?", "FREQ:CENT " + FREQUENCY_FORMAT,
        "Control the center frequency in Hz.",
        validator=strict_range, values=(5.0, 30e9), dynamic=True)
    span = Instrument.control(
        "FREQ:SPAN?", "FREQ:SPAN " + FREQUENCY_FORMAT,
        "Control the frequency span in Hz (zero span is not supported).",
        validator=strict_range, values=(10.0, 30e9), dynamic=True)
    resolution_bandwidth = Instrument.control(
        "BAND:RES?", "BAND:RES %.6g",
        "Control the resolution bandwidth in Hz (setting it turns RBW auto off).",
        validator=strict_range, values=RBW)
    video_bandwidth = Instrument.control(
        "BAND:VID?", "BAND:VID %.6g",
        "Control the video bandwidth in Hz (setting it turns VBW auto off).",
        validator=strict_range, values=VBW)
    sweep_points = Instrument.control(
        "SWE:POIN?", "SWE:POIN %d",
        "Control the number of trace points.",
        validator=strict_integer, values=POINTS, cast=int)
    average_count = Instrument.control(
        "SWE:COUN?", "SWE:COUN %d",
        "Control the number of sweeps a single sweep averages (SWEep:COUNt).",
        validator=strict_integer, values=AVERAGES, cast=int)
    average_type = Instrument.control(
        "AVER:TYPE?", "AVER:TYPE %s",
        "Control the averaging scale: 'power', 'log' (video) or 'voltage' (linear).",
        validator=strict_discrete_set, map_values=True, cast=str,
        values={"power": "POW", "log": "VID", "voltage": "LIN"})
    trace_mode = Instrument.control(
        "DISP:TRAC1:MODE?", "DISP:TRAC1:MODE %s",
        "Control the mode of trace 1: 'write', 'average', 'max_hold' or 'min_hold'.",
        validator=strict_discrete_set, map_values=True, cast=str,
        values={"write": "WRIT", "average": "AVER", "max_hold": "MAXH", "min_hold": "MINH"})
    detector = Instrument.control(
        "DET?", "DET %s",
        "Control the detector of trace 1 (keys of DETECTORS).",
        validator=strict_discrete_set, map_values=True, cast=str, values=DETECTORS)
    reference_level = Instrument.control(
        "DISP:TRAC:Y:RLEV?", "DISP:TRAC:Y:RLEV %.6g",
        "Control the reference level in dBm.",
        validator=strict_range, values=REFERENCE_LEVEL)
    continuous_sweep = Instrument.control(
        "INIT:CONT?", "INIT:CONT %d",
        "Control continuous sweeping (False: single sweeps started by single_sweep).",
        validator=strict_discrete_set, map_values=True, values={True: 1, False: 0})
    sweep_time = Instrument.measurement(
        "SWE:TIME?", "Get the duration of one sweep in s.")

    def __init__(self, adapter, name: str = "R&S FSV analyzer", max_frequency: float = 30e9,
                 **kwargs):
        super().__init__(adapter, name, **kwargs)
        self.set_max_frequency(max_frequency)
