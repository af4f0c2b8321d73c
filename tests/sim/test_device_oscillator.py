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
    currents = np.linspace(0.5e-3, 0.85 * i_th.min(), 12)
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


def _slopes(model, lo=1.25, hi=1.30):
    out = []
    for j, ith in enumerate(model.params.i_th):
        f = []
        for i in (lo * ith, hi * ith):
            model.stripe.source_current(i, 5.0)
            f.append(model.truth()["frequencies"][j])
        out.append((f[1] - f[0]) / ((hi - lo) * ith))
    return np.array(out)


@pytest.mark.parametrize("df_di", [-0.5e12, 0.3e12, -1.0e12])
def test_nonlinear_shift_has_configured_sign_and_slope(df_di):
    model = device_at(df_di=df_di, df_di_from_tilt=False, joule_df_di2=0.0)
    slopes = _slopes(model)
    assert np.all(np.sign(slopes) == np.sign(df_di))
    # dp0/dzeta = (1+Q)/(zeta+Q)^2 with Q = 1, scaled by mean(I_th)/I_th_j
    i_th = np.array(model.params.i_th)
    expected = df_di * 4.0 / (1.275 + 1.0) ** 2 * i_th.mean() / i_th
    assert np.allclose(slopes, expected, rtol=0.1)
    assert model.truth()["df_di"] == df_di


@pytest.mark.parametrize("tilt,sign", [(50, -1), (58, -1), (62, -1), (68, 1), (75, 1),
                                       (85, 1)])
def test_nonlinear_shift_is_red_near_the_plane_and_blue_near_the_normal(tilt, sign):
    # macrospin: N < 0 with M near the plane, > 0 near the normal; measured constrictions
    # cross over between ~60 and ~70 deg of field tilt [PHYSICS §1]
    model = device_at(tilt_deg=tilt, joule_df_di2=0.0)
    assert np.all(np.sign(_slopes(model)) == sign)
    assert np.sign(model.truth()["df_di"]) == sign


def test_joule_heating_makes_f_of_i_non_monotonic_at_the_default_tilt():
    model = device_at(coupling=0.0)
    currents = np.arange(0.9e-3, 2.5e-3, 0.05e-3)
    f = []
    for i in currents:
        model.stripe.source_current(i, 5.0)
        f.append(model.truth()["frequencies"][0])
    top = int(np.argmax(f))
    assert 0 < top < len(f) - 1  # blue above threshold, red once heating wins
    assert f[-1] < f[top] - 50e6


def test_free_running_frequency_follows_kittel():
    for field in (0.6, 0.7):
        model = device_at(field)
        model.stripe.source_current(0.3e-3, 5.0)
        truth = model.truth()
        expected = kittel_frequency(truth["field"], math.radians(75), 0.45, 28.5e9)
        assert 7e9 < expected < 14e9
        p = model.params
        offsets = np.array(p.f_offsets) + p.frequency_offset + p.joule_df_di2 * 0.3e-3 ** 2
        assert np.allclose(np.array(truth["frequencies"]) - offsets, expected, atol=2e6)


def test_power_grows_above_threshold_as_current_squared_times_p0():
    model = device_at(coupling=0.0)
    p = model.params
    out = {}
    for zeta in (1.2, 2.5):
        i = zeta * p.i_th[0]
        model.stripe.source_current(i, 5.0)
        out[zeta] = model.truth()["powers"][0] / (i**2 * (zeta - 1) / (zeta + p.q_nl))
    # the same I^2 p0 law (AMR) at both ends, +13.7 dB from 1.2 to 2.5 I_th [PHYSICS §1]
    assert out[2.5] == pytest.approx(out[1.2], rel=0.05)
    model.stripe.source_current(2.2e-3, 5.0)
    # 0.1-1 pW per constriction at the device
    assert all(0.1e-12 < w < 1e-12 for w in model.truth()["powers"])


def test_no_emission_at_zero_field_or_with_the_current_reversed():
    model = device_at(field=0.0, coupling=0.0)
    model.stripe.source_current(2.0e-3, 5.0)
    assert max(model.truth()["powers"]) < 1e-3 * 0.1e-12  # M along the stripe: no AMR output
    model = device_at(coupling=0.0)
    model.stripe.source_current(-2.0e-3, 5.0)
    truth = model.truth()
    assert max(truth["p0"]) == 0.0  # the torque damps instead: no auto-oscillation
    assert max(truth["powers"]) < 0.01e-12


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
                                       ("tilt_deg", "75"), ("gated_memristor", 3),
                                       ("preset", "loud"), ("spurs", [[1e9]])])
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
