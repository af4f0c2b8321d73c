"""Threshold current from 1/P and from the linewidth below threshold."""

import numpy as np
import pytest

from labctl.analysis.threshold import threshold_from_inverse_power, threshold_from_linewidth

I_TH = 0.9e-3


def sweep(rng, noise=0.05, start=0.2e-3, stop=1.8e-3, n=81):
    """Current sweep: thermal peak P ∝ 1/(1 − ζ) below I_th, auto-oscillation above."""
    current = np.linspace(start, stop, n)
    zeta = current / I_TH
    thermal = 1e-14 / np.clip(1 - zeta, 0.02, None)
    auto = np.where(zeta > 1, 1e-12 * (zeta - 1) / (zeta + 1), 0.0)
    power = np.where(zeta < 1, thermal, 0.0) + auto
    return current, power * (1 + noise * rng.standard_normal(n))


@pytest.mark.parametrize("seed", range(5))
def test_threshold_from_inverse_power_within_5_percent(seed):
    current, power = sweep(np.random.default_rng(seed))
    fit = threshold_from_inverse_power(current, power)
    assert fit.i_th == pytest.approx(I_TH, rel=0.05)
    assert fit.slope < 0 < fit.intercept
    assert fit.r2 > 0.95
    assert 20 <= fit.n_points <= 40  # the sub-threshold points only


def test_unsorted_input_and_floor_readings_are_handled():
    current, power = sweep(np.random.default_rng(7))
    power[:3] = 0.0  # below the floor: no 1/P
    order = np.random.default_rng(8).permutation(current.size)
    fit = threshold_from_inverse_power(current[order], power[order])
    assert fit.i_th == pytest.approx(I_TH, rel=0.05)


def test_caller_mask_or_current_limit():
    current, power = sweep(np.random.default_rng(9))
    by_mask = threshold_from_inverse_power(current, power, below=current < 0.8e-3)
    by_limit = threshold_from_inverse_power(current, power, below=0.8e-3)
    assert by_mask == by_limit
    assert by_mask.i_th == pytest.approx(I_TH, rel=0.05)


@pytest.mark.parametrize("seed", range(5))
def test_threshold_from_linewidth_within_5_percent(seed):
    rng = np.random.default_rng(seed)
    current = np.linspace(0.2e-3, 1.8e-3, 81)
    zeta = current / I_TH
    # Narrowing Δf0·(1 − ζ) below threshold; above, a 5–15 MHz auto-oscillation line.
    fwhm = np.where(zeta < 1, 300e6 * (1 - zeta), 15e6 / zeta)
    fwhm = np.maximum(fwhm, 5e6) * (1 + 0.03 * rng.standard_normal(current.size))
    fit = threshold_from_linewidth(current, fwhm)
    assert fit.i_th == pytest.approx(I_TH, rel=0.05)


def test_too_few_points():
    with pytest.raises(ValueError, match="at least"):
        threshold_from_inverse_power([1e-3, 2e-3], [1e-13, 2e-13])
