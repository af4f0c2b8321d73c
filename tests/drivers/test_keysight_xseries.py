"""Protocol tests of the Keysight X-series driver: the exact SCPI exchange, no instrument."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol
from pyvisa.util import to_ieee_block

from drivers.contracts import SpectrumAnalyzer
from drivers.keysight_xseries import KeysightXSeries
from labctl.errors import InstrumentError

TRACE = ":FORM:DATA REAL,32;:FORM:BORD SWAP;:TRAC:DATA? TRACE1"
CONFIGURE = [
    (":INIT:CONT 0", None),
    (":SENS:FREQ:STAR 8000000000", None),
    (":SENS:FREQ:STOP 8300000000", None),
    (":SENS:SWE:POIN 10001", None),
    (":SENS:BAND:RES 300000", None),
    (":SENS:BAND:VID 30000", None),
    (":SENS:DET:TRAC AVER", None),
    (":SENS:AVER:TYPE RMS", None),
    (":TRAC1:TYPE AVER", None),
    (":SENS:AVER:COUN 20", None),
    (":DISP:WIND:TRAC:Y:RLEV -30", None),
    (":SENS:SWE:TIME?", "+8.33333333333E-001"),
    # what the instrument really uses is recorded (RBW and VBW are quantised)
    (":SENS:BAND:RES?", "+3.00000000000E+005"),
    (":SENS:BAND:VID?", "+3.00000000000E+004"),
]


def block(values: np.ndarray) -> bytes:
    """What the analyzer sends: a little-endian REAL,32 block and the newline."""
    return bytes(to_ieee_block(np.asarray(values, dtype=np.float32), "f", False)) + b"\n"


def test_satisfies_the_spectrum_analyzer_contract():
    members = [m for m in vars(SpectrumAnalyzer) if not m.startswith("_")]
    assert {"id", "configure_sweep", "read_trace", "single_sweep"} <= set(members)
    for member in members:
        assert hasattr(KeysightXSeries, member), member
    with expected_protocol(KeysightXSeries, [], name="spectrum") as inst:
        assert inst.name == "spectrum"


def test_id():
    idn = "Keysight Technologies,N9020A,MY12345678,A.14.16"
    with expected_protocol(KeysightXSeries, [("*IDN?", idn)]) as inst:
        assert inst.id == idn


@pytest.mark.parametrize("prop, value, command", [
    ("start_frequency", 8e9, ":SENS:FREQ:STAR 8000000000"),
    ("stop_frequency", 12.5e9, ":SENS:FREQ:STOP 12500000000"),
    ("center_frequency", 10.000001e9, ":SENS:FREQ:CENT 10000001000"),
    ("span", 300e6, ":SENS:FREQ:SPAN 300000000"),
    ("resolution_bandwidth", 1e6, ":SENS:BAND:RES 1e+06"),
    ("video_bandwidth", 100e3, ":SENS:BAND:VID 100000"),
    ("sweep_points", 10001, ":SENS:SWE:POIN 10001"),
    ("average_count", 50, ":SENS:AVER:COUN 50"),
    ("average_type", "power", ":SENS:AVER:TYPE RMS"),
    ("average_type", "log", ":SENS:AVER:TYPE LOG"),
    ("trace_mode", "average", ":TRAC1:TYPE AVER"),
    ("detector", "average", ":SENS:DET:TRAC AVER"),
    ("detector", "peak", ":SENS:DET:TRAC POS"),
    ("detector", "sample", ":SENS:DET:TRAC SAMP"),
    ("detector", "negative", ":SENS:DET:TRAC NEG"),
    ("reference_level", -20.0, ":DISP:WIND:TRAC:Y:RLEV -20"),
    ("continuous_sweep", False, ":INIT:CONT 0"),
])
def test_settings(prop, value, command):
    with expected_protocol(KeysightXSeries, [(command, None)]) as inst:
        setattr(inst, prop, value)


@pytest.mark.parametrize("prop, reply, value", [
    ("start_frequency", "+8.00000000000E+009", 8e9),
    ("stop_frequency", "+1.25000000000E+010", 12.5e9),
    ("resolution_bandwidth", "+1.00000000000E+006", 1e6),
    ("sweep_points", "+10001", 10001),
    ("average_count", "+50", 50),
    ("average_type", "RMS", "power"),
    ("trace_mode", "AVER", "average"),
    ("detector", "POS", "peak"),
    ("reference_level", "-2.00000000E+001", -20.0),
    ("continuous_sweep", "0", False),
])
def test_readings(prop, reply, value):
    get = {"start_frequency": ":SENS:FREQ:STAR?", "stop_frequency": ":SENS:FREQ:STOP?",
           "resolution_bandwidth": ":SENS:BAND:RES?", "sweep_points": ":SENS:SWE:POIN?",
           "average_count": ":SENS:AVER:COUN?", "average_type": ":SENS:AVER:TYPE?",
           "trace_mode": ":TRAC1:TYPE?", "detector": ":SENS:DET:TRAC?",
           "reference_level": ":DISP:WIND:TRAC:Y:RLEV?", "continuous_sweep": ":INIT:CONT?"}
    with expected_protocol(KeysightXSeries, [(get[prop], reply)]) as inst:
        assert getattr(inst, prop) == value


@pytest.mark.parametrize("prop, value", [
    ("start_frequency", -1.0), ("stop_frequency", 27e9), ("span", 0.0),
    ("resolution_bandwidth", 10e6), ("video_bandwidth", 0.5), ("sweep_points", 40002),
    ("sweep_points", 1000.5), ("average_count", 0), ("average_type", "median"),
    ("detector", "quasipeak"), ("reference_level", 31.0), ("trace_mode", "view"),
])
def test_out_of_range_raises_before_sending(prop, value):
    with expected_protocol(KeysightXSeries, []) as inst, pytest.raises(ValueError):
        setattr(inst, prop, value)


def test_frequency_limits_follow_the_frequency_option():
    with expected_protocol(KeysightXSeries, [(":SENS:FREQ:STOP 13600000000", None)],
                           max_frequency=13.6e9) as inst:
        inst.stop_frequency = 13.6e9
        with pytest.raises(ValueError):
            inst.stop_frequency = 13.7e9
        with pytest.raises(ValueError):
            inst.configure_sweep(13e9, 14e9, 1001, 1e6, 1e5, 1)


def test_configure_sweep_exchange():
    with expected_protocol(KeysightXSeries, CONFIGURE, max_frequency=26.5e9) as inst:
        inst.configure_sweep(8e9, 8.3e9, 10001, 300e3, 30e3, 20, "average", -30.0)
        assert inst.settings_used == {"rbw": 300e3, "vbw": 30e3, "sweep_time": 0.833333333333,
                                      "detector": "AVER", "average_type": "power",
                                      "averages": 20}


def test_frequency_range_from_the_option_when_the_station_file_names_none():
    exchange = [("*OPT?", '"503,B25,P13,513,EA3"')] + CONFIGURE
    with expected_protocol(KeysightXSeries, exchange) as inst:
        inst.configure_sweep(8e9, 8.3e9, 10001, 300e3, 30e3, 20, "average", -30.0)
        assert inst.max_frequency == 13.6e9
    with expected_protocol(KeysightXSeries, [("*OPT?", "B25,EA3")]) as inst, \
            pytest.raises(InstrumentError, match="options.max_frequency"):
        inst.configure_sweep(8e9, 8.3e9, 10001, 300e3, 30e3, 20)


@pytest.mark.parametrize("kwargs", [
    {"f_start": 9e9, "f_stop": 8e9}, {"points": 0}, {"rbw": 20e6}, {"vbw": 0.0},
    {"averages": 10001}, {"detector": "rms-ish"}, {"reference_level": -200.0},
    {"f_stop": 30e9},
])
def test_configure_sweep_checks_everything_before_sending(kwargs):
    args = dict(f_start=8e9, f_stop=8.3e9, points=10001, rbw=300e3, vbw=30e3, averages=20)
    args.update(kwargs)
    with expected_protocol(KeysightXSeries, [], max_frequency=26.5e9) as inst, \
            pytest.raises(ValueError):
        inst.configure_sweep(**args)


def test_frequencies_from_start_stop_points():
    with expected_protocol(KeysightXSeries, [
        (":SENS:FREQ:STAR?", "+8.00000000000E+009"),
        (":SENS:FREQ:STOP?", "+8.30000000000E+009"),
        (":SENS:SWE:POIN?", "+10001"),
    ]) as inst:
        f = inst.frequencies()
    assert f.shape == (10001,)
    assert f[0] == 8e9 and f[-1] == 8.3e9
    assert f[1] - f[0] == pytest.approx(30e3)


def test_read_sweep_time():
    with expected_protocol(KeysightXSeries, [(":SENS:SWE:TIME?", "+1.25E-001")]) as inst:
        assert inst.read_sweep_time() == 0.125


def test_single_sweep_waits_for_operation_complete():
    with expected_protocol(KeysightXSeries, [(":INIT:IMM;*OPC?", "1")]) as inst:
        inst.single_sweep()


def test_single_sweep_rejects_an_odd_reply():
    with expected_protocol(KeysightXSeries, [(":INIT:IMM;*OPC?", "0")],
                           name="spectrum") as inst, pytest.raises(InstrumentError) as err:
        inst.single_sweep()
    assert err.value.instrument == "spectrum"
    assert "*OPC?" in err.value.command


def test_single_sweep_lengthens_the_timeout_for_averaged_sweeps():
    with expected_protocol(KeysightXSeries, CONFIGURE + [(":INIT:IMM;*OPC?", "1")],
                           connection_attributes={"timeout": 5000},
                           max_frequency=26.5e9) as inst:
        inst.configure_sweep(8e9, 8.3e9, 10001, 300e3, 30e3, 20, "average", -30.0)
        seen = []
        read = inst.read

        def spy(**kwargs):
            seen.append(inst.adapter.connection.timeout)
            return read(**kwargs)

        inst.read = spy
        inst.single_sweep()
        # 20 averages x 0.833 s sweeps = 16.7 s, with margin
        assert seen[0] == pytest.approx((1.5 * 20 * 0.833333333333 + 2.0) * 1e3)
        assert inst.adapter.connection.timeout == 5000


def test_read_trace_binary_block():
    values = np.array([-80.5, -79.25, -42.0, 1e-3, -150.125], dtype=np.float32)
    with expected_protocol(KeysightXSeries, [(TRACE, block(values))]) as inst:
        trace = inst.read_trace()
    assert trace.dtype == np.float32
    np.testing.assert_array_equal(trace, values)


def test_read_trace_of_10001_points_containing_newline_bytes():
    rng = np.random.default_rng(3)
    values = (-90 + 10 * rng.standard_normal(10001)).astype(np.float32)
    # payload bytes equal to '\n' (in values near -90 dBm)
    values[:4] = np.frombuffer(b"\n\n\xb4\xc2" * 4, dtype="<f4")
    with expected_protocol(KeysightXSeries, [(TRACE, block(values))]) as inst:
        trace = inst.read_trace()
    np.testing.assert_array_equal(trace, values)
    assert trace.flags.writeable


@pytest.mark.parametrize("reply, detail", [
    (b"-80.5,-79.2,-42.0\n", "expected an IEEE-488.2 binary block"),
    (b"#13AB\n", "not a whole number"),
    (b"#0\x00\x00\x80\x3f\n", "indefinite-length"),
    (b"#18\x00\x00\x80\x3f\x00\x00\x80\x3fX", "not followed by a newline"),
])
def test_read_trace_malformed_block(reply, detail):
    with expected_protocol(KeysightXSeries, [(TRACE, reply)], name="spectrum") as inst:
        with pytest.raises(InstrumentError) as err:
            inst.read_trace()
        assert inst.adapter.connection.flush.called  # the rest of the reply is discarded
        inst.adapter._read_buffer = None  # (the protocol adapter's flush keeps it)
    assert detail in str(err.value)
    assert err.value.instrument == "spectrum"
    assert err.value.command == TRACE


def test_raise_errors_names_instrument_and_command():
    with expected_protocol(KeysightXSeries, [
        (":SENS:FREQ:STAR 8000000000", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '+0,"No error"'),
    ], name="spectrum") as inst:
        inst.start_frequency = 8e9
        with pytest.raises(InstrumentError) as err:
            inst.raise_errors()
    assert err.value.instrument == "spectrum"
    assert err.value.command == ":SENS:FREQ:STAR 8000000000"
    assert "-222" in str(err.value)


def test_raise_errors_quiet_when_the_queue_is_empty():
    with expected_protocol(KeysightXSeries, [("SYST:ERR?", '+0,"No error"')]) as inst:
        inst.raise_errors()


@pytest.mark.parametrize("values", [
    np.array([-80.0, 3e27], dtype=np.float32), np.array([-80.0, np.nan], dtype=np.float32),
    np.array([-80.0, -900.0], dtype=np.float32), np.array([-80.0, 6e-41], dtype=np.float32),
    np.array([-80.0, -6e-41], dtype=np.float32), np.array([5.0, 6e-41], dtype=np.float32),
    np.array([-80.0, np.inf], dtype=np.float32), np.array([-np.inf, -80], dtype=np.float32)])
def test_a_trace_that_is_not_plausible_dbm_is_refused(values):
    # what a wrong byte order gives: never decoded silently into garbage
    with expected_protocol(KeysightXSeries, [(TRACE, block(values))]) as inst, \
            pytest.raises(InstrumentError, match="byte order"):
        inst.read_trace()


@pytest.mark.parametrize("values", [[-80.0, -60.5], [-10.0, 0.0, 5.0], [0.0, 0.0], [1.0, 59.0]])
def test_a_plausible_trace_is_returned_as_sent(values):
    values = np.array(values, dtype=np.float32)
    with expected_protocol(KeysightXSeries, [(TRACE, block(values))]) as inst:
        assert np.array_equal(inst.read_trace(), values)


def test_big_endian_data_is_refused_not_decoded():
    values = np.full(101, -85.0, dtype=np.float32)
    wrong = bytes(to_ieee_block(values, "f", True)) + b"\n"  # a session left in NORM order
    with expected_protocol(KeysightXSeries, [(TRACE, wrong)]) as inst, \
            pytest.raises(InstrumentError, match="not plausible"):
        inst.read_trace()
