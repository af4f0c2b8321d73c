"""freq-current against the simulator's seeded truth: peak frequencies, threshold, sync state."""

from __future__ import annotations

import numpy as np
import pytest

from labctl.analysis.peaks import classify_sync
from labctl.config import default_sim_station
from labctl.runfile import open_run
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent
from procedures.spectra import SYNC_CODES


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A default sweep (thermal peak -> 4 lines -> 1 line) with the model's truth per point."""
    station = open_station(default_sim_station())
    proc = FreqCurrent(i_start=0.5e-3, i_stop=2.2e-3, i_step=40e-6)
    path = tmp_path_factory.mktemp("fc") / "run.h5"
    truths = []
    runner = Runner(proc, station, path)
    runner.subscribe(lambda e: truths.append(station.sim.device.truth())
                     if e.kind == "point" else None)
    assert runner.run() == "completed"
    with open_run(path) as f:
        data = {k: f[k][:] for k in ("current", "peak_frequency", "n_lines", "sync_state",
                                     "frequency")}
    return runner, truths, data


def oscillating(truth) -> bool:
    return min(truth["zeta"]) > 1.05


def test_fitted_peaks_match_the_simulated_oscillators(sweep):
    _, truths, data = sweep
    bin_width = data["frequency"][1] - data["frequency"][0]
    tolerance = max(2e6, bin_width)
    compared = matched = 0
    for truth, peaks in zip(truths, data["peak_frequency"]):
        if not oscillating(truth):
            continue
        fitted = peaks[np.isfinite(peaks)]
        lines = np.asarray(truth["line_frequencies"])
        compared += 1
        if len(fitted) != len(lines):
            continue  # at a locking edge pulled lines may not be resolved; counted below
        matched += 1
        assert np.all(np.abs(np.sort(fitted) - np.sort(lines)) <= tolerance), (fitted, lines)
    assert compared >= 25
    assert matched >= 0.9 * compared


def test_threshold_within_five_percent(sweep):
    runner, truths, _ = sweep
    configured = np.mean(truths[0]["thresholds"])
    assert runner.results["threshold_current"] == pytest.approx(configured, rel=0.05)


def test_sync_state_classified_from_four_lines_to_one(sweep):
    _, truths, data = sweep
    expected = [SYNC_CODES[classify_sync(len(t["clusters"]))] for t in truths]
    states = data["sync_state"]
    above = [k for k, t in enumerate(truths) if oscillating(t)]
    agree = sum(states[k] == expected[k] for k in above)
    assert agree >= 0.9 * len(above)
    assert SYNC_CODES["none"] in states[above]  # 4 separate lines ...
    assert states[-1] == SYNC_CODES["full"]  # ... to one
    first_none = list(states).index(SYNC_CODES["none"])
    assert SYNC_CODES["partial"] in states[first_none:]


def test_summary_reports_the_experiment(sweep):
    runner, _, _ = sweep
    lines = runner.procedure.summarize(runner.results)
    assert lines[0].startswith("threshold current: 0.8") or lines[0].startswith(
        "threshold current: 0.9")
    assert lines[0].endswith(")") and "mA (1/P vs I" in lines[0]
    assert any("full synchronization from 1.7" in line for line in lines)
