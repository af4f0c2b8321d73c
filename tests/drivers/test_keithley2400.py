"""Keithley 2400 driver: the exact SCPI exchange of every contract method."""

from __future__ import annotations

import inspect
import math
import warnings

import pytest
from pymeasure.test import expected_protocol

from drivers.base import UnsafeCommand
from drivers.contracts import CurrentSource, SourceState, VoltageSource
from drivers.keithley2400 import Keithley2400
from labctl.errors import InstrumentError

# pymeasure's constructor fixes the reading format; every exchange starts with it
INIT = [(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)]
READING = "+1.523457E-01,+1.000000E-03,+9.910000E+37,+1.234560E+02,+0.000000E+00"


def protocol(*pairs, **kwargs):
    return expected_protocol(Keithley2400, INIT + list(pairs), **kwargs)


def _members(proto) -> set[str]:
    return {n for n in vars(proto) if not n.startswith("_")} | set(proto.__annotations__)


def test_implements_both_source_contracts():
    with protocol() as smu:
        for name in _members(CurrentSource) | _members(VoltageSource):
            assert inspect.getattr_static(smu, name, None) is not None, name
        assert smu.name == "Keithley 2400"


def test_id_queries_the_instrument():
    with protocol(("*IDN?", "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1,C32")) as smu:
        assert smu.id == "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1,C32"


def test_configure_current_source():
    expected = (':SOUR:FUNC CURR;:SOUR:CURR:MODE FIX;:SOUR:CURR:RANG:AUTO 1;'
                ':SENS:FUNC "VOLT";:SENS:VOLT:PROT 5;:SENS:VOLT:RANG:AUTO 1')
    with protocol(("OUTPUT?", "0"), (expected, None)) as smu:
        smu.configure_current_source(5.0)


def test_configure_voltage_source():
    expected = (':SOUR:FUNC VOLT;:SOUR:VOLT:MODE FIX;:SOUR:VOLT:RANG:AUTO 1;'
                ':SENS:FUNC "CURR";:SENS:CURR:PROT 0.0001;:SENS:CURR:RANG:AUTO 1')
    with protocol(("OUTPUT?", "0"), (expected, None)) as smu:
        smu.configure_voltage_source(1e-4)


@pytest.mark.parametrize("call, value", [
    ("configure_current_source", 300.0), ("configure_current_source", -5.0),
    ("configure_voltage_source", 0.0), ("configure_voltage_source", 2.0),
    ("set_source_current", 1.5), ("set_source_current", math.nan),
    ("set_source_voltage", -250.0), ("set_compliance_current", 0.0),
    ("set_compliance_current", -1e-4), ("set_compliance_current", math.inf),
])
def test_out_of_range_raises_before_anything_is_sent(call, value):
    with protocol() as smu, pytest.raises(ValueError):
        getattr(smu, call)(value)


def test_levels_are_written_and_read_back_from_the_instrument():
    with protocol((":SOURCE:CURRENT 0.00125", None), (":SOURCE:CURRENT?", "+1.250000E-03"),
                  (":SOURCE:VOLTAGE 2", None), (":SOURCE:VOLTAGE?", "+2.000000E+00"),
                  (":SENSE:CURRENT:PROTECTION 5e-05", None),
                  (":SENSE:CURRENT:PROTECTION?", "+5.000000E-05")) as smu:
        smu.set_source_current(1.25e-3)
        assert smu.read_source_current() == pytest.approx(1.25e-3)
        smu.set_source_voltage(2.0)
        assert smu.read_source_voltage() == 2.0
        smu.set_compliance_current(50e-6)
        assert smu.read_compliance_current() == pytest.approx(50e-6)


def test_measurements_pick_their_element_of_the_reading():
    # :READ?, never :MEASure? (a CONFigure that resets the compliance, manual 17-2)
    with protocol(("OUTPUT?", "1"), (":READ?", READING),
                  ("OUTPUT?", "1"), (":READ?", READING)) as smu:
        assert smu.measure_voltage() == pytest.approx(0.1523457)
        assert smu.measure_current() == pytest.approx(1e-3)


def test_measurement_with_the_output_off_is_nan_and_sends_no_reading():
    # a :MEAS? would switch the 2400's output on at the programmed level
    with protocol(("OUTPUT?", "0"), ("OUTPUT?", "0")) as smu:
        assert math.isnan(smu.measure_voltage())
        assert math.isnan(smu.measure_current())


def test_overflow_reading_is_nan():
    overflow = "+9.910000E+37,+1.000000E-03,+9.910000E+37,+1.0E+00,+0.0E+00"
    with protocol(("OUTPUT?", "1"), (":READ?", overflow)) as smu:
        assert math.isnan(smu.measure_voltage())


def test_output_on_off_and_state():
    with protocol(("OUTPUT 1", None), ("OUTPUT?", "1"),
                  ("OUTPUT?", "1"), (":SOUR:FUNC?", "CURR"), (":SOUR:CURR?", "+0.000000E+00"),
                  ("OUTPUT 0", None), ("OUTPUT?", "0")) as smu:
        smu.enable_output()
        assert smu.read_output_enabled() is True
        smu.disable_output()
        assert smu.read_output_enabled() is False


