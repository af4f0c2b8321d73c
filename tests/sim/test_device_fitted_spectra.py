"""The simulated chain seen through the analyzer and the standard Lorentzian analysis.

These go through DeviceModel.spectrum and labctl.analysis.lorentz.fit_spectrum at the default
freq-current settings (8-12 GHz, 10001 points, RBW 1 MHz), so they check that what the model
holds as truth is actually measurable: four free-running lines just above threshold, one
locked line at high current, and a sub-threshold thermal peak whose 1/P gives I_th.
"""

import numpy as np
import pytest

from labctl.analysis.lorentz import fit_spectrum
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
                        max_peaks=8, min_snr_db=3.0)


def background(model, averages):
    model.stripe.source_current(0.0, 5.0)
    return model.spectrum(F_START, F_STOP, POINTS, RBW, RBW / 10, averages)


@pytest.mark.parametrize("seed", [1, 3, 7])
@pytest.mark.parametrize("current", [1.0e-3, 1.08e-3, 1.16e-3])
def test_four_free_running_lines_are_found(seed, current):
    model = device_at(seed)
    bg = background(model, 10)
    model.stripe.source_current(current, 5.0)
    truth = model.truth()
    assert len(truth["clusters"]) == 4 and min(truth["p0"]) > 0
    peaks = measure(model, 10, bg)
    lines = [p for p in peaks if p.snr_db > 6.0]
    # anything else is a rare faint noise maximum the fit keeps at ~3-5 dB
    assert all(p.snr_db < 5.5 for p in peaks if p not in lines)
    assert len(lines) == 4
    found = np.array([p.frequency for p in lines])
    assert np.allclose(found, np.sort(truth["line_frequencies"]), atol=2e6)
    # findable but well below a locked line [PHYSICS §4]
    assert all(p.snr_db < 22.0 for p in lines)


def test_partial_sync_shows_two_lines_and_full_sync_one_strong_narrow_line():
    model = device_at()
    bg = background(model, 10)
    model.stripe.source_current(1.5e-3, 5.0)
    truth = model.truth()
    pair = measure(model, 10, bg)
    assert len(truth["clusters"]) == 2 and len(pair) == 2
    assert np.allclose([p.frequency for p in pair], np.sort(truth["line_frequencies"]), atol=2e6)
    model.stripe.source_current(2.0e-3, 5.0)
    truth = model.truth()
    locked = measure(model, 10, bg)
    assert truth["clusters"] == [[0, 1, 2, 3]]
    assert len(locked) == 1
    assert locked[0].frequency == pytest.approx(truth["line_frequencies"][0], abs=1e6)
    assert locked[0].fwhm < 3e6
    # synchronization adds 10-30 dB over the free-running lines [PHYSICS §4]
    model.stripe.source_current(1.08e-3, 5.0)
    free = measure(model, 10, bg)
    assert 10.0 < locked[0].snr_db - max(p.snr_db for p in free) < 30.0


@pytest.mark.parametrize("seed", [1, 3, 8])
def test_threshold_from_fitted_subthreshold_thermal_peaks(seed):
    model = device_at(seed)
    i_th = float(np.mean(model.params.i_th))
    bg = background(model, 50)
    currents = np.round(np.arange(0.70, 0.97, 0.02) * i_th, 8)
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
    assert fit.i_th == pytest.approx(i_th, rel=0.05)
    assert fit.r2 > 0.85
