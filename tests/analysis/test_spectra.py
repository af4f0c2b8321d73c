"""Trace conversion to device-referred PSD and the noise-floor estimate."""

import numpy as np
import pytest

from labctl.analysis.spectra import (
    background_spurs,
    dbm_to_psd,
    estimate_background,
    excess_profile,
    smooth_background,
)


def test_dbm_to_psd_removes_gain_and_noise_bandwidth():
    # -79 dBm in 1 MHz after 32 dB: 10^-11.1 mW / 1.06 MHz at the device.
    assert dbm_to_psd(-79.0, 1e6, gain_db=32.0) == pytest.approx(10 ** -11.1 * 1e-3 / 1.06e6)
    psd = dbm_to_psd(np.array([-70.0, -60.0]), 1e5)
    assert psd[1] / psd[0] == pytest.approx(10.0)


def test_dbm_to_psd_rejects_zero_rbw():
    with pytest.raises(ValueError, match="rbw"):
        dbm_to_psd(-70.0, 0.0)


def test_background_stays_near_the_floor_with_lines_present():
    rng = np.random.default_rng(3)
    f = np.linspace(8e9, 10e9, 10001)
    # A locked line 30 dB up, 1 MHz wide, and four free-running ones 8 dB up, 10 MHz wide.
    excess = 1000 / (1 + ((f - 9e9) / 0.5e6) ** 2)
    for fc in (8.4e9, 8.6e9, 9.3e9, 9.6e9):
        excess += 5.3 / (1 + ((f - fc) / 5e6) ** 2)
    floor = -79.0 + 10 * np.log10(1 + excess)
    trace = floor + rng.normal(0, 5.57 / np.sqrt(10), f.size)
    # Lorentzian wings really do lift ~1/5 of this span by 0.1–3 dB, and with it the median;
    # fit_spectrum takes its fitted lines out and corrects the rest.
    assert estimate_background(trace) == pytest.approx(-79.0, abs=0.6)
    assert estimate_background(trace) > -79.0


def test_segmented_background_follows_a_gain_slope():
    rng = np.random.default_rng(4)
    slope = np.linspace(-82.0, -76.0, 10001)
    trace = slope + rng.normal(0, 1.0, slope.size)
    bg = estimate_background(trace, segments=8)
    assert bg.shape == slope.shape
    assert np.max(np.abs(bg - slope)[500:-500]) < 0.4


def test_smoothed_background_keeps_spurs_and_loses_noise():
    rng = np.random.default_rng(5)
    f = np.linspace(8e9, 12e9, 10001)
    floor = -79.0 + 0.4 * np.sin(2 * np.pi * f / 650e6)
    y = floor + rng.normal(0, 0.3, f.size)
    spur = np.argmin(np.abs(f - 10.4e9))
    y[spur] = -70.0
    smooth = smooth_background(y, f[1] - f[0])
    assert smooth[spur] == y[spur]  # the spur is kept as measured
    away = np.abs(f - 10.4e9) > 50e6
    assert np.std((smooth - floor)[away]) < 0.1 < np.std((y - floor)[away])


def test_excess_profile_integrates_a_line_and_flattens_the_gain_ripple():
    f = np.linspace(8e9, 12e9, 10001)
    df = f[1] - f[0]
    rbw, gain_db = 1e6, 32.0
    ripple = 10 ** (0.4 * np.sin(2 * np.pi * f / 650e6) / 10)
    floor_w = 1e-11 * ripple  # W in one noise bandwidth, at the analyzer
    fc, width, power = 10.3e9, 15e6, 0.3e-12  # a line at the device
    density = power / (np.pi / 2 * width) / (1 + (2 * (f - fc) / width) ** 2)
    line_w = density * 1.06 * rbw * 10 ** (gain_db / 10) * ripple[np.argmin(abs(f - fc))]
    trace = 10 * np.log10((floor_w + line_w) / 1e-3)
    background = 10 * np.log10(floor_w / 1e-3)
    bands = excess_profile(trace, background, rbw, df, 25, gain_db)
    assert bands.sum() == pytest.approx(power, rel=0.03)
    raw = excess_profile(trace, background, rbw, df, 25, gain_db, flatten=False)
    assert abs(raw.sum() / power - 1) > abs(bands.sum() / power - 1)


def test_background_spurs_are_found_where_they_stand_out():
    rng = np.random.default_rng(7)
    f = np.linspace(8e9, 12e9, 10001)
    y = -79.0 + rng.normal(0, 0.2, f.size)
    for f_spur in (8.75e9, 10.4e9):
        y[np.argmin(np.abs(f - f_spur))] = -72.0
    assert background_spurs(y, f) == [pytest.approx(8.75e9, abs=1e6),
                                      pytest.approx(10.4e9, abs=1e6)]
    assert background_spurs(-79.0 + rng.normal(0, 0.2, f.size), f) == []
