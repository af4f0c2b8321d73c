"""Mutual synchronization of the chain: clusters, coupling, memristor-controlled locking."""

import numpy as np
import pytest

from labctl.clock import VirtualClock
from labctl.sim.chain import find_clusters
from labctl.sim.device import DeviceModel

RBW = 1e6


def device_at(field=0.65, **overrides):
    clock = VirtualClock()
    model = DeviceModel(clock, seed=5, **overrides)
    model.magnet.set_supply_current(field / model.params.coil_constant)
    clock.advance(20 * model.magnet.tau)
    return model


def n_lines(model, current):
    model.stripe.source_current(current, 5.0)
    return len(model.truth()["clusters"])


def test_default_current_sweep_goes_from_four_lines_to_one():
    model = device_at()
    counts = []
    all_above = []
    for i in np.arange(0.5e-3, 2.21e-3, 0.02e-3):
        counts.append(n_lines(model, i))
        all_above.append(min(model.truth()["p0"]) > 0)
    counts, all_above = np.array(counts), np.array(all_above)
    assert np.any(counts[all_above] == 4)  # four separate auto-oscillations just above I_th
    assert counts[-1] == 1
    # once all oscillate, the number of lines never grows with current
    above = counts[all_above]
    assert np.all(np.diff(above) <= 0)


def test_locked_line_is_strong_and_narrow():
    model = device_at()
    model.stripe.source_current(2.2e-3, 5.0)
    truth = model.truth()
    assert truth["clusters"] == [[0, 1, 2, 3]]
    assert truth["sync_state"] == "full"
    # linewidth / n, a little broader while the lock is still close to its edge
    narrowest = np.mean(truth["linewidths"]) / 4
    assert narrowest <= truth["line_linewidths"][0] < 2 * narrowest
    assert truth["line_powers"][0] == pytest.approx(sum(truth["powers"]))


def _peak_above_floor(model, f_lo, f_hi):
    trace = model.spectrum(f_lo, f_hi, 4001, RBW, RBW / 10, 200)
    floor = model.truth()["noise_floor_dbm_hz"] + 10 * np.log10(1.06 * RBW)
    return trace.max() - floor


def test_raising_the_coupling_merges_four_lines_into_one():
    counts, peaks, widths = [], [], []
    for coupling in (10e6, 50e6, 150e6, 400e6, 1e9):
        model = device_at(coupling=coupling, ripple_db=0.0, spurs=[])
        model.stripe.source_current(1.6e-3, 5.0)
        truth = model.truth()
        counts.append(len(truth["clusters"]))
        widths.append(min(truth["line_linewidths"]))
        f = truth["line_frequencies"]
        peaks.append(_peak_above_floor(model, min(f) - 300e6, max(f) + 300e6))
    assert counts[0] == 4 and counts[-1] == 1
    assert all(b <= a for a, b in zip(counts, counts[1:]))
    assert widths[-1] < widths[0] / 3
    assert 2.0 < peaks[0] < 7.0  # a free line: a few dB above the floor [PHYSICS §4]
    assert peaks[-1] > peaks[0] + 8.0  # synchronization adds 10-30 dB


def _edge_current(model, start=1.9e-3, stop=2.2e-3, step=2e-6):
    """First current of a fine up-sweep where the chain is fully locked."""
    for i in np.arange(start, stop, step):
        model.stripe.source_current(i, 5.0)
        if len(model.truth()["clusters"]) == 1:
            return i
    raise AssertionError("no full lock in the range")


def test_at_the_locking_edge_the_memristor_state_decides_the_lock():
    # LRS gating is weak (tens of MHz/V at most, PHYSICS §3): it decides the lock only near
    # the edge, where the mismatch is within a few MHz of the coupling
    hrs_model, lrs_model = device_at(), device_at()
    edge = _edge_current(hrs_model)
    # SET to LRS at 50 uA; V_M stays inside the window that neither grows nor dissolves it
    for v in np.arange(0.0, 5.01, 0.1):
        lrs_model.gate.source_voltage(v, 50e-6)
    lrs_model.gate.source_voltage(0.0, 1e-3)
    r_lrs = lrs_model.truth()["memristor_resistance"][1]
    assert r_lrs < 1e5
    decided = []
    for current in np.arange(edge, edge + 40e-6, 2e-6):
        for model in (hrs_model, lrs_model):
            model.stripe.source_current(current, 5.0)
            model.gate.source_voltage(-0.3, 1e-3)
        truth = lrs_model.truth()
        assert abs(truth["gate_current"]) > 10e-6  # current flows into the node in LRS ...
        assert abs(hrs_model.truth()["gate_current"]) < 1e-9  # ... not in HRS
        decided.append((len(hrs_model.truth()["clusters"]), len(truth["clusters"])))
    assert lrs_model.truth()["memristor_resistance"][1] == r_lrs  # the gate did not move it
    # same current, same V_M: locked in HRS, unlocked in LRS, somewhere near the edge
    assert (1, 2) in decided or (1, 3) in decided


