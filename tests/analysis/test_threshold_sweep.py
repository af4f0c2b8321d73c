"""The threshold of a sweep from the integrated power above threshold, its uncertainty and
the verdict that keeps a bad number from being printed like a good one."""

import numpy as np
import pytest

from labctl.analysis.threshold import onset_derivatives, onset_model, threshold_from_power
from labctl.analysis.threshold_sweep import (
    PEAK_LINE,
    PEAK_THERMAL,
    line_window,
    threshold_of_sweep,
    window_power,
)

I_TH = 0.9e-3


def chain_power(currents, thresholds=(0.87e-3, 0.90e-3, 0.93e-3, 0.89e-3), scale=1e-7):
    """Integrated power of four constrictions: each I^2 p(I/I_th) with Q = 1."""
    return sum(scale * onset_model(currents, t, 1.0, 0.015) for t in thresholds)


def test_power_fit_recovers_the_chains_threshold_with_calibrated_errors():
    currents = np.arange(0.4e-3, 2.2001e-3, 20e-6)
    true = chain_power(currents)
    pulls = []
    for seed in range(40):
        sigma = 0.004 * true.max()
        noisy = true + np.random.default_rng(seed).normal(0, sigma, true.size)
        fit = threshold_from_power(currents, noisy, np.full(true.size, sigma))
        assert fit.i_th == pytest.approx(0.8975e-3, rel=0.05)
        pulls.append((fit.i_th - 0.8975e-3) / fit.i_th_err)
    assert abs(np.mean(pulls)) < 0.7 and 0.5 < np.std(pulls) < 1.5


@pytest.mark.parametrize("i_th, q, width", [(0.5, 1.0, 0.03), (0.9, 0.3, 0.01), (0.2, 5.0, 0.2)])
def test_the_fits_derivatives_are_the_models(i_th, q, width):
    # the power fit is given these instead of finite differences: they must be the slopes
    i = np.linspace(0.01, 1.0, 301)
    i = i[np.abs(i - i_th) > 1e-3]  # the onset has a kink at i = i_th
    model, *slopes = onset_derivatives(i, i_th, q, width)
    assert np.array_equal(model, onset_model(i, i_th, q, width))
    args = np.array([i_th, q, width])
    for k, slope in enumerate(slopes):
        h = np.zeros(3)
        h[k] = 1e-6
        numeric = (onset_model(i, *(args + h)) - onset_model(i, *(args - h))) / 2e-6
        np.testing.assert_allclose(slope, numeric, rtol=1e-5, atol=1e-9)


def test_power_fit_refuses_what_is_only_noise():
    currents = np.linspace(0.4e-3, 0.8e-3, 20)
    with pytest.raises(ValueError, match="no power above the noise"):
        threshold_from_power(currents, np.random.default_rng(1).normal(0, 1, 20),
                             np.ones(20))


def sweep(currents, noise=0.004, seed=0, bands=60, line_band=30):
    """Rows x bands of excess power (the lines in one band), a floor, and fitted peaks."""
    rng = np.random.default_rng(seed)
    power = chain_power(currents)
    floor = np.full(bands, power.max() / 4)
    excess = rng.normal(0, noise / 4, (currents.size, bands)) * floor
    excess[:, line_band] += power
    centres = 10e9 + np.arange(bands) * 10e6
    n = currents.size
    freq = np.full((n, 8), np.nan)
    kind = np.full((n, 8), -1)
    above = currents > 1.05 * I_TH
    freq[above, 0] = centres[line_band]
    kind[above, 0] = PEAK_LINE
    fwhm = np.where(np.isfinite(freq), 10e6, np.nan)
    return excess, centres, floor, freq, fwhm, kind, np.where(np.isfinite(freq), 1e-13, np.nan)


def test_a_good_sweep_gets_a_good_verdict_and_order_does_not_matter():
    up = np.arange(0.4e-3, 2.2001e-3, 20e-6)
    report = threshold_of_sweep(up, *sweep(up))
    assert report.quality == "good", report.reasons
    assert report.i_th == pytest.approx(0.8975e-3, rel=0.03)
    down = up[::-1]
    report_down = threshold_of_sweep(down, *sweep(down))
    assert report_down.i_th == pytest.approx(report.i_th, rel=0.03)
    results = report.as_results()
    assert results["threshold_quality"] == "good" and "threshold_current_err" in results


def test_a_sweep_that_starts_above_threshold_is_unreliable():
    currents = np.arange(1.4e-3, 2.2001e-3, 20e-6)
    report = threshold_of_sweep(currents, *sweep(currents))
    assert report.quality == "unreliable"
    assert any("starts above threshold" in r for r in report.reasons)


def test_a_sweep_without_lines_says_so():
    currents = np.arange(0.4e-3, 0.8e-3, 20e-6)
    excess, centres, floor, freq, fwhm, kind, power = sweep(currents)
    report = threshold_of_sweep(currents, excess, centres, floor, freq, fwhm, kind, power)
    assert report.quality == "unreliable" and not np.isfinite(report.i_th)
    assert report.reasons == ["no oscillator line found at any current"]
    assert "threshold_current" not in report.as_results()


def test_noisy_lines_and_coarse_steps_make_it_uncertain():
    currents = np.arange(0.4e-3, 2.2001e-3, 100e-6)
    report = threshold_of_sweep(currents, *sweep(currents, noise=0.05))
    assert report.quality in ("uncertain", "unreliable")
    assert any("current step" in r or "uncertainty" in r for r in report.reasons)


def test_window_follows_lines_not_thermal_peaks_and_noise_scales_with_power():
    centres = 10e9 + np.arange(100) * 10e6
    freq = np.array([[10.3e9, 10.6e9]])
    inside = line_window(centres, freq, np.array([[10e6, 200e6]]),
                         np.array([[PEAK_LINE, PEAK_THERMAL]]))
    assert inside[30] and not inside[60] and inside.sum() == 29
    excess = np.zeros((2, 100))
    excess[1, 30] = 10.0
    floor = np.ones(100)
    excess[:, ~inside] = np.random.default_rng(2).normal(0, 0.1, (2, 100 - 29))
    power, sigma = window_power(excess, floor, inside)
    assert power[1] == pytest.approx(10.0) and sigma[1] > sigma[0]


def test_window_is_every_band_within_reach_of_any_line():
    # the definition, band by band and line by line, on sweeps with lines exactly a window
    # away from a band and lines of equal and of different widths
    centres = 8e9 + np.arange(400) * 10e6
    rng = np.random.default_rng(5)
    for trial in range(300):
        rows = int(rng.integers(0, 30))
        freq = rng.uniform(7.5e9, 12.5e9, (rows, 8))
        if trial % 2:
            freq = centres[rng.integers(0, 400, (rows, 8))] + rng.choice([0.0, 150e6, -300e6],
                                                                         (rows, 8))
        fwhm = rng.choice([1e6, 20e6, 26e6, 60e6], (rows, 8))
        kind = rng.choice([PEAK_LINE, PEAK_THERMAL, -1], (rows, 8))
        freq[rng.random((rows, 8)) < 0.2] = np.nan
        want = np.zeros(400, dtype=bool)
        for f, w, k in zip(freq.ravel(), fwhm.ravel(), kind.ravel()):
            if k == PEAK_LINE and np.isfinite(f):
                want |= np.abs(centres - f) < min(max(6.0 * w, 150e6), 300e6)
        assert np.array_equal(line_window(centres, freq, fwhm, kind), want)
