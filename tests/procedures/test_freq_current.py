"""freq-current against the simulator's truth on the realistic default device: peak
frequencies, the threshold with its uncertainty, the sync state across locking edges, and the
defects the analysis used to have (down-sweeps, one oscillator called "full", unreliable
thresholds printed like good ones, failures that lost the analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from labctl.config import FaultConfig
from labctl.runfile import open_run, read_info
from labctl.runner import Runner
from labctl.station import open_station
from labctl.testing import sim_station
from procedures.freq_current import FreqCurrent
from procedures.spectra import SYNC_CODES

NAMES = {v: k for k, v in SYNC_CODES.items()}
# a narrower span than the default 8-12 GHz (same point spacing), so that ten runs stay quick
QUICK = dict(f_start=9.6e9, f_stop=11.2e9, points=4001)


def run_sweep(path, seed=1, device=None, faults=(), **params):
    """A sweep on the simulated station with the model's truth at every point."""
    config = sim_station(seed=seed, device=device or {}, faults=list(faults))
    station = open_station(config)
    proc = FreqCurrent(**params)
    truths = []
    runner = Runner(proc, station, path)
    runner.subscribe(lambda e: truths.append(station.sim.device.truth())
                     if e.kind == "point" else None)
    runner.run()
    with open_run(path) as f:
        data = {k: f[k][:] for k in ("current", "peak_frequency", "peak_kind", "n_lines",
                                     "sync_state", "frequency")}
    return runner, truths, data


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The default up-sweep (0.4-2.2 mA, 20 uA steps) for five seeds at RBW 1 MHz and 300 kHz."""
    out = {}
    for rbw in (1e6, 300e3):
        for seed in range(1, 6):
            path = tmp_path_factory.mktemp("fc") / f"run-{seed}-{rbw:g}.h5"
            out[rbw, seed] = run_sweep(path, seed=seed, rbw=rbw, **QUICK)
    return out


@pytest.mark.parametrize("rbw", [1e6, 300e3])
def test_threshold_within_five_percent_with_an_uncertainty_that_covers_it(sweeps, rbw):
    # the truth: the chain's threshold, the mean of the four constrictions' (the onset of
    # the integrated power of the chain); the lowest of them is 3 % below
    for seed in range(1, 6):
        runner, truths, _ = sweeps[rbw, seed]
        assert runner.status == "completed", runner.reason
        res = runner.results
        chain = np.mean(truths[0]["thresholds"])
        assert res["threshold_current"] == pytest.approx(chain, rel=0.05), seed
        err = res["threshold_current_err"]
        assert 0 < err < 0.04 * chain
        assert abs(res["threshold_current"] - chain) <= 2 * err, seed  # the 95 % interval
        assert res["threshold_quality"] in ("good", "uncertain")


def test_sync_state_right_across_the_locking_edges(sweeps):
    # every point within three steps of a change of the true state, for all runs
    right = total = 0
    for _, truths, data in sweeps.values():
        true = [t["sync_state"] for t in truths]
        got = [NAMES[int(s)] for s in data["sync_state"]]
        oscillating = [k for k, t in enumerate(truths) if min(t["zeta"]) > 1.0]
        for k in oscillating:
            near = range(max(0, k - 3), min(len(true), k + 4))
            if any(true[j] != true[k] for j in near if j in oscillating):
                total += 1
                right += got[k] == true[k]
    assert total >= 100
    assert right >= 0.9 * total, f"{right}/{total}"


def test_fitted_lines_match_the_simulated_oscillators(sweeps):
    runner, truths, data = sweeps[1e6, 1]
    compared = matched = 0
    for truth, peaks, kinds in zip(truths, data["peak_frequency"], data["peak_kind"]):
        if min(truth["zeta"]) < 1.5:  # lines a few dB up from here on
            continue
        fitted = np.sort(peaks[kinds == 0])
        lines = np.sort(truth["line_frequencies"])
        compared += 1
        if len(fitted) != len(lines):
            continue  # beating lines at an edge may blur into one
        matched += 1
        assert np.all(np.abs(fitted - lines) <= 3e6), (fitted, lines)
    assert compared >= 25 and matched >= 0.85 * compared


def test_summary_reports_the_experiment_and_how_far_to_trust_it(sweeps):
    runner, _, _ = sweeps[1e6, 1]
    lines = runner.procedure.summarize(runner.results)
    assert lines[0].startswith("threshold current: 0.")
    assert " ± " in lines[0] and "mA (integrated power above threshold; " in lines[0]
    assert any(line.startswith("peaks at 2.200 mA: 1 line(s) at 10.") for line in lines)
    assert any(line == "synchronization at 2.200 mA: full" for line in lines)
    assert any(line.startswith("full synchronization from 1.9") for line in lines)


def test_down_sweep_analyses_like_an_up_sweep(tmp_path):
    runner, truths, data = run_sweep(tmp_path / "down.h5", i_start=2.2e-3, i_stop=0.4e-3,
                                     **QUICK)
    assert runner.status == "completed", runner.reason
    res = runner.results
    chain = np.mean(truths[0]["thresholds"])
    assert res["threshold_current"] == pytest.approx(chain, rel=0.05)
    assert res["threshold_quality"] != "unreliable"
    lines = runner.procedure.summarize(res)
    # the summary speaks of the highest current (where the sweep began), with its lines
    assert any(line.startswith("peaks at 2.200 mA: 1 line(s) at 10.") for line in lines)
    assert not any(" at  GHz" in line for line in lines)
    assert res["sync_at_highest_current"] == "full"  # known once the sweep saw the lines split
    assert "full_sync_from_current" in res


def test_one_oscillating_constriction_is_never_called_full(tmp_path):
    # only constriction 0 reaches threshold below 2.2 mA
    device = {"i_th": [0.9e-3, 3.0e-3, 3.1e-3, 3.2e-3]}
    runner, truths, data = run_sweep(tmp_path / "one.h5", device=device, i_stop=2.0e-3,
                                     **QUICK)
    assert runner.status == "completed", runner.reason
    assert all(t["sync_state"] in ("off", "none") for t in truths)
    states = {NAMES[int(s)] for s in data["sync_state"]}
    assert "full" not in states and "partial" not in states
    assert "uncertain" in states  # one line: how many merged into it is not known
    res = runner.results
    assert res["sync_at_highest_current"] == "uncertain"
    assert "full_sync_from_current" not in res
    assert any("how many oscillators merged is not known" in line
               for line in runner.procedure.summarize(res))


@pytest.mark.parametrize("sweep,why", [
    (dict(i_start=1.4e-3, i_stop=2.2e-3), "the sweep starts above threshold"),
    (dict(i_start=0.4e-3, i_stop=0.8e-3), "no oscillator line found"),
])
def test_an_unreliable_threshold_is_not_printed_like_a_good_one(tmp_path, sweep, why):
    runner, _, _ = run_sweep(tmp_path / "bad.h5", **sweep, **QUICK)
    assert runner.status == "completed", runner.reason
    res = runner.results
    assert res["threshold_quality"] == "unreliable"
    assert any(why in note for note in res["threshold_notes"])
    first = runner.procedure.summarize(res)[0]
    assert first.startswith("threshold current: not determined reliably (") and why in first


def test_a_run_that_fails_part_way_keeps_the_analysis_of_what_it_measured(tmp_path):
    # the analyzer stops answering part-way through the sweep
    fault = FaultConfig(instrument="spectrum", kind="disconnect", at_command=200)
    runner, truths, data = run_sweep(tmp_path / "broken.h5", faults=[fault], **QUICK)
    assert runner.status == "failed"
    assert 20 < len(data["current"]) < 91
    res = runner.results
    assert "ended_early" in res
    assert res["threshold_current"] == pytest.approx(np.mean(truths[0]["thresholds"]),
                                                     rel=0.08)
    info = read_info(tmp_path / "broken.h5")
    assert info["status"] == "failed" and "threshold_current" in info["results"]
