"""What the spectrum analyzer shows: noise floor, trace statistics, lines, reproducibility."""

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel

SPAN = (9.0e9, 11.0e9)


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
    model = device_at()
    model.stripe.source_current(0.0, 5.0)
    trace = model.spectrum(*SPAN, 2001, rbw, rbw / 10, 200, average_type="power")
    assert trace.dtype == np.float32 and trace.shape == (2001,)
    assert np.mean(trace) == pytest.approx(expected_floor(rbw), abs=1.0)


def test_gain_and_noise_figure_overrides_move_the_floor():
    model = device_at(amp_gain_db=20.0, amp_nf_db=4.0, analyzer_floor_dbm_hz=-170.0)
    trace = model.spectrum(*SPAN, 2001, 1e6, 1e5, 200)
    assert np.mean(trace) == pytest.approx(expected_floor(1e6, 20.0, 4.0), abs=1.0)


def test_trace_scatter_and_averaging():
    model = device_at()
    one = model.spectrum(*SPAN, 10001, 1e6, 1e5, 1)
    assert np.std(one) == pytest.approx(5.57, abs=0.3)
    for n in (4, 16, 64):
        log = model.spectrum(*SPAN, 10001, 1e6, 1e5, n, average_type="log")
        assert np.std(log) == pytest.approx(5.57 / np.sqrt(n), rel=0.1)
        power = model.spectrum(*SPAN, 10001, 1e6, 1e5, n, average_type="power")
        assert np.std(power) < np.std(one) / np.sqrt(n) * 1.1
    # log averaging reads noise 2.5 dB low; power averaging is unbiased
    log = model.spectrum(*SPAN, 10001, 1e6, 1e5, 100, average_type="log")
    power = model.spectrum(*SPAN, 10001, 1e6, 1e5, 100, average_type="power")
    assert np.mean(log) - np.mean(power) == pytest.approx(-2.5, abs=0.2)


def test_locked_line_shows_at_the_true_frequency_well_above_floor():
    model = device_at()
    model.stripe.source_current(2.1e-3, 5.0)
    truth = model.truth()
    assert len(truth["line_frequencies"]) == 1
    freq = np.linspace(*SPAN, 10001)
    trace = model.spectrum(*SPAN, 10001, 1e6, 1e5, 50)
    peak = freq[np.argmax(trace)]
    assert peak == pytest.approx(truth["line_frequencies"][0], abs=1e6)
    assert trace.max() - expected_floor(1e6) > 10.0


def test_narrow_line_shows_full_power_in_a_wide_rbw():
    model = device_at(linewidth_min=1e4, linewidth_threshold=4e4, coupling=1e9)
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


def test_bad_settings_raise():
    model = device_at()
    with pytest.raises(ValueError):
        model.spectrum(*SPAN, 1001, 0.0, 1e5, 1)
    with pytest.raises(ValueError):
        model.spectrum(*SPAN, 1001, 1e6, 1e5, 1, detector="bogus")
