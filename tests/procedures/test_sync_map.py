"""sync-map on the simulated station: gate states change where the chain locks, as the
seeded device's truth says; memristor states are programmed once per state, also on resume."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.events import POINT
from labctl.runner import Runner
from labctl.station import open_station
from procedures.sync_map import SyncMap

FIELD = 0.65
SWEEP = dict(i_start=1.5e-3, i_stop=2.2e-3, i_step=25e-6, field=FIELD, points=2001,
             f_start=9.5e9, f_stop=11.0e9)
# V_M = +1.5 V moves the two middle constrictions by +30 MHz (HRS field effect): the seeded
# chain then locks completely at a lower current than at 0 V.
VOLTAGES = [0.0, 1.5]


def truth_map(voltages, currents) -> np.ndarray:
    """Clusters of the simulated chain for each V_M and I_SHNO (rows: V_M)."""
    st = open_station(default_sim_station())
    st.field.set_field(FIELD)
    out = np.zeros((len(voltages), len(currents)), dtype=int)
    for k, v in enumerate(voltages):
        st.gate.ramp_to(v, compliance=100e-6)
        for j, i in enumerate(currents):
            st.shno_source.ramp_to(i)
            out[k, j] = len(st.sim.device.truth()["clusters"])
        st.shno_source.ramp_to(0.0)
    st.ramp_down()
    return out


def test_gate_voltages_change_the_sync_map_as_the_device_truth_says(tmp_path):
    config = default_sim_station()
    proc = SyncMap(gate_voltages=VOLTAGES, **SWEEP)
    path = tmp_path / "sync.h5"
    runner = Runner(proc, open_station(config), path)
    runner.run()
    assert runner.status == "completed", runner.reason
    currents = proc.currents()
    truth = truth_map(VOLTAGES, currents)
    onset_true = [currents[np.argmax(row == 1)] for row in truth]
    assert onset_true[1] < onset_true[0]  # the truth: +1.5 V locks earlier

    with h5py.File(path, "r") as f:
        state = f["state"][:]
        lines = f["n_lines"][:].reshape(len(VOLTAGES), len(currents))
        assert np.array_equal(state, np.repeat(np.arange(len(VOLTAGES)), len(currents)))
        assert np.array_equal(f["gate_voltage"][:], np.repeat(VOLTAGES, len(currents)))
        assert f["trace"].shape == (state.size, 2001)
        assert np.all(f["memristor_resistance"][:] > 1e9)  # HRS: the field effect gates
    # the measured map follows the truth (fits may merge lines pulled together at an edge)
    assert np.mean(lines == truth) >= 0.85
    states = runner.results["states"]
    assert [s["gate_voltage"] for s in states] == VOLTAGES
    for s, true in zip(states, onset_true):
        assert s["full_sync_from"] == pytest.approx(true, abs=proc.i_step * 1.01)
        assert s["full_sync_ranges"][-1][1] == pytest.approx(SWEEP["i_stop"])
    assert states[1]["full_sync_from"] < states[0]["full_sync_from"]
    assert not any(s["memristor_changed"] for s in states)
    assert all(s["memristor_resistance_after"] > 1e9 for s in states)
    assert all("full sync" in line for line in proc.summarize(runner.results))


def test_memristor_states_are_programmed_before_each_state_not_again_on_resume(tmp_path):
    config = default_sim_station()
    station = open_station(config)
    sweep = dict(SWEEP, i_start=1.8e-3, i_stop=2.0e-3, i_step=100e-6, points=1001)
    proc = SyncMap(memristor_targets=["LRS", "HRS"], gate_voltages=[0.0, 0.1], **sweep)
    assert proc.planned_points() == 4 * 3
    path = tmp_path / "sync.h5"
    runner = Runner(proc, station, path)

    def abort_inside_the_third_state(event):
        if event.kind == POINT and event.data["index"] == 7:
            runner.abort("test abort")

    runner.subscribe(abort_inside_the_third_state)
    assert runner.run() == "aborted"
    with h5py.File(path, "r") as f:
        programmed = f["program_state"][:].tolist()
    assert sorted(set(programmed)) == [0, 1, 2]  # write-verified before each state's sweep
    # state 1 keeps the LRS of state 0: its write-verify is a single read, no pulse
    assert programmed.count(1) == 1

    resumed = Runner(SyncMap(**proc.values), station, path, resume=True)
    resumed.run()
    assert resumed.status == "completed", resumed.reason
    with h5py.File(path, "r") as f:
        after = f["program_state"][:].tolist()
        # state 2 (interrupted) is not programmed again; state 3 is, as usual
        assert after[:len(programmed)] == programmed
        assert set(after[len(programmed):]) == {3}
        assert f["state_index"][:].tolist() == [0, 1, 2, 3]
        r_state = f["state_resistance"][:]
        assert np.all(r_state[:2] < 1e6) and np.all(r_state[2:] > 1e8)  # LRS, LRS, HRS, HRS
        assert f["target_reached"][:].tolist() == [1, 1, 1, 1]
        assert np.array_equal(f["memristor_resistance"][:], np.repeat(r_state, 3))
        assert f["point"].shape[0] == 12
    states = resumed.results["states"]
    assert [s["memristor_target"] for s in states] == ["LRS", "LRS", "HRS", "HRS"]


def test_targets_parameter_and_limits():
    assert SyncMap.from_text({"memristor_targets": "HRS, lrs, 20e3"}).memristor_targets == [
        "HRS", "LRS", 20e3]
    assert SyncMap(memristor_targets=[]).states() == [(-1, 0.0)]
    with pytest.raises(UserInputError, match="MRS"):
        SyncMap(memristor_targets=["MRS"])
    with pytest.raises(UserInputError, match="positive"):
        SyncMap(memristor_targets=[-5.0])
    with pytest.raises(UserInputError, match="gate_voltages = 9 V: would switch the memristor "
                                             "whatever its state"):
        SyncMap(gate_voltages=[0.0, 9.0])
    with pytest.raises(LimitError, match="gate_voltages"):
        SyncMap(gate_voltages=[0.0, 9.0], allow_switching=True).check_station(
            default_sim_station())
    with pytest.raises(LimitError, match="i_stop"):
        SyncMap(i_stop=3e-3).check_station(default_sim_station())


GATE_SWEEP = dict(i_start=1.8e-3, i_stop=1.9e-3, i_step=100e-6, field=FIELD, points=1001,
                  f_start=9.5e9, f_stop=11.0e9)


def source_levels(station, slot="gate") -> list[float]:
    """Every voltage level the gate source meter was sent (SOUR:VOLT commands)."""
    sim = station.sim.instruments[slot]
    pattern = "[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]"
    return [float(r.args.split()[0]) for r in sim.commands(pattern) if r.args]


def set_lrs(station, compliance=10e-6):
    for v in np.arange(0.0, 5.01, 0.1):
        station.gate.ramp_to(v, compliance=compliance)
    station.gate.ramp_to(0.0)


def test_a_v_m_that_would_reset_a_programmed_lrs_is_refused_before_anything_runs():
    # the case: -2 V on a 40 kOhm LRS drives 50 uA and RESETs it
    with pytest.raises(UserInputError, match="gate_voltages = -2 V with memristor target "
                                             "LRS would switch"):
        SyncMap(memristor_targets=["LRS"], gate_voltages=[-2.0], **GATE_SWEEP)
    with pytest.raises(UserInputError, match="HRS"):
        SyncMap(memristor_targets=["HRS"], gate_voltages=[3.0], **GATE_SWEEP)
    SyncMap(memristor_targets=["LRS"], gate_voltages=[-0.2, 0.2], **GATE_SWEEP)  # safe


def test_an_lrs_left_as_it_is_is_read_first_and_the_run_fails_before_v_m_is_applied(tmp_path):
    station = open_station(default_sim_station())
    set_lrs(station)
    r_before = station.sim.device.truth()["memristor_resistance"][1]
    proc = SyncMap(gate_voltages=[-2.0], **GATE_SWEEP)  # no target: the state is not known
    runner = Runner(proc, station, tmp_path / "refused.h5")
    assert runner.run() == "failed"
    assert "would switch the memristor in its LRS" in runner.reason
    assert station.sim.device.truth()["memristor_resistance"][1] == r_before  # untouched
    assert min(source_levels(station)) > -0.25  # only the read levels were ever sent


def test_a_sweep_that_switched_the_memristor_is_recorded_and_said_loudly(tmp_path):
    station = open_station(default_sim_station())
    proc = SyncMap(memristor_targets=["LRS"], gate_voltages=[-2.0], allow_switching=True,
                   **GATE_SWEEP)
    runner = Runner(proc, station, tmp_path / "switched.h5")
    assert runner.run() == "completed", runner.reason
    with h5py.File(tmp_path / "switched.h5", "r") as f:
        before = f["state_resistance"][0]
        assert before < 1e6  # LRS when the sweep began ...
        assert f["resistance_after"][0] > 1e9  # ... HRS when it ended: V_M reset it
        assert f["memristor_changed"][0] == 1 and f["switching_allowed"][0] == 1
    (state,) = runner.results["states"]
    assert state["memristor_changed"] and state["memristor_resistance_after"] > 1e9
    summary = proc.summarize(runner.results)
    assert any("WARNING: the memristor changed during this sweep" in line for line in summary)
