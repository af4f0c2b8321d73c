"""Keithley 2450 driver: the exact SCPI exchange of every contract method."""

from __future__ import annotations

import inspect
import math

import pytest
from pymeasure.test import expected_protocol

from drivers.base import UnsafeCommand
from drivers.contracts import CurrentSource, SourceState, VoltageSource
from drivers.keithley2450 import Keithley2450
from labctl.errors import InstrumentError


def _members(protocol) -> set[str]:
    return {n for n in vars(protocol) if not n.startswith("_")} | set(protocol.__annotations__)


def test_implements_both_source_contracts():
    # looked up statically: isinstance() on Python 3.11 would read ``id`` from the instrument
    with expected_protocol(Keithley2450, []) as smu:
        for name in _members(CurrentSource) | _members(VoltageSource):
            assert inspect.getattr_static(smu, name, None) is not None, name
        assert smu.name == "Keithley 2450"


def test_id_queries_the_instrument():
    idn = "KEITHLEY INSTRUMENTS,MODEL 2450,1,1.7"
    with expected_protocol(Keithley2450, [("*IDN?", idn)]) as smu:
        assert smu.id == "KEITHLEY INSTRUMENTS,MODEL 2450,1,1.7"


def test_configure_current_source_sets_mode_limit_and_voltage_sense():
    expected = (':SOUR:FUNC CURR;:SOUR:CURR:RANG:AUTO 1;:SOUR:CURR:VLIM 5;'
                ':SENS:FUNC "VOLT";:SENS:VOLT:RANG:AUTO 1')
    with expected_protocol(Keithley2450, [(":OUTP?", "0"), (expected, None)]) as smu:
        smu.configure_current_source(5.0)


def test_configure_voltage_source_sets_mode_limit_and_current_sense():
    expected = (':SOUR:FUNC VOLT;:SOUR:VOLT:RANG:AUTO 1;:SOUR:VOLT:ILIM 0.0001;'
                ':SENS:FUNC "CURR";:SENS:CURR:RANG:AUTO 1')
    with expected_protocol(Keithley2450, [(":OUTP?", "0"), (expected, None)]) as smu:
        smu.configure_voltage_source(1e-4)


@pytest.mark.parametrize("call, value", [
    ("configure_current_source", 300.0), ("configure_current_source", 0.0),
    ("configure_voltage_source", 0.0), ("configure_voltage_source", 2.0),
    ("configure_voltage_source", math.nan),
    ("set_source_current", 1.5), ("set_source_current", -1.5), ("set_source_current", math.nan),
    ("set_source_voltage", 250.0), ("set_compliance_current", 0.0),
    ("set_compliance_current", -1e-4), ("set_compliance_current", 1.1),
])
def test_out_of_range_raises_before_anything_is_sent(call, value):
    with expected_protocol(Keithley2450, []) as smu, pytest.raises(ValueError):
        getattr(smu, call)(value)


def test_source_current_is_written_and_read_back_from_the_instrument():
    with expected_protocol(Keithley2450, [(":SOUR:CURR 0.00125", None),
                                          (":SOUR:CURR?", "1.250000E-03"),
                                          (":SOUR:CURR?", "1.250000E-03")]) as smu:
        smu.set_source_current(1.25e-3)
        # two reads, two queries: nothing is cached
        assert smu.read_source_current() == pytest.approx(1.25e-3)
        assert smu.read_source_current() == pytest.approx(1.25e-3)


def test_source_voltage_and_compliance_current():
    with expected_protocol(Keithley2450, [(":SOUR:VOLT -0.5", None),
                                          (":SOUR:VOLT?", "-5.000000E-01"),
                                          (":SOUR:VOLT:ILIM 5e-05", None),
                                          (":SOUR:VOLT:ILIM?", "5.000000E-05")]) as smu:
        smu.set_source_voltage(-0.5)
        assert smu.read_source_voltage() == -0.5
        smu.set_compliance_current(50e-6)
        assert smu.read_compliance_current() == pytest.approx(50e-6)


