"""The memristor behind the gate source: hysteresis, analog LRS, spreads, wear, breakdown."""

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel
from labctl.sim.memristor import Memristor
from labctl.sim.params import DeviceParams

RESET_COMPLIANCE = 1e-3  # a RESET needs about the SET current through the filament


def staircase(model, levels, compliance):
    out = []
    for v in levels:
        out.append(model.gate.source_voltage(v, compliance))
    return np.array(out)


def ramp(a, b, step=0.1):
    n = int(round(abs(b - a) / step))
    return np.linspace(a, b, n + 1)[1:]


def set_lrs(model, compliance, top=5.0):
    staircase(model, ramp(0, top), compliance)
    staircase(model, ramp(top, 0), compliance)


def reset(model, bottom=-2.0):
    staircase(model, ramp(0, bottom), RESET_COMPLIANCE)
    staircase(model, ramp(bottom, 0), RESET_COMPLIANCE)


def resistance(model, k=1):
    return model.truth()["memristor_resistance"][k]


def read(model, v=0.1):
    """What a source meter measures at V_read: memristor plus the series lead."""
    v, i = model.gate.source_voltage(v, 1e-3)
    return v / i - model.params.gate_series_resistance


def test_iv_staircase_is_hysteretic_and_resets():
    model = DeviceModel(VirtualClock(), seed=2)
    up = staircase(model, ramp(0, 5), 50e-6)
    down = staircase(model, ramp(5, 0), 50e-6)
    neg = staircase(model, ramp(0, -2), RESET_COMPLIANCE)
    back = staircase(model, ramp(-2, 0), RESET_COMPLIANCE)
    i_up_02 = up[np.argmin(abs(up[:, 0] - 0.2)), 1]
    i_down_02 = down[np.argmin(abs(down[:, 0] - 0.2)), 1]
    assert abs(i_up_02) < 1e-9  # HRS on the way up
    assert i_down_02 > 5e-6  # LRS on the way down: non-volatile after SET
    assert np.isclose(up[:, 1].max(), 50e-6)  # the compliance clamped the SET
    # RESET on the negative side, then HRS again on the way back
    assert abs(back[-2, 1]) < 1e-9
    assert neg[:, 1].min() <= -0.5 * 50e-6
    v, i = model.gate.source_voltage(0.2, 1e-3)
    assert abs(i) < 1e-9


def test_reset_needs_about_the_set_current():
    model = DeviceModel(VirtualClock(), seed=2)
    set_lrs(model, 100e-6)
    # a compliance far below the SET current holds the voltage across the filament low
    staircase(model, ramp(0, -2), 10e-6)
    staircase(model, ramp(-2, 0), 10e-6)
    assert resistance(model) < 1e5
    reset(model)
    assert resistance(model) > 1e8


@pytest.mark.parametrize("compliance", [20e-6, 80e-6])
def test_lrs_level_set_by_compliance(compliance):
    model = DeviceModel(VirtualClock(), seed=2)
    set_lrs(model, compliance)
    # 0.4 V / I_cc, within the cycle-to-cycle and device-to-device spread
    r = resistance(model)
    assert 0.4 / compliance * 0.6 < r < 0.4 / compliance / 0.6
    assert read(model) == pytest.approx(r, rel=0.05)  # read noise ~1 %


def test_a_larger_compliance_on_a_set_device_lowers_its_resistance():
    model = DeviceModel(VirtualClock(), seed=2)
    set_lrs(model, 20e-6)
    high = resistance(model)
    set_lrs(model, 100e-6)  # SET again, no RESET between
    low = resistance(model)
    assert low < high / 3
    assert 0.4 / 100e-6 * 0.6 < low < 0.4 / 100e-6 / 0.6


def test_lrs_spreads_from_cycle_to_cycle():
    model = DeviceModel(VirtualClock(), seed=4)
    found = []
    for _ in range(30):
        set_lrs(model, 40e-6)
        found.append(resistance(model))
        reset(model)
    assert 0.06 < np.std(np.log(found)) < 0.2  # ~12 % cycle to cycle
    assert np.median(found) == pytest.approx(1e4, rel=0.3)


def test_devices_differ_in_lrs_level_set_voltage_and_endurance():
    p = DeviceParams.from_overrides({"r_lrs_spread": 0.0, "v_set_spread": 0.0})
    devices = [Memristor(p, 1, seed) for seed in range(60)]
    for m in devices:
        m._set(40e-6)
    assert 0.06 < np.std(np.log([m.r_lrs for m in devices])) < 0.15
    assert 0.06 < np.std(np.log([m.set_voltage() for m in devices])) < 0.15
    assert 0.2 < np.std(np.log([m.endurance for m in devices])) < 0.4


