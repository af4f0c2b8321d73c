"""memristor-retention on the simulated station: a non-volatile state reads flat in time."""

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.events import POINT
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.station import open_station
from procedures.memristor_program import MemristorProgram
from procedures.memristor_retention import MemristorRetention


@pytest.fixture
def station():
    return open_station(default_sim_station())


def gated_resistance(station) -> float:
    return station.sim.device.truth()["memristor_resistance"][
        station.sim.device.params.gated_memristor]


@pytest.mark.parametrize("goal", [{"target": 12e3}, {"state": "HRS"}])
def test_programmed_state_is_retained(station, tmp_path, goal):
    assert Runner(MemristorProgram(**goal), station, tmp_path / "p.h5").run() == "completed"
    r_true = gated_resistance(station)
    p = MemristorRetention(duration=7200.0, interval=600.0)
    t_start = station.clock.now()
    runner = Runner(p, station, tmp_path / "retention.h5")
    assert runner.run() == "completed", runner.reason
    with h5py.File(tmp_path / "retention.h5", "r") as f:
        t, r, i = f["time"][:], f["resistance"][:], f["current"][:]
        assert f.attrs["status"].decode() == "completed"  # fixed-size outcome attribute
    assert len(t) == p.planned_points() == 13
    np.testing.assert_allclose(t, np.arange(13) * 600.0, atol=0.5)  # on schedule
    assert station.clock.now() - t_start >= 7200.0  # virtual time, not wall time
    # flat within the read noise (1 % rms, RTN and 1/f): the state is non-volatile, and
    # every read is a draw of its own, not one value repeated
    spread = np.std(r) / np.mean(r)
    assert 0.003 < spread < 0.03
    assert np.mean(r) == pytest.approx(r_true, rel=0.03)
    np.testing.assert_allclose(i, p.v_read / r, rtol=1e-6)
    assert gated_resistance(station) == r_true  # the reads did not disturb it
    assert abs(runner.results["drift"]) < 0.1
    assert runner.results["state"] == ("HRS" if "state" in goal else "LRS")
    assert station.sim.device.truth()["gate_voltage"] == 0.0


def test_abort_stops_between_reads(station, tmp_path):
    p = MemristorRetention(duration=3600.0, interval=60.0)
    runner = Runner(p, station, tmp_path / "retention.h5")
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == 3
                     and runner.abort("enough"))
    assert runner.run() == "aborted"
    info = read_info(tmp_path / "retention.h5")
    assert info["status"] == "aborted" and info["reason"] == "enough"
    assert info["rows"]["point"] == 4
    assert station.sim.device.truth()["gate_voltage"] == 0.0


def test_resume_keeps_the_schedule(tmp_path):
    p = MemristorRetention(duration=600.0, interval=100.0)
    path = tmp_path / "retention.h5"
    runner = Runner(p, open_station(default_sim_station()), path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == 2
                     and runner.abort("pause"))
    assert runner.run() == "aborted"
    resumed = Runner(p, open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    with h5py.File(path, "r") as f:
        np.testing.assert_allclose(f["time"][:], np.arange(7) * 100.0, atol=0.5)
    assert resumed.results["reads"] == 7


def test_beyond_station_limits_raises_before_any_command(station, tmp_path):
    runner = Runner(MemristorRetention(read_compliance=2e-3), station, tmp_path / "no.h5")
    with pytest.raises(LimitError, match="read_compliance"):
        runner.start()
    assert station.sim.instruments["gate"].commands() == []


def test_read_voltage_above_02_v_is_refused():
    with pytest.raises(UserInputError, match="v_read"):
        MemristorRetention(v_read=0.3)
