"""Protocol tests of the R&S FSV driver: the exact SCPI exchange, no instrument."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol
from pyvisa.util import to_ieee_block

from drivers.contracts import SpectrumAnalyzer
from drivers.rs_fsv import RohdeSchwarzFSV
from labctl.errors import InstrumentError

TRACE = "FORM REAL,32;:FORM:BORD NORM;:TRAC:DATA? TRACE1"  # R&S NORMal = little-endian
CONFIGURE = [
    ("INIT:CONT 0", None),
    ("FREQ:STAR 9950000000", None),
    ("FREQ:STOP 10050000000", None),
    ("SWE:POIN 2001", None),
    ("BAND:RES 100000", None),
    ("BAND:VID 10000", None),
    ("DET RMS", None),
    ("AVER:TYPE POW", None),
    ("DISP:TRAC1:MODE AVER", None),
    ("SWE:COUN 10", None),
    ("DISP:TRAC:Y:RLEV -20", None),
    ("SWE:TIME?", "0.25"),
    ("BAND:RES?", "100000"),
    ("BAND:VID?", "10000"),
]


def block(values: np.ndarray) -> bytes:
    """What the FSV sends: a little-endian REAL,32 block and the newline."""
    return bytes(to_ieee_block(np.asarray(values, dtype=np.float32), "f", False)) + b"\n"


def test_satisfies_the_spectrum_analyzer_contract():
    for member in (m for m in vars(SpectrumAnalyzer) if not m.startswith("_")):
        assert hasattr(RohdeSchwarzFSV, member), member


def test_id():
    idn = "Rohde&Schwarz,FSV-30,1307.9002K30/101234,3.40"
    with expected_protocol(RohdeSchwarzFSV, [("*IDN?", idn)]) as inst:
        assert inst.id == idn


@pytest.mark.parametrize("prop, value, command", [
    ("start_frequency", 8e9, "FREQ:STAR 8000000000"),
    ("stop_frequency", 30e9, "FREQ:STOP 30000000000"),
    ("center_frequency", 10e9, "FREQ:CENT 10000000000"),
    ("span", 150e6, "FREQ:SPAN 150000000"),
    ("resolution_bandwidth", 300e3, "BAND:RES 300000"),
    ("video_bandwidth", 30e3, "BAND:VID 30000"),
    ("sweep_points", 32001, "SWE:POIN 32001"),
    ("average_count", 10, "SWE:COUN 10"),
    ("average_type", "power", "AVER:TYPE POW"),
    ("average_type", "log", "AVER:TYPE VID"),
    ("trace_mode", "write", "DISP:TRAC1:MODE WRIT"),
    ("detector", "average", "DET RMS"),  # power averaging, as on the X-series
    ("detector", "voltage_average", "DET AVER"),
    ("detector", "rms", "DET RMS"),
    ("detector", "peak", "DET POS"),
    ("detector", "sample", "DET SAMP"),
    ("reference_level", -40.0, "DISP:TRAC:Y:RLEV -40"),
    ("continuous_sweep", False, "INIT:CONT 0"),
])
def test_settings(prop, value, command):
    with expected_protocol(RohdeSchwarzFSV, [(command, None)]) as inst:
        setattr(inst, prop, value)


@pytest.mark.parametrize("prop, get, reply, value", [
    ("start_frequency", "FREQ:STAR?", "8000000000", 8e9),
    ("video_bandwidth", "BAND:VID?", "30000", 30e3),
    ("sweep_points", "SWE:POIN?", "691", 691),
    ("average_count", "SWE:COUN?", "10", 10),
    ("average_type", "AVER:TYPE?", "POW", "power"),
    ("detector", "DET?", "RMS", "average"),  # power averaging, however it was named
    ("trace_mode", "DISP:TRAC1:MODE?", "AVER", "average"),
    ("continuous_sweep", "INIT:CONT?", "1", True),
])
def test_readings(prop, get, reply, value):
    with expected_protocol(RohdeSchwarzFSV, [(get, reply)]) as inst:
        assert getattr(inst, prop) == value


@pytest.mark.parametrize("prop, value", [
    ("start_frequency", -5.0), ("stop_frequency", 31e9), ("resolution_bandwidth", 20e6),
    ("sweep_points", 100), ("sweep_points", 32002), ("average_count", 32768),
    ("detector", "normal"), ("reference_level", -131.0),
])
def test_out_of_range_raises_before_sending(prop, value):
    with expected_protocol(RohdeSchwarzFSV, []) as inst, pytest.raises(ValueError):
        setattr(inst, prop, value)


def test_configure_sweep_exchange():
    with expected_protocol(RohdeSchwarzFSV, CONFIGURE) as inst:
        inst.configure_sweep(9.95e9, 10.05e9, 2001, 100e3, 10e3, 10, detector="rms")


@pytest.mark.parametrize("kwargs", [
    {"points": 11}, {"rbw": 0.0}, {"averages": 0}, {"detector": "average "},
    {"f_start": 10.05e9}, {"max_frequency_exceeded": True},
])
def test_configure_sweep_checks_everything_before_sending(kwargs):
    args = dict(f_start=9.95e9, f_stop=10.05e9, points=2001, rbw=100e3, vbw=10e3, averages=10)
    if kwargs.pop("max_frequency_exceeded", False):
        args["f_stop"] = 14e9
    args.update(kwargs)
    with expected_protocol(RohdeSchwarzFSV, [], max_frequency=13.6e9) as inst, \
            pytest.raises(ValueError):
        inst.configure_sweep(**args)


def test_frequencies_and_sweep_time():
    with expected_protocol(RohdeSchwarzFSV, [
        ("FREQ:STAR?", "9950000000"), ("FREQ:STOP?", "10050000000"), ("SWE:POIN?", "2001"),
        ("SWE:TIME?", "0.25"),
    ]) as inst:
        f = inst.frequencies()
        assert inst.read_sweep_time() == 0.25
    np.testing.assert_allclose(f, np.linspace(9.95e9, 10.05e9, 2001))


def test_single_sweep_then_binary_trace():
    values = np.linspace(-95, -60, 2001).astype(np.float32)
    with expected_protocol(RohdeSchwarzFSV, [
        ("INIT:IMM;*OPC?", "1"),
        (TRACE, block(values)),
    ]) as inst:
        inst.single_sweep()
        trace = inst.read_trace()
    assert trace.dtype == np.float32
    np.testing.assert_array_equal(trace, values)


def test_truncated_block_raises_instrument_error():
    reply = block(np.zeros(4, dtype=np.float32))[:-5]  # payload cut short, no newline
    with expected_protocol(RohdeSchwarzFSV, [(TRACE, reply)], name="spectrum") as inst, \
            pytest.raises(InstrumentError) as err:
        inst.read_trace()
    assert "truncated" in str(err.value)
    assert err.value.instrument == "spectrum" and err.value.command == TRACE


def test_raise_errors_names_instrument_and_command():
    with expected_protocol(RohdeSchwarzFSV, [
        ("SWE:POIN 32001", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '0,"No error"'),
    ], name="spectrum") as inst:
        inst.sweep_points = 32001
        with pytest.raises(InstrumentError) as err:
            inst.raise_errors()
    assert err.value.instrument == "spectrum"
    assert err.value.command == "SWE:POIN 32001"
    assert "Data out of range" in str(err.value)
