"""Shared memristor operations: the read, the pulse ladders, the programming goal."""

import math

import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.station import open_station
from procedures.memristor_ops import (
    PROGRAM_KEYS,
    Goal,
    ladder,
    ohm_text,
    program_memristor,
    read_memristor,
    read_resistance,
)


@pytest.fixture
def station():
    return open_station(default_sim_station())


def test_read_returns_the_device_resistance_and_leaves_zero_volts(station):
    r = read_resistance(station.gate, 0.1, 100e-6)
    k = station.sim.device.params.gated_memristor
    truth = station.sim.device.truth()["memristor_resistance"][k]
    assert r == pytest.approx(truth, rel=0.05)  # read noise ~1 %
    assert station.gate.measure()[0] == 0.0
    reading = read_memristor(station.gate, 0.2, 100e-6)
    assert not reading.compliance_hit and reading.voltage == 0.2


@pytest.mark.parametrize("v_read", [0.0, -0.1, 0.25])
def test_read_outside_0_to_02_v_sends_nothing(station, v_read):
    with pytest.raises(UserInputError, match="v_read"):
        read_resistance(station.gate, v_read, 100e-6)
    assert station.sim.instruments["gate"].commands() == []


def test_ladders_include_their_end():
    np.testing.assert_allclose(ladder(1.5, 2.0, 0.2), [1.5, 1.7, 1.9, 2.0])
    np.testing.assert_allclose(ladder(-0.2, -0.6, 0.2), [-0.2, -0.4, -0.6])
    np.testing.assert_allclose(ladder(0.0, 0.3, 0.1), [0.0, 0.1, 0.2, 0.3])


def test_goal():
    assert Goal(10e3, 0.1).met(10.9e3) and not Goal(10e3, 0.1).met(11.1e3)
    assert Goal("HRS").met(5e9) and Goal("HRS").met(math.inf) and not Goal("HRS").met(4e3)
    assert Goal("LRS").met(4e3) and not Goal("LRS").met(5e9)
    assert not Goal(10e3).met(math.nan)
    with pytest.raises(UserInputError):
        Goal("ON")
    with pytest.raises(UserInputError):
        Goal(-5.0)


def test_program_yields_one_dict_per_pulse(station):
    steps = list(program_memristor(station.gate, 20e3, tolerance=0.05, clock=station.clock))
    assert all(tuple(s) == PROGRAM_KEYS for s in steps)
    assert steps[0]["pulse"] == 0 and steps[0]["pulse_kind"] == 0
    assert [s["pulse"] for s in steps] == list(range(len(steps)))
    assert steps[-1]["within_tolerance"] and not any(s["within_tolerance"] for s in steps[:-1])
    assert steps[-1]["resistance"] == pytest.approx(20e3, rel=0.05)
    times = [s["time"] for s in steps]
    assert times == sorted(times)
    # SET amplitudes grow until the device switches
    first_set = [s["pulse_voltage"] for s in steps if s["pulse_kind"] == 1][:3]
    assert first_set == pytest.approx([1.5, 1.6, 1.7])


def test_program_respects_max_pulses(station):
    steps = list(program_memristor(station.gate, 20e3, max_pulses=3))
    assert len(steps) == 4 and not steps[-1]["within_tolerance"]


def test_program_checks_the_gate_limits_before_sending(station):
    with pytest.raises(LimitError, match="set_stop"):
        next(program_memristor(station.gate, 10e3, set_stop=9.0))
    with pytest.raises(LimitError, match="compliance_stop"):
        next(program_memristor(station.gate, 10e3, compliance_stop=5e-3))
    assert station.sim.instruments["gate"].commands() == []


def test_ohm_text():
    assert ohm_text(4075.0) == "4.08 kΩ"
    assert ohm_text(5e9) == "5 GΩ"
    assert ohm_text(math.inf) == "open"
