"""What the spectrum analyzer shows: noise floor, trace statistics, ripple, spurs, lines."""

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel

SPAN = (9.0e9, 11.0e9)
CLEAN = {"ripple_db": 0.0, "spurs": []}  # a flat floor where a test needs one


def device_at(seed=1, field=0.65, **overrides):
    clock = VirtualClock()
    model = DeviceModel(clock, seed=seed, **overrides)
    model.magnet.set_supply_current(field / model.params.coil_constant)
    clock.advance(20 * model.magnet.tau)
    return model


def expected_floor(rbw, gain=32.0, nf=2.5):
    return -174.0 + gain + nf + 10 * np.log10(1.06 * rbw)


@pytest.mark.parametrize("rbw", [100e3, 1e6, 3e6])
def test_noise_floor_without_oscillation(rbw):
    model = device_at(**CLEAN)
    model.stripe.source_current(0.0, 5.0)
    trace = model.spectrum(*SPAN, 2001, rbw, rbw / 10, 200, average_type="power")
    assert trace.dtype == np.float32 and trace.shape == (2001,)
    assert np.mean(trace) == pytest.approx(expected_floor(rbw), abs=1.0)


def test_gain_and_noise_figure_overrides_move_the_floor():
    model = device_at(amp_gain_db=20.0, amp_nf_db=4.0, analyzer_floor_dbm_hz=-170.0, **CLEAN)
    trace = model.spectrum(*SPAN, 2001, 1e6, 1e5, 200)
    assert np.mean(trace) == pytest.approx(expected_floor(1e6, 20.0, 4.0), abs=1.0)


def test_single_sweep_scatter_and_log_averaging():
    # one noise sample per point (VBW >= RBW, sample detector): exponential power,
    # 5.57 dB scatter on a log scale; log averaging shrinks it as 1/sqrt(n) and reads 2.5 dB low
    model = device_at(**CLEAN)
    one = model.spectrum(*SPAN, 10001, 1e6, 1e6, 1, detector="sample")
    assert np.std(one) == pytest.approx(5.57, abs=0.3)
    for n in (4, 16, 64):
        log = model.spectrum(*SPAN, 10001, 1e6, 1e6, n, detector="sample", average_type="log")
        assert np.std(log) == pytest.approx(5.57 / np.sqrt(n), rel=0.1)
        power = model.spectrum(*SPAN, 10001, 1e6, 1e6, n, detector="sample")
        assert np.std(power) < np.std(one) / np.sqrt(n) * 1.1
    log = model.spectrum(*SPAN, 10001, 1e6, 1e6, 100, detector="sample", average_type="log")
    power = model.spectrum(*SPAN, 10001, 1e6, 1e6, 100, detector="sample")
    assert np.mean(log) - np.mean(power) == pytest.approx(-2.5, abs=0.2)


def test_video_bandwidth_smooths_the_trace():
    model = device_at(**CLEAN)
    wide = model.spectrum(*SPAN, 2001, 1e6, 1e6, 1, detector="sample")
    narrow = model.spectrum(*SPAN, 2001, 1e6, 1e5, 1, detector="sample")
    # the video filter averages RBW/VBW = 10 noise samples: Gamma(10) in power
    assert np.std(narrow) == pytest.approx(10 / np.log(10) * np.sqrt(0.1052), rel=0.15)
    assert np.std(narrow) < np.std(wide) / 3


def test_average_detector_integrates_the_dwell_of_each_point():
    model = device_at(**CLEAN)
    # 2 GHz over 2001 points: 1 MHz per point; at VBW = RBW/10 each point dwells on
    # k * bin / VBW = 25 noise samples, at VBW = RBW on 2.5
    slow = model.spectrum(*SPAN, 2001, 1e6, 1e5, 1, detector="average")
    fast = model.spectrum(*SPAN, 2001, 1e6, 1e6, 1, detector="average")
    assert np.std(slow) == pytest.approx(10 / np.log(10) * np.sqrt(1 / 24.5), rel=0.15)
    assert np.std(fast) > 2 * np.std(slow)
    assert np.mean(slow) == pytest.approx(expected_floor(1e6), abs=0.3)


def test_peak_and_negative_detectors_straddle_the_mean_power():
    model = device_at(**CLEAN)
    args = (*SPAN, 401, 1e6, 1e6, 20)  # 5 MHz per point: ~12 samples per point
    avg = np.mean(model.spectrum(*args, detector="average"))
    peak = np.mean(model.spectrum(*args, detector="peak"))
    low = np.mean(model.spectrum(*args, detector="negative"))
    assert avg == pytest.approx(expected_floor(1e6), abs=0.3)
    # max of ~12 exponentials: mean power H_12 = 3.1 (4.9 dB); min: 1/12 (-10.8 dB)
    assert peak - avg == pytest.approx(4.9, abs=0.6)
    assert low - avg == pytest.approx(-10.8, abs=1.0)


