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
    model.stripe.source_current(2.1e-3, 5.0)
    truth = model.truth()
    assert truth["clusters"] == [[0, 1, 2, 3]]
    assert truth["line_linewidths"][0] == pytest.approx(np.mean(truth["linewidths"]) / 4)
    assert truth["line_powers"][0] == pytest.approx(sum(truth["powers"]))


def _peak_above_floor(model, f_lo, f_hi):
    trace = model.spectrum(f_lo, f_hi, 4001, RBW, RBW / 10, 200)
    floor = model.truth()["noise_floor_dbm_hz"] + 10 * np.log10(1.06 * RBW)
    return trace.max() - floor


def test_raising_the_coupling_merges_four_lines_into_one():
    counts, peaks, widths = [], [], []
    for coupling in (20e6, 50e6, 150e6, 400e6, 1e9):
        model = device_at(coupling=coupling)
        model.stripe.source_current(1.2e-3, 5.0)
        truth = model.truth()
        counts.append(len(truth["clusters"]))
        widths.append(min(truth["line_linewidths"]))
        f = truth["line_frequencies"]
        peaks.append(_peak_above_floor(model, min(f) - 300e6, max(f) + 300e6))
    assert counts[0] == 4 and counts[-1] == 1
    assert all(b <= a for a, b in zip(counts, counts[1:]))
    assert widths[-1] < widths[0] / 3
    assert peaks[-1] > peaks[0] + 8.0  # synchronization adds 10-30 dB [PHYSICS §4]


def test_memristor_state_changes_the_lock_at_the_same_current_and_gate():
    model = device_at()
    model.stripe.source_current(1.9e-3, 5.0)
    model.gate.source_voltage(1.0, 0.5e-3)
    hrs = model.truth()
    assert hrs["clusters"] == [[0, 1, 2, 3]]
    # SET to LRS at 50 uA, then gate at the same 1 V: current now flows into the node
    model.gate.source_voltage(4.0, 50e-6)
    model.gate.source_voltage(1.0, 0.5e-3)
    lrs = model.truth()
    assert lrs["memristor_resistance"][1] < 1e5
    assert lrs["gate_current"] > 50e-6
    assert len(lrs["clusters"]) > 1
    # RESET to HRS restores the synchronized chain
    model.gate.source_voltage(-1.5, 0.5e-3)
    model.gate.source_voltage(1.0, 0.5e-3)
    again = model.truth()
    assert again["memristor_resistance"][1] > 1e9
    assert again["clusters"] == [[0, 1, 2, 3]]


def test_hrs_gate_voltage_switches_sync_off():
    model = device_at(v_set=8.0)  # keep HRS up to 5 V: only the electric field acts
    model.stripe.source_current(1.9e-3, 5.0)
    model.gate.source_voltage(0.0, 1e-6)
    assert len(model.truth()["clusters"]) == 1
    model.gate.source_voltage(5.0, 1e-6)
    truth = model.truth()
    assert truth["memristor_resistance"][1] > 1e9
    assert len(truth["clusters"]) > 1


def test_find_clusters_partial_sum_rule():
    f = np.array([0.0, 0.0, 0.0, 0.0])
    assert find_clusters(f, np.zeros(3)) == [[0, 1, 2, 3]]
    f = np.array([10.0, -10.0, 10.0, -10.0])
    assert find_clusters(f, np.full(3, 10.0)) == [[0, 1, 2, 3]]
    assert find_clusters(f, np.full(3, 9.0)) == [[0], [1, 2, 3]]
    assert find_clusters(f, np.full(3, 5.0)) == [[0], [1], [2], [3]]
    f = np.array([100.0, 100.0, 0.0, 0.0])
    assert find_clusters(f, np.full(3, 30.0)) == [[0, 1], [2, 3]]
    assert find_clusters(f, np.full(3, 100.0)) == [[0, 1, 2, 3]]


def test_frequency_pulling_near_the_locking_edge():
    model = device_at()
    model.stripe.source_current(1.7e-3, 5.0)
    truth = model.truth()
    assert len(truth["clusters"]) == 2
    free = np.array(truth["frequencies"])
    means = [free[c].mean() for c in truth["clusters"]]
    assert abs(np.diff(truth["line_frequencies"])[0]) < abs(np.diff(means)[0])
