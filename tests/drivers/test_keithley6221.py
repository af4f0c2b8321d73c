"""Keithley 6221 driver: the exact SCPI exchange of every contract method."""

from __future__ import annotations

import inspect
import math

import pytest
from pymeasure.test import expected_protocol

from drivers.base import UnsafeCommand
from drivers.contracts import CurrentSource, SourceState
from drivers.keithley6221 import Keithley6221
from labctl.errors import InstrumentError


def test_implements_the_current_source_contract():
    members = {n for n in vars(CurrentSource) if not n.startswith("_")}
    with expected_protocol(Keithley6221, []) as src:
        for name in members | set(CurrentSource.__annotations__):
            assert inspect.getattr_static(src, name, None) is not None, name
        assert src.name == "Keithley 6221"


def test_id_queries_the_instrument():
    with expected_protocol(Keithley6221, [("*IDN?", "KEITHLEY INSTRUMENTS INC.,MODEL 6221,1,D04")]
                           ) as src:
        assert src.id == "KEITHLEY INSTRUMENTS INC.,MODEL 6221,1,D04"


def test_configure_current_source_sets_range_and_compliance():
    with expected_protocol(Keithley6221, [("OUTPut?", "0"),
                                          (":SOUR:CURR:RANG:AUTO 1;:SOUR:CURR:COMP 5", None)]
                           ) as src:
        src.configure_current_source(5.0)


@pytest.mark.parametrize("call, value", [
    ("configure_current_source", 0.05), ("configure_current_source", 200.0),
    ("configure_current_source", math.nan),
    ("set_source_current", 0.2), ("set_source_current", -0.2), ("set_source_current", math.nan),
])
def test_out_of_range_raises_before_anything_is_sent(call, value):
    with expected_protocol(Keithley6221, []) as src, pytest.raises(ValueError):
        getattr(src, call)(value)


def test_source_current_is_written_and_read_back_from_the_instrument():
    with expected_protocol(Keithley6221, [(":SOUR:CURR -0.0005", None),
                                          (":SOUR:CURR?", "-5.000000E-04"),
                                          (":SOUR:CURR?", "-5.000000E-04")]) as src:
        src.set_source_current(-0.5e-3)
        assert src.read_source_current() == pytest.approx(-0.5e-3)
        assert src.read_source_current() == pytest.approx(-0.5e-3)


def test_compliance_and_range_controls():
    with expected_protocol(Keithley6221, [(":SOUR:CURR:COMP 2.5", None),
                                          (":SOUR:CURR:COMP?", "2.500000E+00"),
                                          (":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG 0.002", None)]
                           ) as src:
        src.source_compliance = 2.5
        assert src.source_compliance == 2.5
        src.source_range = 2e-3
        for name, value in [("source_compliance", 0.0), ("source_compliance", 106),
                            ("source_range", 0.2)]:
            with pytest.raises(ValueError):
                setattr(src, name, value)


def test_measure_voltage_is_nan_and_sends_nothing():
    with expected_protocol(Keithley6221, []) as src:
        assert math.isnan(src.measure_voltage())


def test_output_on_off_and_state():
    with expected_protocol(Keithley6221, [("OUTPut 1", None), ("OUTPut?", "1"),
                                          ("OUTPut?", "1"), (":SOUR:CURR?", "0.000000E+00"),
                                          ("OUTPut 0", None), ("OUTPut?", "0")]) as src:
        src.enable_output()
        assert src.read_output_enabled() is True
        src.disable_output()
        assert src.read_output_enabled() is False


@pytest.mark.parametrize("condition, tripped", [("8", True), ("10", True), ("2", False),
                                                ("0", False)])
def test_compliance_is_bit_3_of_the_measurement_condition_register(condition, tripped):
    with expected_protocol(Keithley6221, [(":STAT:MEAS:COND?", condition)]) as src:
        assert src.in_compliance() is tripped


def test_no_setting_silently_clamps():
    """Every settable property rejects an absurd value, and nothing reaches the instrument."""
    names = [n for n in dir(Keithley6221)
             if isinstance(getattr(Keithley6221, n), property) and getattr(Keithley6221, n).fset]
    assert "source_current" in names and "waveform_amplitude" in names
    with expected_protocol(Keithley6221, []) as src:
        for name in names:
            for value in (1e12, -1e12):
                try:
                    setattr(src, name, value)
                except LookupError:
                    break
                except (ValueError, KeyError, TypeError, NotImplementedError):
                    continue
                pytest.fail(f"{name} = {value} was accepted")


def test_error_queue_is_raised_with_the_last_command():
    with expected_protocol(Keithley6221, [(":SOUR:CURR 0.001", None),
                                          ("SYST:ERR?", '-222,"Parameter data out of range"'),
                                          ("SYST:ERR?", '0,"No error"')],
                           name="shno_source") as src:
        src.set_source_current(1e-3)
        with pytest.raises(InstrumentError) as err:
            src.raise_errors()
    assert err.value.instrument == "shno_source"
    assert err.value.command == ":SOUR:CURR 0.001"
    assert "-222,Parameter data out of range" in str(err.value)


def test_empty_error_queue_raises_nothing():
    with expected_protocol(Keithley6221, [("SYST:ERR?", '0,"No error"')]) as src:
        src.raise_errors()


def test_reset_clears_the_error_queue_and_status():
    with expected_protocol(Keithley6221, [("OUTPut?", "0"),
                                          (":STAT:QUE:CLE;*RST;:STAT:PRES;*CLS", None)]) as src:
        src.reset()


def test_shutdown_refuses_to_switch_off_at_a_non_zero_current():
    # pymeasure's shutdown would switch the output off at once
    with expected_protocol(Keithley6221, [("OUTPut?", "1"), (":SOUR:CURR?", "1.000000E-03")]
                           ) as src, pytest.raises(UnsafeCommand, match="ramp it down"):
        src.shutdown()


def test_shutdown_at_zero_switches_the_output_off():
    with expected_protocol(Keithley6221, [("OUTPut?", "1"), (":SOUR:CURR?", "0.000000E+00"),
                                          ("OUTPut 0", None)]) as src:
        src.shutdown()


def test_shutdown_with_the_output_off_sends_nothing_else():
    with expected_protocol(Keithley6221, [("OUTPut?", "0")]) as src:
        src.shutdown()


def test_state_is_current_only_and_asked():
    with expected_protocol(Keithley6221, [
        (":OUTP?", "1"),
        (":SOUR:CURR?;:SOUR:CURR:COMP?;:SOUR:CURR:RANG:AUTO?;:SOUR:CURR:RANG?",
         "1.000000E-03;1.000000E+01;0;2.000000E-03"),
    ]) as src:
        assert src.read_state() == SourceState(True, "current", 1e-3, 10.0, 2e-3)


def test_configure_refused_with_the_output_on():
    with expected_protocol(Keithley6221, [("OUTPut?", "1")]) as src, \
            pytest.raises(UnsafeCommand, match="output on"):
        src.configure_current_source(5.0)