@pytest.mark.parametrize("function, query, reply, tripped", [
    ("CURR", ":SENS:VOLT:PROT:TRIP?", "1", True),
    ("CURR", ":SENS:VOLT:PROT:TRIP?", "0", False),
    ("VOLT", ":SENS:CURR:PROT:TRIP?", "1", True),
    ("VOLT", ":SENS:CURR:PROT:TRIP?", "0", False),
])
def test_compliance_trip_is_asked_for_the_active_source_function(function, query, reply,
                                                                 tripped):
    with protocol((":SOUR:FUNC?", function), (query, reply)) as smu:
        assert smu.in_compliance() is tripped


def test_range_and_nplc():
    with protocol((":SOURCE:CURRENT:RANGE 0.001", None),
                  (":SENSE:VOLTAGE:NPLCYCLES 0.1", None)) as smu:
        smu.source_current_range = 1e-3
        smu.voltage_nplc = 0.1
        for name, value in [("source_current_range", 2.0), ("voltage_nplc", 20),
                            ("current_nplc", 0.001), ("compliance_voltage", 0.0)]:
            with pytest.raises(ValueError):
                setattr(smu, name, value)


def test_no_setting_silently_clamps():
    """Every settable property rejects an absurd value, and nothing reaches the instrument."""
    names = [n for n in dir(Keithley2400)
             if isinstance(getattr(Keithley2400, n), property) and getattr(Keithley2400, n).fset]
    assert "source_current" in names and "compliance_current" in names
    with protocol() as smu, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated pymeasure aliases
        for name in names:
            for value in (1e12, -1e12):
                try:
                    setattr(smu, name, value)
                except LookupError:
                    break
                except (ValueError, KeyError, TypeError, NotImplementedError):
                    continue  # refused (NotImplementedError: blocked as unsafe)
                pytest.fail(f"{name} = {value} was accepted")


def test_error_queue_is_raised_with_the_last_command():
    with protocol((":SOURCE:VOLTAGE 1", None),
                  ("SYST:ERR?", '-222,"Data out of range"'),
                  ("SYST:ERR?", '0,"No error"'), name="gate") as smu:
        smu.set_source_voltage(1.0)
        with pytest.raises(InstrumentError) as err:
            smu.raise_errors()
    assert err.value.instrument == "gate"
    assert err.value.command == ":SOURCE:VOLTAGE 1"
    assert "-222,Data out of range" in str(err.value)


def test_empty_error_queue_raises_nothing():
    with protocol(("SYST:ERR?", '0,"No error"')) as smu:
        smu.raise_errors()


def test_pymeasure_fixed_step_ramps_are_refused():
    with protocol() as smu:
        with pytest.raises(NotImplementedError):
            smu.ramp_to_current(1e-3)
        with pytest.raises(NotImplementedError):
            smu.ramp_to_voltage(1.0)


def test_shutdown_refuses_to_switch_off_at_a_non_zero_level():
    with protocol(("OUTPUT?", "1"), (":SOUR:FUNC?", "VOLT"),
                  (":SOUR:VOLT?", "+1.000000E+00")) as smu, \
            pytest.raises(UnsafeCommand, match="ramp it down"):
        smu.shutdown()


def test_shutdown_at_zero_switches_the_output_off():
    with protocol(("OUTPUT?", "1"), (":SOUR:FUNC?", "CURR"),
                  (":SOUR:CURR?", "+0.000000E+00"), ("OUTPUT 0", None)) as smu:
        smu.shutdown()


# ---- query before act ------------------------------------------------------------------------
def test_state_is_asked_in_two_exchanges():
    with protocol((":OUTP?;:SOUR:FUNC?", "1;VOLT"),
                  (":SOUR:VOLT?;:SENS:CURR:PROT?;:SOUR:VOLT:RANG:AUTO?;:SOUR:VOLT:RANG?",
                   "+5.000000E-01;+1.050000E-04;0;+2.000000E+01")) as smu:
        state = smu.read_state()
    assert state == SourceState(True, "voltage", 0.5, 1.05e-4, 20.0)


@pytest.mark.parametrize("call, value", [("configure_current_source", 5.0),
                                         ("configure_voltage_source", 1e-4), ("reset", None)])
def test_function_change_and_reset_refused_with_the_output_on(call, value):
    # asked first; with the output on nothing else is sent
    with protocol(("OUTPUT?", "1")) as smu, pytest.raises(UnsafeCommand, match="output on"):
        getattr(smu, call)(*([] if value is None else [value]))


def test_compliance_voltage_is_set_and_read_back():
    with protocol((":SENSE:VOLTAGE:PROTECTION 5", None),
                  (":SENSE:VOLTAGE:PROTECTION?", "+5.000000E+00")) as smu:
        smu.set_compliance_voltage(5.0)
        assert smu.read_compliance_voltage() == 5.0


@pytest.mark.parametrize("name", ["voltage", "current", "resistance"])
def test_measure_queries_that_reset_the_compliance_are_blocked(name):
    with protocol() as smu, pytest.raises(UnsafeCommand, match="READ"):
        getattr(smu, name)
