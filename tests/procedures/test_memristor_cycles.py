"""memristor-cycles on the simulated station: switching voltages, LRS level, safety, resume."""

import math

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.events import POINT
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.sim.scpi import compile_pattern, normalize_header
from labctl.station import open_station
from procedures.memristor_cycles import MemristorCycles

LEVEL = compile_pattern("[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
LIMIT = compile_pattern("[:SOURce#]:VOLTage:ILIMit[:LEVel]")


@pytest.fixture
def station():
    return open_station(default_sim_station())


def gate_levels(station):
    """(level, compliance in effect) for every V_M level sent to the gate, in order."""
    out, compliance = [], None
    for record in station.sim.instruments["gate"].commands():
        header = normalize_header(record.header)
        if LIMIT.match(header):
            compliance = float(record.args)
        elif LEVEL.match(header):
            out.append((float(record.args), compliance))
    return out


def run_with_truth(procedure, station, path):
    """Run to the end, recording the device truth after every staircase step."""
    runner = Runner(procedure, station, path)
    device = station.sim.device
    k = device.params.gated_memristor
    seen = []

    def on_event(event):
        if event.kind == POINT:
            m = device.memristors[k]
            seen.append((event.data["values"]["cycle_index"], event.data["values"]["voltage"],
                         m.lrs, m.set_voltage(), m.reset_voltage()))

    runner.subscribe(on_event)
    assert runner.run() == "completed", runner.reason
    return runner, seen


def test_switching_voltages_match_the_device(station, tmp_path):
    p = MemristorCycles(cycles=5, v_step=0.1, compliance=100e-6)
    runner, seen = run_with_truth(p, station, tmp_path / "cycles.h5")
    info = read_info(tmp_path / "cycles.h5")
    assert info["status"] == "completed"
    assert info["rows"] == {"point": p.planned_points(), "cycle": 5}
    params = station.sim.device.params
    with h5py.File(tmp_path / "cycles.h5", "r") as f:
        v_set, v_reset = f["v_set"][:], f["v_reset"][:]
    for c in range(5):
        steps = [s for s in seen if s[0] == c]
        lrs = np.array([s[2] for s in steps])
        volts = np.array([s[1] for s in steps])
        on = int(np.flatnonzero(lrs)[0])
        off = on + int(np.flatnonzero(~lrs[on:])[0])
        # the voltage at which the simulated device actually switched, and its threshold
        assert v_set[c] == pytest.approx(volts[on])
        assert v_reset[c] == pytest.approx(volts[off])
        threshold = steps[on][3]  # this cycle's SET voltage (log-normal spread)
        assert 0 <= v_set[c] - threshold <= p.v_step + 1e-9
        # the RESET needs at least this cycle's V_RESET across the memristor (and about the
        # SET current through it: a compliance can hold the voltage lower for longer)
        reset_threshold = steps[off - 1][4]
        assert v_reset[c] <= reset_threshold + p.v_step + 1e-9
        assert v_reset[c] < 0.5 * params.v_reset
    assert np.std(v_set) > 0  # the cycle-to-cycle spread is seen, not averaged away
    assert runner.results["endurance"] == 5
    assert runner.results["v_set_mean"] == pytest.approx(np.mean(v_set))


@pytest.mark.parametrize("compliance", [50e-6, 200e-6])
def test_lrs_level_is_set_by_the_compliance(station, tmp_path, compliance):
    p = MemristorCycles(cycles=2, compliance=compliance, v_step=0.2)
    runner = Runner(p, station, tmp_path / "cycles.h5")
    assert runner.run() == "completed", runner.reason
    res = runner.results
    # 0.4 V / I_cc, within the cycle-to-cycle and device-to-device spread
    assert res["r_lrs_mean"] == pytest.approx(0.4 / compliance, rel=0.5)
    assert res["r_hrs_mean"] == pytest.approx(station.sim.device.params.r_hrs, rel=1.0)  # spread
    assert res["endurance"] == 2
    lines = "\n".join(p.summarize(res))
    assert "V_SET" in lines and "R_LRS" in lines and "endurance: 2 of 2" in lines


def test_compliance_before_every_level_and_ends_at_zero(station, tmp_path):
    p = MemristorCycles(cycles=2, v_step=0.1, compliance=80e-6, reset_compliance=400e-6,
                        v_read=0.15, read_compliance=20e-6)
    runner = Runner(p, station, tmp_path / "cycles.h5")
    assert runner.run() == "completed", runner.reason
    levels = gate_levels(station)
    assert levels
    for volts, compliance in levels:
        if volts == 0:
            continue
        assert compliance is not None
        if volts < 0:
            assert compliance == pytest.approx(p.reset_compliance)
        elif math.isclose(volts, p.v_read):
            assert compliance == pytest.approx(p.read_compliance)
        else:
            assert compliance == pytest.approx(p.compliance)
    assert levels[-1][0] == 0.0
    truth = station.sim.device.truth()
    assert truth["gate_voltage"] == 0.0
    assert not truth["memristor_broken"][1]
    assert read_info(tmp_path / "cycles.h5")["status"] == "completed"


@pytest.mark.parametrize("values", [{"v_set_max": 9.0}, {"v_reset_min": -4.0},
                                    {"compliance": 2e-3, "reset_compliance": 2e-3},
                                    {"reset_compliance": 5e-3}])
def test_beyond_station_limits_raises_before_any_command(station, tmp_path, values):
    runner = Runner(MemristorCycles(cycles=1, **values), station, tmp_path / "no.h5")
    with pytest.raises(LimitError, match=next(iter(values))):
        runner.start()
    assert station.sim.instruments["gate"].commands() == []
    assert not (tmp_path / "no.h5").exists()


@pytest.mark.parametrize("half", ["SET", "RESET"])
def test_resume_continues_from_the_recorded_step(tmp_path, half):
    p = MemristorCycles(cycles=3, v_step=0.25)
    levels, n_set = p.cycle_levels()
    per_cycle = len(levels)
    path = tmp_path / "cycles.h5"
    # interrupted inside cycle 1, then resumed on a fresh station
    stop_at = per_cycle + (n_set // 2 if half == "SET" else n_set + 1)
    runner = Runner(p, open_station(default_sim_station()), path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == stop_at
                     and runner.abort("test stop"))
    assert runner.run() == "aborted"
    assert read_info(path)["rows"]["point"] == stop_at + 1
    resumed = Runner(p, open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    with h5py.File(path, "r") as f:
        assert f.attrs["status"].decode() == "completed"  # fixed-size outcome attribute
        np.testing.assert_array_equal(f["step"][:], np.tile(np.arange(per_cycle), 3))
        np.testing.assert_array_equal(f["cycle_index"][:], np.repeat(np.arange(3), per_cycle))
        np.testing.assert_allclose(f["voltage"][:], np.tile(levels, 3))
        r_lrs = f["r_lrs"][:]
        assert r_lrs.shape == (3,)
        # R_LRS of cycle 1 is read only if the resumed run did that cycle's SET half
        assert np.isfinite(r_lrs[1]) == (half == "SET")
        assert np.isfinite(r_lrs[[0, 2]]).all()
    assert resumed.results["cycles_recorded"] == 3


def test_resume_after_the_last_step_of_a_cycle_fills_its_summary(tmp_path):
    p = MemristorCycles(cycles=2, v_step=0.25)
    per_cycle = len(p.cycle_levels()[0])
    path = tmp_path / "cycles.h5"
    runner = Runner(p, open_station(default_sim_station()), path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == per_cycle - 1
                     and runner.abort("test stop"))
    assert runner.run() == "aborted"
    assert read_info(path)["rows"] == {"point": per_cycle, "cycle": 0}
    resumed = Runner(p, open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    with h5py.File(path, "r") as f:
        assert f["v_set"].shape == (2,)
        assert np.isfinite(f["v_set"][:]).all()
        assert math.isnan(f["r_lrs"][0]) and np.isfinite(f["r_lrs"][1])


def test_reset_compliance_below_the_set_compliance_is_refused():
    with pytest.raises(UserInputError, match="reset_compliance"):
        MemristorCycles(compliance=200e-6, reset_compliance=100e-6)