def test_reset_voltage_spreads_around_v_reset():
    # without the series lead the source applies V_RESET to the memristor itself (with it,
    # the source needs V_RESET x (R + R_lead) / R)
    model = DeviceModel(VirtualClock(), seed=3, gate_series_resistance=0.0)
    found = []
    for _ in range(30):
        set_lrs(model, 50e-6)
        levels = ramp(0, -2.0, 0.01)
        for v in levels:
            model.gate.source_voltage(v, RESET_COMPLIANCE)
            if resistance(model) > 1e8:
                found.append(v)
                break
        staircase(model, ramp(v, 0.0), RESET_COMPLIANCE)
    found = np.array(found)
    assert len(found) == 30
    assert np.median(found) == pytest.approx(model.params.v_reset, rel=0.15)
    assert 0.08 < np.std(np.log(-found)) < 0.25


def test_reads_are_noisy():
    model = DeviceModel(VirtualClock(), seed=2)
    set_lrs(model, 50e-6)
    model.gate.source_voltage(0.1, 1e-3)
    currents = np.array([model.gate.read()[1] for _ in range(200)])
    assert np.std(currents) / np.mean(currents) == pytest.approx(0.01, rel=0.3)


def test_wears_out_stuck_in_lrs_after_its_endurance():
    model = DeviceModel(VirtualClock(), seed=2, endurance=8.0, endurance_spread=0.0)
    for cycle in range(8):
        set_lrs(model, 50e-6)
        reset(model)
        assert resistance(model) > 1e8, cycle
    set_lrs(model, 50e-6)
    reset(model)
    assert resistance(model) < 1e5  # the filament no longer dissolves
    assert not model.truth()["memristor_broken"][1]


def test_huge_compliance_breaks_it_permanently():
    model = DeviceModel(VirtualClock(), seed=2)
    staircase(model, ramp(0, 5), 0.1)
    assert model.truth()["memristor_broken"][1]
    staircase(model, ramp(5, -2), 0.1)  # a RESET attempt
    staircase(model, ramp(-2, 0), 0.1)
    truth = model.truth()
    assert truth["memristor_broken"][1]
    assert 100 <= resistance(model) <= 1000
    assert read(model) < 1100


def test_overvoltage_in_hrs_breaks_down():
    model = DeviceModel(VirtualClock(), seed=2, v_set=20.0)
    model.gate.source_voltage(12.0, 1e-6)
    assert model.truth()["memristor_broken"][1]


def test_forming_needed_when_not_formed():
    model = DeviceModel(VirtualClock(), seed=2, formed=False)
    staircase(model, ramp(0, 3.5), 50e-6)
    assert resistance(model) > 1e10  # pristine
    staircase(model, ramp(3.5, 8.0), 50e-6)
    assert 8e3 * 0.6 < resistance(model) < 8e3 / 0.6


def _set_voltages(seed, cycles):
    model = DeviceModel(VirtualClock(), seed=seed)
    found = []
    for _ in range(cycles):
        levels = ramp(0, 5, 0.02)
        up = staircase(model, levels, 50e-6)
        found.append(levels[np.argmax(up[:, 1] > 1e-6)])
        staircase(model, ramp(5, 0, 0.5), 50e-6)
        reset(model)
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
    r = resistance(model)
    model.gate.off()
    assert model.gate.read() == (0.0, 0.0)
    clock.advance(24 * 3600)
    assert read(model) == pytest.approx(r, rel=0.05)


def test_lrs_gate_current_flows_through_the_downstream_constrictions():
    def at_field(**kw):
        clock = VirtualClock()
        model = DeviceModel(clock, seed=2, coupling=0.0, **kw)
        model.magnet.set_supply_current(10.8)
        clock.advance(10)
        return model

    model = at_field()
    model.stripe.source_current(1.5e-3, 5.0)
    set_lrs(model, 50e-6)
    model.gate.source_voltage(0.3, 1e-3)  # inside the LRS window: no growth, no RESET
    truth = model.truth()
    i_gate = truth["gate_current"]
    assert i_gate > 10e-6
    assert truth["constriction_currents"][3] - truth["constriction_currents"][0] == \
        pytest.approx(i_gate)
    # the stripe source sees the injected current in its voltage reading, not its own
    assert model.stripe.read()[1] == pytest.approx(1.5e-3)
    # downstream constrictions oscillate as if the stripe carried I + I_gate
    reference = at_field()
    reference.stripe.source_current(1.5e-3 + i_gate, 5.0)
    assert np.allclose(truth["frequencies"][2:], reference.truth()["frequencies"][2:],
                       atol=1e4)
    upstream = at_field()
    upstream.stripe.source_current(1.5e-3, 5.0)
    assert np.allclose(truth["frequencies"][:2], upstream.truth()["frequencies"][:2],
                       atol=1e4)
