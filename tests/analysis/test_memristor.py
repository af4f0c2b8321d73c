"""SET/RESET detection on a staircase I–V cycle and read resistance."""

import math

import numpy as np
import pytest

from labctl.analysis.memristor import detect_switching, resistance_at


def staircase(v_max=5.0, v_min=-2.0, step=0.1):
    up = np.arange(0, v_max + step / 2, step)
    down = np.arange(v_max, v_min - step / 2, -step)
    back = np.arange(v_min, step / 2, step)
    return np.concatenate([up, down[1:], back[1:]])


def hysteretic_iv(v, v_set=3.2, v_reset=-0.8, r_hrs=2e9, i_cc=50e-6, r_lrs=8e3, rng=None):
    """HRS until V ≥ v_set (then LRS clamped at compliance) until V ≤ v_reset."""
    i = np.empty_like(v)
    lrs = False
    for k, vk in enumerate(v):
        if not lrs and vk >= v_set:
            lrs = True
        elif lrs and vk <= v_reset:
            lrs = False
        i[k] = np.clip(vk / r_lrs, -i_cc, i_cc) if lrs else vk / r_hrs
    if rng is not None:
        i = i + rng.normal(0, 5e-12, v.size)  # pA-level meter noise
    return i


@pytest.mark.parametrize("seed", range(5))
def test_detects_set_and_reset_within_one_step(seed):
    rng = np.random.default_rng(seed)
    v_set = rng.uniform(2.0, 4.5)
    v_reset = rng.uniform(-1.8, -0.5)
    v = staircase()
    sw = detect_switching(v, hysteretic_iv(v, v_set, v_reset, rng=rng))
    assert abs(sw.v_set - v_set) <= 0.1 + 1e-9
    assert abs(sw.v_reset - v_reset) <= 0.1 + 1e-9
    assert v[sw.set_index] == sw.v_set
    assert sw.set_index < sw.reset_index


def test_compliance_reached_counts_as_set():
    v = staircase()
    i = hysteretic_iv(v, v_set=2.5, r_lrs=1e9 / 3)  # a soft SET: only a 6× jump…
    i = np.where((v >= 4.0) & (np.arange(v.size) < np.argmax(v) + 1), 50e-6, i)  # …then I_cc
    sw = detect_switching(v, i, compliance=50e-6)
    assert sw.v_set == pytest.approx(4.0)


def test_no_switching_gives_nan():
    v = staircase()
    rng = np.random.default_rng(1)
    sw = detect_switching(v, v / 2e9 + rng.normal(0, 5e-12, v.size))
    assert math.isnan(sw.v_set) and math.isnan(sw.v_reset)
    assert sw.set_index is None and sw.reset_index is None


def test_resistance_at_guards_tiny_currents():
    assert resistance_at(0.1, 1e-5) == pytest.approx(1e4)
    assert resistance_at(0.1, -1e-5) == pytest.approx(1e4)
    assert resistance_at(0.1, 0.0) == math.inf
    assert math.isnan(resistance_at(0.0, 0.0))
    assert math.isnan(resistance_at(0.1, float("nan")))
    r = resistance_at(np.array([0.1, 0.1]), np.array([1e-6, 1e-18]))
    assert r[0] == pytest.approx(1e5) and r[1] == math.inf
