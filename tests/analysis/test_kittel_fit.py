"""Kittel fit of f(B) at a tilted field: μ0Meff, γ/2π and g."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.analysis.kittel import kittel_frequency
from labctl.analysis.kittel_fit import fit_kittel

THETA_H = np.radians(75.0)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(meff=st.floats(0.25, 0.6), gamma=st.floats(27.5e9, 29.5e9), seed=st.integers(0, 999))
def test_recovers_meff_and_gamma_from_noisy_data(meff, gamma, seed):
    rng = np.random.default_rng(seed)
    field = np.linspace(0.3, 1.0, 30)
    freq = kittel_frequency(field, THETA_H, meff, gamma) + rng.normal(0, 20e6, field.size)
    fit = fit_kittel(field, freq, THETA_H)
    assert fit.meff == pytest.approx(meff, rel=0.05)
    assert fit.gamma == pytest.approx(gamma, rel=0.02)
    assert fit.residual_rms < 40e6


def test_fixed_gamma_and_g_factor():
    field = np.linspace(0.55, 0.75, 11)
    freq = kittel_frequency(field, THETA_H, 0.42, 28.0e9)
    fit = fit_kittel(field, freq, THETA_H, gamma=28.0e9)
    assert fit.meff == pytest.approx(0.42, rel=1e-3)
    assert fit.gamma == 28.0e9
    assert fit.g_factor == pytest.approx(2.0006, abs=1e-3)  # 28 GHz/T · h/μB


def test_needs_matching_arrays():
    with pytest.raises(ValueError, match="equal 1-D"):
        fit_kittel(np.ones(3), np.ones(4), THETA_H)


def test_narrow_field_range_finds_the_true_minimum():
    """Over 0.6-0.7 T Meff and gamma trade off along a valley with false minima."""
    import numpy as np

    from labctl.analysis.kittel import kittel_frequency
    from labctl.analysis.kittel_fit import fit_kittel

    b = np.linspace(0.6, 0.7, 11)
    theta = np.radians(75)
    fit = fit_kittel(b, kittel_frequency(b, theta, 0.45, 28.5e9), theta)
    assert abs(fit.meff - 0.45) < 1e-3 and abs(fit.gamma / 28.5e9 - 1) < 1e-3


def test_offset_and_uncertainties_cover_the_truth():
    b = np.linspace(0.5, 0.8, 13)
    pulls = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        f = kittel_frequency(b, THETA_H, 0.45, 28.5e9) - 150e6 + rng.normal(0, 2e6, b.size)
        fit = fit_kittel(b, f, THETA_H, offset=True)
        assert fit.meff == pytest.approx(0.45, rel=0.02)
        assert fit.offset == pytest.approx(-150e6, abs=60e6)
        pulls.append([(fit.meff - 0.45) / fit.meff_err, (fit.gamma - 28.5e9) / fit.gamma_err])
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.6)
    assert np.all((pulls.std(axis=0) > 0.6) & (pulls.std(axis=0) < 1.5))  # calibrated