def test_compliance_voltage_control():
    with expected_protocol(Keithley2450, [(":SOUR:CURR:VLIM 2.5", None),
                                          (":SOUR:CURR:VLIM?", "2.500000E+00")]) as smu:
        smu.compliance_voltage = 2.5
        assert smu.compliance_voltage == 2.5


def test_measurements_make_one_reading_each():
    with expected_protocol(Keithley2450, [(":MEAS:VOLT?", "1.523457E-01"),
                                          (":MEAS:CURR?", "-2.006784E-11")]) as smu:
        assert smu.measure_voltage() == pytest.approx(0.1523457)
        assert smu.measure_current() == pytest.approx(-2.006784e-11)


def test_output_on_off_and_state():
    with expected_protocol(Keithley2450, [(":OUTP 1", None), (":OUTP?", "1"),
                                          (":OUTP?", "1"), (":SOUR:FUNC?", "VOLT"),
                                          (":SOUR:VOLT?", "0.000000E+00"),
                                          (":OUTP 0", None), (":OUTP?", "0")]) as smu:
        smu.enable_output()
        assert smu.read_output_enabled() is True
        smu.disable_output()
        assert smu.read_output_enabled() is False


@pytest.mark.parametrize("function, query, reply, tripped", [
    ("CURR", ":SOUR:CURR:VLIM:TRIP?", "1", True),
    ("CURR", ":SOUR:CURR:VLIM:TRIP?", "0", False),
    ("VOLT", ":SOUR:VOLT:ILIM:TRIP?", "1", True),
    ("VOLT", ":SOUR:VOLT:ILIM:TRIP?", "0", False),
])
def test_compliance_trip_is_asked_for_the_active_source_function(function, query, reply,
                                                                 tripped):
    with expected_protocol(Keithley2450, [(":SOUR:FUNC?", function), (query, reply)]) as smu:
        assert smu.in_compliance() is tripped


def test_range_and_nplc_are_strict():
    with expected_protocol(Keithley2450, [
        (":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG 0.001", None),
        (":SENS:VOLT:NPLC 0.1", None),
        (":SENS:CURR:NPLC?", "1.000000E+00"),
    ]) as smu:
        smu.source_current_range = 1e-3
        smu.voltage_nplc = 0.1
        assert smu.current_nplc == 1.0
        for name, value in [("source_current_range", 2.0), ("voltage_nplc", 20),
                            ("current_nplc", 0.001), ("voltage_range", 500)]:
            with pytest.raises(ValueError):
                setattr(smu, name, value)


def test_no_setting_silently_clamps():
    """Every settable property rejects an absurd value, and nothing reaches the instrument."""
    names = [n for n in dir(Keithley2450)
             if isinstance(getattr(Keithley2450, n), property) and getattr(Keithley2450, n).fset]
    assert "source_current" in names and "compliance_current" in names
    with expected_protocol(Keithley2450, []) as smu:
        for name in names:
            for value in (1e12, -1e12):
                try:
                    setattr(smu, name, value)
                except LookupError:
                    break  # a read-only measurement
                except (ValueError, KeyError, TypeError, NotImplementedError):
                    continue
                pytest.fail(f"{name} = {value} was accepted")


def test_error_queue_is_read_until_empty_and_raised_with_the_last_command():
    with expected_protocol(Keithley2450, [
        (":SOUR:CURR 0.001", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '-113,"Undefined header"'),
        ("SYST:ERR?", '0,"No error"'),
    ], name="shno_source") as smu:
        smu.set_source_current(1e-3)
        with pytest.raises(InstrumentError) as err:
            smu.raise_errors()
    assert err.value.instrument == "shno_source"
    assert err.value.command == ":SOUR:CURR 0.001"
    assert "-222,Data out of range" in str(err.value)
    assert "-113,Undefined header" in str(err.value)


def test_empty_error_queue_raises_nothing():
    with expected_protocol(Keithley2450, [("SYST:ERR?", '0,"No error"')]) as smu:
        smu.raise_errors()


