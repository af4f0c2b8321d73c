"""fit_spectrum on synthetic analyzer traces with known truth (Lorentzians + dB noise)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import voigt_profile

from labctl.analysis.lorentz import Peak, fit_spectrum
from labctl.analysis.peaks import classify_sync, count_lines

ENBW = 1.0645  # equivalent noise bandwidth of a Gaussian RBW filter, in RBW
SCATTER_DB = 5.57  # trace scatter of one sweep in dB (Rayleigh-distributed power)


def line_psd(peak_psd: float, fwhm: float, fc: float, f: np.ndarray) -> np.ndarray:
    return peak_psd / (1.0 + (2.0 * (f - fc) / fwhm) ** 2)


def trace(rng: np.random.Generator, lines, *, f_start=8e9, span=2e9, n=10001, rbw=1e6,
          floor_psd=7.5e-21, gain_db=32.0, averages=10, rbw_filter=False):
    """(freq, dBm trace) for lines given as (centre Hz, FWHM Hz, integrated power W).

    The floor and the lines are device-referred PSDs (W/Hz); ``rbw_filter`` convolves the
    lines with a Gaussian RBW filter instead of assuming them much wider than the RBW.
    """
    f = np.linspace(f_start, f_start + span, n)
    psd = np.full(n, float(floor_psd)) if np.ndim(floor_psd) == 0 else np.asarray(floor_psd)
    psd = psd.copy()
    for fc, fwhm, power in lines:
        if rbw_filter:
            sigma = rbw / np.sqrt(8 * np.log(2))
            psd += power * ENBW * rbw * voigt_profile(f - fc, sigma, fwhm / 2) / (ENBW * rbw)
        else:
            psd += line_psd(power / (0.5 * np.pi * fwhm), fwhm, fc, f)
    watts = psd * 1.06 * rbw * 10 ** (gain_db / 10)
    dbm = 10 * np.log10(watts / 1e-3)
    return f, dbm + rng.normal(0.0, SCATTER_DB / np.sqrt(averages), n)


FLOOR = 7.5e-21  # W/Hz at the device
RBW = 1e6
BIN = 2e9 / 10000


def power_for(snr_db: float, fwhm: float) -> float:
    """Integrated power of a line whose top is ``snr_db`` above the floor."""
    return FLOOR * (10 ** (snr_db / 10) - 1) * np.pi / 2 * fwhm


def fit(rng, lines, **kw):
    rbw_filter = kw.pop("rbw_filter", False)
    averages = kw.pop("averages", 10)
    f, y = trace(rng, lines, averages=averages, rbw_filter=rbw_filter)
    return fit_spectrum(f, y, RBW, gain_db=32.0, **kw)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(centre=st.floats(8.1e9, 9.9e9), fwhm=st.floats(5e6, 25e6), snr_db=st.floats(10, 25),
       averages=st.sampled_from([10, 20, 50]), seed=st.integers(0, 2**16))
def test_single_line_recovered(centre, fwhm, snr_db, averages, seed):
    power = power_for(snr_db, fwhm)
    peaks = fit(np.random.default_rng(seed), [(centre, fwhm, power)], averages=averages)
    assert len(peaks) == 1
    (p,) = peaks
    assert abs(p.frequency - centre) <= max(BIN, 2e6)
    # within 20 %, or within the fit's own 4 sigma (a narrow line 10 dB up: ~10 %). Hypothesis
    # goes for the corner (5 MHz, 10 dB, 10 averages), where 3 sigma missed 1 % of draws: with
    # 25 examples per run, a test that must pass at random needs bounds a draw misses far less
    assert abs(p.fwhm - fwhm) <= max(0.2 * fwhm, 4 * p.fwhm_err)
    assert abs(p.integrated_power - power) <= max(0.2 * power, 4 * p.power_err)
    assert abs(p.frequency - centre) <= 4 * p.frequency_err + BIN
    assert p.peak_psd == pytest.approx(FLOOR * (10 ** (snr_db / 10) - 1), rel=0.3)
    assert p.snr_db == pytest.approx(snr_db, abs=2.0)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(centre=st.floats(8.1e9, 9.9e9), fwhm=st.floats(5e6, 20e6), seed=st.integers(0, 2**16))
def test_faint_line_centre_within_two_mhz(centre, fwhm, seed):
    # The accuracy goal: lines >= 6 dB above the floor, >= 10 averages.
    peaks = fit(np.random.default_rng(seed), [(centre, fwhm, power_for(6.0, fwhm))])
    assert len(peaks) == 1
    assert abs(peaks[0].frequency - centre) <= max(BIN, 2e6)


@pytest.mark.parametrize("averages", [1, 10, 100])
def test_noise_alone_gives_no_line(averages):
    rng = np.random.default_rng(averages)
    for _ in range(20):
        assert fit(rng, [], averages=averages) == []


def test_four_unlocked_oscillators_give_four_lines_sorted():
    truth = [(8.6e9, 12e6, power_for(7, 12e6)), (8.75e9, 15e6, power_for(8, 15e6)),
             (8.9e9, 10e6, power_for(6, 10e6)), (9.05e9, 20e6, power_for(9, 20e6))]
    peaks = fit(np.random.default_rng(11), truth)
    assert [p.frequency for p in peaks] == sorted(p.frequency for p in peaks)
    assert len(peaks) == 4
    for p, (fc, _, power) in zip(peaks, truth):
        assert abs(p.frequency - fc) <= 2e6
        assert p.integrated_power == pytest.approx(power, rel=0.25)
    assert classify_sync(count_lines(peaks)) == "none"


def test_partial_sync_two_overlapping_clusters_resolved():
    truth = [(8.80e9, 8e6, power_for(12, 8e6)), (8.83e9, 10e6, power_for(10, 10e6))]
    peaks = fit(np.random.default_rng(12), truth)
    assert [round(p.frequency / 1e6) for p in peaks] == pytest.approx([8800, 8830], abs=2)
    assert classify_sync(count_lines(peaks)) == "partial"


def test_full_sync_one_strong_narrow_line_through_the_rbw_filter():
    # 3 MHz wide seen through a 1 MHz Gaussian RBW: the reported FWHM is deconvolved.
    truth = [(8.85e9, 3e6, power_for(30, 3e6))]
    peaks = fit(np.random.default_rng(13), truth, rbw_filter=True)
    assert len(peaks) == 1
    assert peaks[0].frequency == pytest.approx(8.85e9, abs=BIN)
    assert peaks[0].fwhm == pytest.approx(3e6, rel=0.2)
    assert peaks[0].integrated_power == pytest.approx(truth[0][2], rel=0.2)
    assert classify_sync(count_lines(peaks)) == "full"


def test_unresolved_line_reports_power_and_a_width_below_the_rbw():
    truth = [(8.85e9, 0.2e6, 2e-13)]
    peaks = fit(np.random.default_rng(14), truth, rbw_filter=True)
    assert len(peaks) == 1
    assert peaks[0].fwhm <= RBW
    assert peaks[0].integrated_power == pytest.approx(2e-13, rel=0.2)


def test_lines_closer_than_merge_distance_are_one_peak():
    truth = [(8.800e9, 4e6, power_for(15, 4e6)), (8.806e9, 4e6, power_for(15, 4e6))]
    peaks = fit(np.random.default_rng(15), truth, merge_distance=10e6)
    assert len(peaks) == 1
    assert 8.798e9 < peaks[0].frequency < 8.808e9


def test_min_snr_drops_faint_lines():
    truth = [(8.5e9, 10e6, power_for(20, 10e6)), (9.5e9, 10e6, power_for(6, 10e6))]
    rng = np.random.default_rng(16)
    f, y = trace(rng, truth, averages=50)
    assert len(fit_spectrum(f, y, RBW, gain_db=32.0, min_snr_db=3.0)) == 2
    strong = fit_spectrum(f, y, RBW, gain_db=32.0, min_snr_db=12.0)
    assert [round(p.frequency / 1e6) for p in strong] == pytest.approx([8500], abs=2)


def test_max_peaks_keeps_the_strongest():
    truth = [(8.3e9 + k * 0.3e9, 10e6, power_for(8 + 4 * k, 10e6)) for k in range(5)]
    peaks = fit(np.random.default_rng(17), truth, max_peaks=2)
    assert [round(p.frequency / 1e8) for p in peaks] == [92, 95]


def test_background_trace_is_subtracted_on_a_sloped_floor():
    rng = np.random.default_rng(18)
    f = np.linspace(8e9, 10e9, 10001)
    floor_psd = FLOOR * 10 ** (np.linspace(-3, 3, f.size) / 10)
    truth = [(9.2e9, 15e6, 1e-12)]
    f, y = trace(rng, truth, floor_psd=floor_psd, averages=20)
    _, bg = trace(rng, [], floor_psd=floor_psd, averages=200)
    peaks = fit_spectrum(f, y, RBW, gain_db=32.0, background_dbm=bg)
    assert len(peaks) == 1
    assert peaks[0].frequency == pytest.approx(9.2e9, abs=2e6)
    assert peaks[0].integrated_power == pytest.approx(1e-12, rel=0.2)


def test_float32_trace_fits_as_its_float64_copy():
    """The analyzer's float32 trace, widened inside the fit, gives the float64 trace's fit
    exactly: with a background trace and without."""
    rng = np.random.default_rng(21)
    f, y = trace(rng, [(8.6e9, 8e6, 2e-13), (9.3e9, 12e6, 5e-13)], averages=20)
    _, bg = trace(rng, [], averages=200)
    y32 = y.astype(np.float32)
    for background in (bg, None):
        got = fit_spectrum(f, y32, RBW, gain_db=32.0, background_dbm=background)
        want = fit_spectrum(f, y32.astype(np.float64), RBW, gain_db=32.0,
                            background_dbm=background)
        assert len(got) == 2
        assert got == want


def test_zoom_span_narrow_rbw():
    rng = np.random.default_rng(19)
    f, y = trace(rng, [(8.85e9, 1.5e6, 1e-12)], f_start=8.75e9, span=200e6, rbw=200e3,
                 floor_psd=FLOOR, averages=20, rbw_filter=True)
    peaks = fit_spectrum(f, y, 200e3, gain_db=32.0, merge_distance=1e6)
    assert len(peaks) == 1
    assert peaks[0].frequency == pytest.approx(8.85e9, abs=100e3)
    assert peaks[0].fwhm == pytest.approx(1.5e6, rel=0.2)


def test_peak_is_frozen():
    p = Peak(frequency=1.0, fwhm=1.0, peak_psd=1.0, integrated_power=1.0, snr_db=1.0)
    with pytest.raises(AttributeError):
        p.frequency = 2.0


def test_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="equal 1-D"):
        fit_spectrum(np.arange(100.0), np.zeros(99), RBW)


def test_wings_of_strong_broad_lines_do_not_lift_the_floor():
    # Four 20 dB lines 30 MHz wide lift the median of the trace by ~1.5 dB.
    truth = [(8.4e9 + k * 0.4e9, 30e6, power_for(20, 30e6)) for k in range(4)]
    peaks = fit(np.random.default_rng(20), truth)
    assert len(peaks) == 4
    for p, (_, fwhm, power) in zip(peaks, truth):
        assert p.fwhm == pytest.approx(fwhm, rel=0.1)
        assert p.integrated_power == pytest.approx(power, rel=0.1)
