"""Trace conversion to device-referred PSD and the noise-floor estimate."""

import numpy as np
import pytest

from labctl.analysis.spectra import dbm_to_psd, estimate_background


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
