"""The memristor behind the gate source: hysteresis, analog LRS, forming, breakdown."""

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel


def staircase(model, levels, compliance):
    out = []
    for v in levels:
        out.append(model.gate.source_voltage(v, compliance))
    return np.array(out)


def ramp(a, b, step=0.1):
    n = int(round(abs(b - a) / step))
    return np.linspace(a, b, n + 1)[1:]


def test_iv_staircase_is_hysteretic_and_resets():
    model = DeviceModel(VirtualClock(), seed=2)
    up = staircase(model, ramp(0, 5), 50e-6)
    down = staircase(model, ramp(5, 0), 50e-6)
    neg = staircase(model, ramp(0, -2), 50e-6)
    back = staircase(model, ramp(-2, 0), 50e-6)
    i_up_02 = up[np.argmin(abs(up[:, 0] - 0.2)), 1]
    i_down_02 = down[np.argmin(abs(down[:, 0] - 0.2)), 1]
    assert abs(i_up_02) < 1e-9  # HRS on the way up
    assert i_down_02 > 10e-6  # LRS on the way down: non-volatile after SET
    assert np.isclose(up[:, 1].max(), 50e-6)  # the compliance clamped the SET
    # RESET on the negative side, then HRS again on the way back
    assert abs(back[-2, 1]) < 1e-9
    assert neg[:, 1].min() <= -0.5 * 50e-6
    v, i = model.gate.source_voltage(0.2, 1e-3)
    assert abs(i) < 1e-9


@pytest.mark.parametrize("compliance", [20e-6, 80e-6])
def test_lrs_level_set_by_compliance(compliance):
    model = DeviceModel(VirtualClock(), seed=2)
    staircase(model, ramp(0, 5), compliance)
    staircase(model, ramp(5, 0), compliance)
    v, i = model.gate.source_voltage(0.1, 1e-3)
    assert v / i == pytest.approx(0.4 / compliance, rel=0.03)
    assert model.truth()["memristor_resistance"][1] == pytest.approx(0.4 / compliance)


def test_huge_compliance_breaks_it_permanently():
    model = DeviceModel(VirtualClock(), seed=2)
    staircase(model, ramp(0, 5), 0.1)
    assert model.truth()["memristor_broken"][1]
    staircase(model, ramp(5, -2), 0.1)  # a RESET attempt
    staircase(model, ramp(-2, 0), 0.1)
    truth = model.truth()
    assert truth["memristor_broken"][1]
    assert 100 <= truth["memristor_resistance"][1] <= 1000
    v, i = model.gate.source_voltage(0.1, 1e-3)
    assert v / i < 1100


def test_overvoltage_in_hrs_breaks_down():
    model = DeviceModel(VirtualClock(), seed=2, v_set=20.0)
    model.gate.source_voltage(12.0, 1e-6)
    assert model.truth()["memristor_broken"][1]


def test_forming_needed_when_not_formed():
    model = DeviceModel(VirtualClock(), seed=2, formed=False)
    staircase(model, ramp(0, 3.5), 50e-6)
    assert model.truth()["memristor_resistance"][1] > 1e10  # pristine
    staircase(model, ramp(3.5, 8.0), 50e-6)
    assert model.truth()["memristor_resistance"][1] == pytest.approx(8e3)


def _set_voltages(seed, cycles):
    model = DeviceModel(VirtualClock(), seed=seed)
    found = []
    for _ in range(cycles):
        levels = ramp(0, 5, 0.02)
        up = staircase(model, levels, 50e-6)
        found.append(levels[np.argmax(up[:, 1] > 1e-6)])
        staircase(model, ramp(5, -1.5, 0.5), 50e-6)
        staircase(model, [0.0], 50e-6)
    return np.array(found)


def test_set_voltage_spread_is_lognormal_and_reproducible():
    v = _set_voltages(7, 40)
    assert 2.0 < np.median(v) < 4.0
    assert 0.08 < np.std(np.log(v)) < 0.25
    assert np.array_equal(v, _set_voltages(7, 40))
    assert not np.array_equal(v, _set_voltages(8, 40))


def test_state_is_non_volatile():
    clock = VirtualClock()
    model = DeviceModel(clock, seed=2)
    staircase(model, ramp(0, 5), 40e-6)
    model.gate.off()
    assert model.gate.read() == (0.0, 0.0)
    clock.advance(24 * 3600)
    v, i = model.gate.source_voltage(0.1, 1e-3)
    assert v / i == pytest.approx(1e4, rel=0.03)


def test_lrs_gate_current_shifts_downstream_frequencies():
    clock = VirtualClock()
    model = DeviceModel(clock, seed=2)
    model.magnet.set_supply_current(10.8)
    clock.advance(10)
    model.stripe.source_current(1.5e-3, 5.0)
    staircase(model, ramp(0, 5), 50e-6)
    model.gate.source_voltage(0.0, 1e-3)
    base = np.array(model.truth()["frequencies"])
    model.gate.source_voltage(1.0, 1e-3)
    truth = model.truth()
    shifted = np.array(truth["frequencies"])
    assert truth["constriction_currents"][3] - truth["constriction_currents"][0] == pytest.approx(
        truth["gate_current"])
    assert np.all(shifted[2:] < base[2:] - 5e6)  # red shift from the extra current
    assert np.allclose(shifted[:2], base[:2], atol=1e5)
    # the stripe source sees the injected current in its voltage reading
    assert model.stripe.read()[1] == pytest.approx(1.5e-3)
