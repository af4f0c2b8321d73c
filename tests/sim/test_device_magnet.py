"""The electromagnet: inductive lag, voltage limit, remanence, gaussmeter noise."""

import math

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel


def test_coil_current_lags_a_step_by_l_over_r():
    clock = VirtualClock()
    model = DeviceModel(clock, coil_inductance=0.3, coil_resistance=1.2)
    magnet = model.magnet
    tau = 0.3 / 1.2
    magnet.set_supply_current(2.0)
    assert magnet.supply_setpoint() == 2.0
    assert magnet.coil_current() == 0.0
    clock.advance(tau)
    assert magnet.coil_current() == pytest.approx(2.0 * (1 - math.exp(-1)), rel=0.01)
    clock.advance(10 * tau)
    assert magnet.coil_current() == pytest.approx(2.0, rel=1e-4)


def test_supply_voltage_limit_slows_large_steps():
    clock = VirtualClock()
    model = DeviceModel(clock, supply_voltage_limit=5.0, supply_loop_gain=20.0)
    magnet = model.magnet
    magnet.set_supply_current(4.0)
    clock.advance(0.01)
    # with a fast loop the clamp at 5 V sets dI/dt = (5 - R I)/L
    assert magnet.coil_current() == pytest.approx(5.0 * (1 - math.exp(-0.01 / 0.2)), rel=0.01)
    clock.advance(5.0)
    assert magnet.coil_current() == pytest.approx(4.0, rel=1e-6)


def test_field_calibration_and_remanence_follows_history():
    clock = VirtualClock()
    model = DeviceModel(clock)
    magnet = model.magnet
    magnet.set_supply_current(10.8)
    clock.advance(5)
    assert magnet.field() == pytest.approx(0.65, abs=0.006)
    magnet.set_supply_current(0.0)
    clock.advance(5)
    after_positive = magnet.field()
    magnet.set_supply_current(-15.0)
    clock.advance(5)
    assert magnet.field() == pytest.approx(-0.9, abs=0.006)
    magnet.set_supply_current(0.0)
    clock.advance(5)
    after_negative = magnet.field()
    assert 1e-3 < after_positive < 6e-3
    assert -6e-3 < after_negative < -1e-3
    # approach from below vs from above gives a different field at the same current
    magnet.set_supply_current(5.0)
    clock.advance(5)
    from_below = magnet.field()
    magnet.set_supply_current(8.0)
    clock.advance(5)
    magnet.set_supply_current(5.0)
    clock.advance(5)
    assert magnet.field() > from_below + 1e-3


def test_gaussmeter_noise_offset_and_replay():
    def readings(seed):
        clock = VirtualClock()
        magnet = DeviceModel(clock, seed=seed).magnet
        magnet.set_supply_current(10.0)
        clock.advance(5)
        out = []
        for _ in range(300):
            clock.advance(0.1)
            out.append(magnet.gaussmeter_reading())
        return np.array(out), magnet.field()

    a, field = readings(1)
    assert np.std(a) == pytest.approx(5e-5, rel=0.15)
    assert np.mean(a) - field == pytest.approx(2e-5, abs=1e-5)
    assert np.array_equal(a, readings(1)[0])
    assert not np.array_equal(a, readings(2)[0])
