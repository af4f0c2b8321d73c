"""The simulated chain seen through the analyzer and the standard Lorentzian analysis.

These go through DeviceModel.spectrum and labctl.analysis.lorentz.fit_spectrum at the default
freq-current settings (8-12 GHz, 10001 points, RBW 1 MHz, 50 averages) on the realistic
default device, so they check that what the model holds as truth is measurable, and no more:
free-running lines a few dB above the floor, sidebands next to beating lines, one locked
line 10-30 dB up, and a sub-threshold thermal peak that only the gentle preset resolves.
"""

import numpy as np
import pytest

from labctl.analysis.lorentz import fit_spectrum
from labctl.analysis.peaks import oscillator_lines, sidebands
from labctl.analysis.spectra import smooth_background
from labctl.analysis.threshold import threshold_from_inverse_power
from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel

F_START, F_STOP, POINTS, RBW = 8e9, 12e9, 10001, 1e6
FREQ = np.linspace(F_START, F_STOP, POINTS)
GAIN = 32.0


def device_at(seed=3, field=0.65, **overrides):
    clock = VirtualClock()
    model = DeviceModel(clock, seed=seed, **overrides)
    model.magnet.set_supply_current(field / model.params.coil_constant)
    clock.advance(20 * model.magnet.tau)
    return model


def measure(model, averages, background=None):
    trace = model.spectrum(F_START, F_STOP, POINTS, RBW, RBW / 10, averages)
    return fit_spectrum(FREQ, trace, RBW, gain_db=GAIN, background_dbm=background,
                        max_peaks=8, min_snr_db=0.5)


def background(model, averages=50):
    model.stripe.source_current(0.0, 5.0)
    trace = model.spectrum(F_START, F_STOP, POINTS, RBW, RBW / 10, averages)
    return smooth_background(trace, FREQ[1] - FREQ[0])


@pytest.mark.parametrize("seed", [1, 3, 7])
@pytest.mark.parametrize("current", [1.6e-3, 2.0e-3])
def test_four_free_running_lines_a_few_db_up_are_found(seed, current):
    model = device_at(seed, coupling=0.0)
    bg = background(model)
    model.stripe.source_current(current, 5.0)
    truth = model.truth()
    assert len(truth["clusters"]) == 4 and min(truth["p0"]) > 0
    lines = oscillator_lines(measure(model, 50, bg), 30e6)
    assert len(lines) == 4
    found = np.array([p.frequency for p in lines])
    assert np.allclose(found, np.sort(truth["line_frequencies"]), atol=3e6)
    # a free line is only a few dB above the floor [PHYSICS §4]
    assert all(1.5 < p.snr_db < 8.0 for p in lines)
    # the fit's uncertainties are honest: every centre within 3 sigma
    errors = np.array([p.frequency_err for p in lines])
    assert np.all(np.abs(found - np.sort(truth["line_frequencies"])) < 3 * errors + 0.2e6)


def test_beating_pairs_show_sidebands_that_are_not_counted_as_lines():
    model = device_at()
    bg = background(model)
    for current in np.arange(1.80e-3, 1.95e-3, 0.01e-3):
        model.stripe.source_current(current, 5.0)
        truth = model.truth()
        if len(truth["clusters"]) == 2 and len(truth["sidebands"]):
            break
    peaks = measure(model, 50, bg)
    assert len(sidebands(peaks)) >= 1
    lines = oscillator_lines(peaks, 30e6)
    assert len(lines) == 2
    assert np.allclose([p.frequency for p in lines], np.sort(truth["line_frequencies"]),
                       atol=3e6)


def test_full_sync_shows_one_strong_narrow_line_10_to_30_db_above_the_free_ones():
    model = device_at()
    bg = background(model)
    model.stripe.source_current(2.2e-3, 5.0)
    truth = model.truth()
    locked = measure(model, 50, bg)
    assert truth["clusters"] == [[0, 1, 2, 3]]
    assert len(locked) == 1
    assert locked[0].frequency == pytest.approx(truth["line_frequencies"][0], abs=1e6)
    assert locked[0].fwhm < 8e6
    assert 10.0 < locked[0].snr_db < 30.0
    free = device_at(coupling=0.0)
    bg_free = background(free)
    free.stripe.source_current(2.2e-3, 5.0)
    strongest_free = max(p.snr_db for p in measure(free, 50, bg_free))
    assert 5.0 < locked[0].snr_db - strongest_free < 25.0


def test_the_realistic_thermal_peak_is_too_faint_to_see():
    model = device_at()
    bg = background(model)
    model.stripe.source_current(0.85 * min(model.params.i_th), 5.0)
    assert measure(model, 50, bg) == []


@pytest.mark.parametrize("seed", [1, 3, 8])
def test_gentle_preset_resolves_the_thermal_peak_and_its_1_over_p(seed):
    model = device_at(seed, preset="gentle")
    i_th = float(np.mean(model.params.i_th))
    bg = background(model)
    currents = np.round(np.arange(0.70, 0.91, 0.02) * i_th, 8)
    powers = []
    for current in currents:
        model.stripe.source_current(current, 5.0)
        assert max(model.truth()["p0"]) == 0.0  # all below threshold
        peaks = measure(model, 50, bg)
        assert peaks, f"no thermal peak found at {current * 1e3:.3f} mA"
        # broad FMR-like peaks: Delta f0 (1 - zeta), not auto-oscillation lines
        assert max(p.fwhm for p in peaks) > 15e6
        powers.append(sum(p.integrated_power for p in peaks))
    fit = threshold_from_inverse_power(currents, np.array(powers), below=np.inf)
    assert fit.i_th == pytest.approx(i_th, rel=0.06)
    assert abs(fit.i_th - i_th) < 3 * fit.i_th_err + 0.04 * i_th  # + the rounded onset
