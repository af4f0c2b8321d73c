"""Exact exchanges of the Kepco BOP driver (BIT 4886 SCPI command set)."""

import pytest
from pymeasure.test import expected_protocol

from drivers.base import UnsafeCommand
from drivers.contracts import BipolarSupply
from drivers.kepco_bop import KepcoBOP
from labctl.errors import InstrumentError

IDN = "KEPCO,BIT 4886 20-20  01-15-2019,H260113,4.04-1.82"


def test_init_sends_nothing_and_satisfies_the_contract():
    # checked on the class: isinstance() on a runtime protocol would query the ``id``
    members = {n for n in vars(BipolarSupply) if not n.startswith("_")}
    with expected_protocol(KepcoBOP, []) as inst:
        assert inst.name
        assert all(hasattr(KepcoBOP, m) for m in members), members


def test_id():
    with expected_protocol(KepcoBOP, [(b"*IDN?", IDN.encode())]) as inst:
        assert inst.id == IDN


def test_configure_current_mode_sets_mode_and_voltage_limit_by_read_back():
    with expected_protocol(
        KepcoBOP, [(b"OUTPut?", b"0"), (b"FUNCtion:MODE CURR", None),
                   (b"VOLTage 12.500000", None), (b"VOLTage?", b"1.25E1"),
                   (b"FUNCtion:MODE?", b"1")]
    ) as inst:
        inst.configure_current_mode(12.5)


def test_mode_change_refused_with_the_output_on():
    # the BOP powers up with its output on: the field role must zero it and switch it off
    with expected_protocol(KepcoBOP, [(b"OUTPut?", b"1")]) as inst, \
            pytest.raises(UnsafeCommand, match="output on"):
        inst.configure_current_mode(12.5)


def test_mode_is_asked():
    with expected_protocol(KepcoBOP, [(b"FUNCtion:MODE?", b"0"),
                                      (b"FUNCtion:MODE?", b"1")]) as inst:
        assert inst.read_mode() == "voltage"
        assert inst.read_mode() == "current"


def test_unsafe_pymeasure_members_are_blocked():
    with expected_protocol(KepcoBOP, [(b"FUNCtion:MODE?", b"1")]) as inst:
        with pytest.raises(UnsafeCommand, match="confidence_test"):
            inst.bop_test  # noqa: B018 - DIAG:TST? swings the output to its maximum
        assert inst.operating_mode == "CURR"  # asking is fine
        with pytest.raises(UnsafeCommand):
            inst.operating_mode = "VOLT"
        with pytest.raises(UnsafeCommand):
            inst.output_enabled = False


def test_output_off_refused_while_the_coil_carries_current():
    with expected_protocol(KepcoBOP, [(b"MEASure:CURRent?", b"6.8E-1")]) as inst, \
            pytest.raises(UnsafeCommand, match="0.68 A"):
        inst.disable_output()


@pytest.mark.parametrize("limit", [0.0, -1.0, 20.5])
def test_configure_current_mode_rejects_bad_voltage_limit_before_sending(limit):
    with expected_protocol(KepcoBOP, []) as inst, pytest.raises(ValueError):
        inst.configure_current_mode(limit)


def test_read_current_setpoint_queries_the_supply_each_time():
    with expected_protocol(
        KepcoBOP, [(b"CURRent?", b"1.08333E1"), (b"CURRent?", b"-5.0E-2")]
    ) as inst:
        assert inst.read_current_setpoint() == pytest.approx(10.8333)
        assert inst.read_current_setpoint() == pytest.approx(-0.05)


def test_set_current():
    with expected_protocol(
        KepcoBOP, [(b"CURRent 10.500000", None), (b"CURRent -0.050000", None)]
    ) as inst:
        inst.set_current(10.5)
        inst.set_current(-0.05)


@pytest.mark.parametrize("amps", [20.001, -25.0])
def test_set_current_beyond_rating_raises_instead_of_clamping(amps):
    with expected_protocol(KepcoBOP, []) as inst, pytest.raises(ValueError):
        inst.set_current(amps)


def test_rating_is_a_constructor_argument():
    with expected_protocol(KepcoBOP, [(b"CURRent 8.000000", None)], max_current=10.0) as inst:
        inst.set_current(8.0)
        with pytest.raises(ValueError):
            inst.set_current(12.0)


def test_measure_current_and_voltage():
    with expected_protocol(
        KepcoBOP, [(b"MEASure:CURRent?", b"4.99E-3"), (b"MEASure:VOLTage?", b"8.0E-3")]
    ) as inst:
        assert inst.measure_current() == pytest.approx(4.99e-3)
        assert inst.measure_voltage() == pytest.approx(8.0e-3)


def test_output_state_on_off():
    with expected_protocol(
        KepcoBOP,
        [(b"OUTPut?", b"0"), (b"OUTPut 1", None), (b"OUTPut?", b"1"),
         (b"MEASure:CURRent?", b"1.0E-3"), (b"OUTPut 0", None)],
    ) as inst:
        assert inst.read_output_enabled() is False
        inst.enable_output()
        assert inst.read_output_enabled() is True
        inst.disable_output()


def test_raise_errors_reads_the_whole_queue_and_names_the_supply():
    with expected_protocol(
        KepcoBOP,
        [
            (b"CURRent 1.000000", None),
            (b"SYSTem:ERRor?", b'-222,"Data out of range"'),
            (b"SYSTem:ERRor?", b'-113,"Undefined header"'),
            (b"SYSTem:ERRor?", b'0,"No error"'),
        ],
    ) as inst:
        inst.set_current(1.0)
        with pytest.raises(InstrumentError) as err:
            inst.raise_errors()
    text = str(err.value)
    assert err.value.instrument == "Kepco BOP 20-20"
    assert "-222,Data out of range" in text and "-113,Undefined header" in text
    assert err.value.command == "CURRent 1.000000"


def test_raise_errors_with_empty_queue_is_silent():
    with expected_protocol(KepcoBOP, [(b"SYSTem:ERRor?", b'0,"No error"')]) as inst:
        inst.raise_errors()