def test_next_error_is_code_and_message():
    with expected_protocol(Keithley2450, [("SYST:ERR?", '-113,"Undefined header"')]) as smu:
        assert smu.next_error == (-113, "Undefined header")


def test_reset_clears_status_and_errors():
    with expected_protocol(Keithley2450, [(":OUTP?", "0"), ("*RST;:STAT:PRES;*CLS", None)]
                           ) as smu:
        smu.reset()


def test_pymeasure_fixed_step_ramps_are_refused():
    with expected_protocol(Keithley2450, []) as smu:
        with pytest.raises(NotImplementedError):
            smu.ramp_to_current(1e-3)
        with pytest.raises(NotImplementedError):
            smu.ramp_to_voltage(1.0)


def test_shutdown_refuses_to_switch_off_at_a_non_zero_level():
    with expected_protocol(Keithley2450, [(":OUTP?", "1"), (":SOUR:FUNC?", "CURR"),
                                          (":SOUR:CURR?", "1.000000E-03")]) as smu, \
            pytest.raises(UnsafeCommand, match="ramp it down"):
        smu.shutdown()


def test_shutdown_at_zero_switches_the_output_off():
    with expected_protocol(Keithley2450, [(":OUTP?", "1"), (":SOUR:FUNC?", "VOLT"),
                                          (":SOUR:VOLT?", "0.000000E+00"),
                                          (":OUTP 0", None)]) as smu:
        smu.shutdown()


# ---- query before act ------------------------------------------------------------------------
def test_state_is_asked_in_two_exchanges():
    with expected_protocol(Keithley2450, [
        (":OUTP?;:SOUR:FUNC?", "1;CURR"),
        (":SOUR:CURR?;:SOUR:CURR:VLIM?;:SOUR:CURR:RANG:AUTO?;:SOUR:CURR:RANG?",
         "1.000000E-03;2.100000E+01;1;1.000000E-02"),
    ]) as smu:
        assert smu.read_state() == SourceState(True, "current", 1e-3, 21.0, None)


@pytest.mark.parametrize("call, value", [("configure_current_source", 5.0),
                                         ("configure_voltage_source", 1e-4), ("reset", None)])
def test_function_change_and_reset_refused_with_the_output_on(call, value):
    with expected_protocol(Keithley2450, [(":OUTP?", "1")]) as smu, \
            pytest.raises(UnsafeCommand, match="output on"):
        getattr(smu, call)(*([] if value is None else [value]))


def test_current_limit_above_105_mA_only_on_the_low_voltage_ranges():
    with expected_protocol(Keithley2450, [(":SOUR:VOLT:RANG?", "2.000000E+02")]) as smu, \
            pytest.raises(ValueError, match="200 V source range"):
        smu.set_compliance_current(0.5)
    with expected_protocol(Keithley2450, [(":SOUR:VOLT:RANG?", "2.000000E+01"),
                                          (":SOUR:VOLT:ILIM 0.5", None)]) as smu:
        smu.set_compliance_current(0.5)
    with expected_protocol(Keithley2450, [(":SOUR:VOLT:ILIM 0.1", None)]) as smu:
        smu.set_compliance_current(0.1)  # within 105 mA: no range query


def test_compliance_voltage_is_set_and_read_back():
    with expected_protocol(Keithley2450, [(":SOUR:CURR:VLIM 5", None),
                                          (":SOUR:CURR:VLIM?", "5.000000E+00")]) as smu:
        smu.set_compliance_voltage(5.0)
        assert smu.read_compliance_voltage() == 5.0


@pytest.mark.parametrize("name, args", [("apply_current", ()), ("apply_voltage", ()),
                                        ("enable_source", ()), ("disable_source", ()),
                                        ("auto_range_source", ())])
def test_pymeasure_shortcuts_are_blocked_naming_the_role(name, args):
    with expected_protocol(Keithley2450, []) as smu, pytest.raises(UnsafeCommand, match="role"):
        getattr(smu, name)(*args)
