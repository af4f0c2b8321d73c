"""Single-oscillator physics of the simulated SHNO chain: threshold, nonlinear shift, gating."""

import math

import numpy as np
import pytest

from labctl.analysis.kittel import kittel_frequency
from labctl.clock import VirtualClock
from labctl.errors import ConfigError
from labctl.sim.device import DeviceModel


def device_at(field=0.65, **overrides):
    clock = VirtualClock()
    model = DeviceModel(clock, seed=3, **overrides)
    model.magnet.set_supply_current(field / model.params.coil_constant)
    clock.advance(20 * model.magnet.tau)
    return model


def test_threshold_from_inverse_power_fit_of_thermal_peaks():
    model = device_at()
    i_th = np.array(model.params.i_th)
    currents = np.linspace(0.55e-3, 0.9 * i_th.min(), 12)
    powers = []
    for i in currents:
        model.stripe.source_current(i, 5.0)
        truth = model.truth()
        assert truth["clusters"] == [[0], [1], [2], [3]]
        powers.append(truth["line_powers"])
    inv = 1.0 / np.array(powers)
    for j in range(4):
        slope, icept = np.polyfit(currents, inv[:, j], 1)
        assert -icept / slope == pytest.approx(i_th[j], rel=0.05)


def test_threshold_override_moves_the_fit():
    model = device_at(i_th=[1.1e-3, 1.05e-3, 1.15e-3, 1.12e-3])
    currents = np.linspace(0.6e-3, 0.92e-3, 10)
    inv = []
    for i in currents:
        model.stripe.source_current(i, 5.0)
        inv.append(1.0 / model.truth()["line_powers"][0])
    slope, icept = np.polyfit(currents, inv, 1)
    assert -icept / slope == pytest.approx(1.1e-3, rel=0.05)


def test_subthreshold_linewidth_narrows_linearly():
    model = device_at()
    widths = []
    currents = np.linspace(0.3e-3, 0.7e-3, 5)
    for i in currents:
        model.stripe.source_current(i, 5.0)
        widths.append(model.truth()["linewidths"][0])
    slope, icept = np.polyfit(currents, widths, 1)
    assert -icept / slope == pytest.approx(model.params.i_th[0], rel=0.05)


def _slopes(model):
    out = []
    for j, ith in enumerate(model.params.i_th):
        f = []
        for i in (1.02 * ith, 1.04 * ith):
            model.stripe.source_current(i, 5.0)
            f.append(model.truth()["frequencies"][j])
        out.append((f[1] - f[0]) / (0.02 * ith))
    return np.array(out)


@pytest.mark.parametrize("df_di", [-0.5e12, 0.3e12, -1.0e12])
def test_nonlinear_shift_has_configured_sign_and_slope(df_di):
    model = device_at(df_di=df_di)
    slopes = _slopes(model)
    assert np.all(np.sign(slopes) == np.sign(df_di))
    # the slope at each constriction's own threshold scales with mean(I_th)/I_th_j
    assert slopes.mean() == pytest.approx(df_di, rel=0.1)
    assert model.truth()["df_di"] == df_di


def test_default_is_red_shift_and_tilt_rule_flips_it():
    assert np.all(_slopes(device_at()) < 0)
    assert np.all(_slopes(device_at(df_di_from_tilt=True, tilt_deg=75)) < 0)
    assert np.all(_slopes(device_at(df_di_from_tilt=True, tilt_deg=55)) > 0)


def test_free_running_frequency_follows_kittel():
    for field in (0.6, 0.7):
        model = device_at(field)
        model.stripe.source_current(0.3e-3, 5.0)
        truth = model.truth()
        expected = kittel_frequency(truth["field"], math.radians(75), 0.45, 28.5e9)
        assert 7e9 < expected < 14e9
        offsets = np.array(model.params.f_offsets)
        assert np.allclose(np.array(truth["frequencies"]) - offsets, expected, atol=1e5)


def test_power_scales_with_current_squared_and_p0():
    model = device_at()
    p = model.params
    amr = p.power_scale * np.sin(2 * np.radians(p.phi_deg)) ** 2
    out = {}
    for i in (1.6e-3, 2.0e-3):
        model.stripe.source_current(i, 5.0)
        truth = model.truth()
        out[i] = (np.array(truth["powers"]), np.array(truth["p0"]))
    # above threshold the thermal part is a constant plateau; the rest is ~ I^2 p0 (AMR)
    (p1, q1), (p2, q2) = out[1.6e-3], out[2.0e-3]
    assert np.allclose(p2 - p1, amr * (4.0 * q2 - 2.56 * q1), rtol=1e-6)
    assert np.all(p2 > p1)
    # a few pW per constriction at most [PHYSICS §1]
    assert 0.1e-12 < max(p2) < 8e-12


def test_hrs_gate_field_effect_shifts_neighbours_linearly():
    model = device_at()
    # below threshold: no nonlinear shift from the gate's threshold change, tiny node voltage
    model.stripe.source_current(0.3e-3, 5.0)
    base = np.array(model.truth()["frequencies"])
    model.gate.source_voltage(2.0, 1e-6)
    shifted = np.array(model.truth()["frequencies"])
    k = model.params.gated_memristor
    assert shifted[k] - base[k] == pytest.approx(2.0 * 20e6, rel=0.02)
    assert shifted[k + 1] - base[k + 1] == pytest.approx(2.0 * 20e6, rel=0.02)
    others = [j for j in range(4) if j not in (k, k + 1)]
    assert np.allclose(shifted[others], base[others], atol=1e3)


def test_stripe_resistance_rises_quadratically_and_compliance_limits():
    model = device_at()
    v1, i1 = model.stripe.source_current(1e-3, 5.0)
    v2, i2 = model.stripe.source_current(2e-3, 5.0)
    r1, r2 = v1 / i1, v2 / i2
    assert r1 == pytest.approx(150.0 + 2e6 * 1e-6, rel=1e-3)
    assert r2 - r1 == pytest.approx(2e6 * 3e-6, rel=0.02)
    v, i = model.stripe.source_current(2e-3, 0.1)
    assert v == pytest.approx(0.1)
    assert i == pytest.approx(0.1 / 150.0, rel=0.01)


@pytest.mark.parametrize("key,value", [("bogus", 1), ("i_th", [1e-3]), ("coupling", -1.0),
                                       ("tilt_deg", "75"), ("gated_memristor", 3)])
def test_bad_overrides_raise_one_line_config_error(key, value):
    with pytest.raises(ConfigError) as err:
        DeviceModel(VirtualClock(), **{key: value})
    msg = str(err.value)
    assert key in msg and "\n" not in msg


def test_power_is_continuous_and_monotonic_through_threshold():
    model = device_at()
    powers = []
    for i in np.arange(0.3e-3, 2.2e-3, 5e-6):
        model.stripe.source_current(i, 5.0)
        powers.append(model.truth()["powers"])
    powers = np.array(powers)
    assert np.all(np.diff(powers, axis=0) > 0)
    assert np.max(powers[1:] / powers[:-1]) < 1.1  # no jump at threshold