def test_points_closer_than_the_rbw_see_correlated_noise():
    model = device_at(**CLEAN)
    fine = model.spectrum(*SPAN, 10001, 1e6, 1e5, 10)  # 0.2 MHz per point: 5 per RBW
    coarse = model.spectrum(*SPAN, 1001, 1e6, 1e5, 10)  # 2 MHz per point

    def lag1(x):
        x = x - x.mean()
        return float(x[1:] @ x[:-1] / (x @ x))

    assert lag1(fine) > 0.6
    assert abs(lag1(coarse)) < 0.1


def test_floor_ripples_gently_and_spurs_show_in_every_trace():
    model = device_at()
    spurs = model.params.spurs
    freq = np.linspace(8e9, 12e9, 10001)
    trace = model.spectrum(8e9, 12e9, 10001, 1e6, 1e5, 200)
    for f_spur, dbm in spurs:
        near = np.abs(freq - f_spur) < 1e6
        on_floor = 10 * np.log10(10 ** (dbm / 10) + 10 ** (expected_floor(1e6) / 10))
        assert trace[near].max() == pytest.approx(on_floor, abs=1.0)
    away = np.ones(freq.size, dtype=bool)
    for f_spur, _ in spurs:
        away &= np.abs(freq - f_spur) > 5e6
    smooth = np.convolve(trace[away], np.ones(101) / 101, mode="valid")
    ripple = smooth.max() - smooth.min()
    assert 0.3 < ripple < 2 * 2 * model.params.ripple_db + 0.2
    flat = device_at(**CLEAN).spectrum(8e9, 12e9, 10001, 1e6, 1e5, 200)
    assert np.ptp(np.convolve(flat, np.ones(101) / 101, mode="valid")) < 0.3


def test_locked_line_shows_at_the_true_frequency_well_above_floor():
    model = device_at()
    model.stripe.source_current(2.2e-3, 5.0)
    truth = model.truth()
    assert len(truth["line_frequencies"]) == 1
    freq = np.linspace(*SPAN, 10001)
    trace = model.spectrum(*SPAN, 10001, 1e6, 1e5, 50)
    peak = freq[np.argmax(trace)]
    assert peak == pytest.approx(truth["line_frequencies"][0], abs=1e6)
    assert 10.0 < trace.max() - expected_floor(1e6) < 30.0


def test_narrow_line_shows_full_power_in_a_wide_rbw():
    model = device_at(linewidth_min=1e4, linewidth_threshold=4e4, coupling=1e9, ripple_db=0.0)
    model.stripe.source_current(2.1e-3, 5.0)
    truth = model.truth()
    power_dbm = 10 * np.log10(truth["line_powers"][0] * 1e3) + 32.0
    f0 = truth["line_frequencies"][0]
    trace = model.spectrum(f0 - 50e6, f0 + 50e6, 1001, 3e6, 3e5, 200)
    assert trace.max() == pytest.approx(power_dbm, abs=0.5)


def test_same_seed_same_spectra_and_consecutive_sweeps_differ():
    def run(seed):
        model = device_at(seed)
        out = []
        for i in (1.2e-3, 1.6e-3, 2.0e-3):
            model.stripe.source_current(i, 5.0)
            out.append(model.spectrum(*SPAN, 1001, 1e6, 1e5, 10))
            out.append(model.spectrum(*SPAN, 1001, 1e6, 1e5, 10))
        return out

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])  # a repeated sweep at one state is new noise
    assert not np.array_equal(a[0], c[0])


def test_resumed_run_on_a_fresh_model_reproduces_the_data():
    currents = np.arange(1.0e-3, 2.0e-3, 0.1e-3)
    full = device_at(4)
    data = []
    for i in currents:
        full.stripe.source_current(i, 5.0)
        full.clock.advance(0.1)
        data.append(full.spectrum(*SPAN, 2001, 1e6, 1e5, 5))
    # crash after point 5; a new process replays the setpoints and goes on
    fresh = device_at(4)
    for j, i in enumerate(currents[5:], start=5):
        fresh.stripe.source_current(i, 5.0)
        fresh.clock.advance(0.1)
        assert np.array_equal(fresh.spectrum(*SPAN, 2001, 1e6, 1e5, 5), data[j])


def test_sweep_time_is_realistic():
    model = device_at()
    t = model.sweep_time(9e9, 11e9, 10001, 1e6, 1e5, 10)
    assert t == pytest.approx(10 * 2.5 * 2e9 / (1e6 * 1e5))
    assert model.sweep_time(9e9, 9.001e9, 1001, 1e6, 1e6, 1) >= 1e-3
    assert model.sweep_time(9e9, 11e9, 1001, 1e5, 1e4, 1) == pytest.approx(100 * t / 10)
    # a video bandwidth wider than the RBW does not make the sweep faster than the RBW allows
    assert model.sweep_time(9e9, 11e9, 1001, 1e6, 10e6, 1) == pytest.approx(2.5 * 2e9 / 1e12)


def test_bad_settings_raise():
    model = device_at()
    with pytest.raises(ValueError):
        model.spectrum(*SPAN, 1001, 0.0, 1e5, 1)
    with pytest.raises(ValueError):
        model.spectrum(*SPAN, 1001, 1e6, 1e5, 1, detector="bogus")