def test_hrs_gate_voltage_switches_sync_off():
    model = device_at(v_set=8.0)  # keep HRS up to 5 V: only the electric field acts
    edge = _edge_current(model)
    model.stripe.source_current(edge + 20e-6, 5.0)
    model.gate.source_voltage(0.0, 1e-6)
    assert len(model.truth()["clusters"]) == 1
    model.gate.source_voltage(5.0, 1e-6)
    truth = model.truth()
    assert truth["memristor_resistance"][1] > 1e9
    assert len(truth["clusters"]) > 1


def test_find_clusters_partial_sum_rule():
    f = np.array([10.0, -10.0, 10.0, -10.0])
    assert find_clusters(f, np.full(3, 10.0)) == [[0, 1, 2, 3]]
    assert find_clusters(f, np.full(3, 9.0)) == [[0], [1, 2, 3]]
    assert find_clusters(f, np.full(3, 5.0)) == [[0], [1], [2], [3]]
    f = np.array([100.0, 100.0, 0.0, 0.0])
    assert find_clusters(f, np.full(3, 30.0)) == [[0, 1], [2, 3]]
    assert find_clusters(f, np.full(3, 100.0)) == [[0, 1, 2, 3]]


def test_without_coupling_nothing_locks_not_even_at_equal_frequencies():
    assert find_clusters(np.zeros(4), np.zeros(3)) == [[0], [1], [2], [3]]
    assert find_clusters(np.zeros(4), np.array([1.0, 0.0, 1.0])) == [[0, 1], [2, 3]]
    model = device_at(f_offsets=[0.0, 0.0, 0.0, 0.0])
    model.stripe.source_current(0.6e-3, 5.0)  # below threshold: no coupling at all
    assert len(model.truth()["clusters"]) == 4


def test_frequency_pulling_near_the_locking_edge():
    model = device_at()
    model.stripe.source_current(1.7e-3, 5.0)
    truth = model.truth()
    assert len(truth["clusters"]) == 2
    free = np.array(truth["frequencies"])
    means = [free[c].mean() for c in truth["clusters"]]
    assert abs(np.diff(truth["line_frequencies"])[0]) < abs(np.diff(means)[0])


def test_beating_near_the_edge_broadens_the_lines_and_adds_sidebands():
    model = device_at()
    edge = _edge_current(model)
    model.stripe.source_current(edge - 2e-6, 5.0)  # just unlocked
    near = model.truth()
    model.stripe.source_current(1.75e-3, 5.0)  # two clusters far from their edge
    far = model.truth()
    assert len(near["clusters"]) == len(far["clusters"]) == 2
    lo, hi = sorted(near["line_frequencies"])
    beat = hi - lo
    sidebands = np.array(near["sidebands"])
    assert len(sidebands) >= 2
    # the first sidebands sit one beat outside the pair, weaker than the main lines
    assert np.any(np.isclose(sidebands[:, 0], lo - beat, atol=1e3))
    assert np.any(np.isclose(sidebands[:, 0], hi + beat, atol=1e3))
    assert sidebands[:, 2].max() < min(near["line_powers"])
    # the modulation moves power, it adds none
    total = sum(near["line_powers"]) + sidebands[:, 2].sum()
    assert total == pytest.approx(sum(near["powers"]))
    # broader than the free members' linewidth / 2, and the sidebands fade away from the edge
    width = np.array(near["line_linewidths"]) / (np.array(near["linewidths"]).mean() / 2)
    assert width.min() > 1.3
    far_sb = np.array(far["sidebands"])
    assert (far_sb[:, 2].max() / min(far["line_powers"])
            < 0.5 * sidebands[:, 2].max() / min(near["line_powers"]))
