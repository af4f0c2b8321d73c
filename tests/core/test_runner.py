"""The runner on the simulated station: events, abort, Ctrl-C, faults, pause, replay."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from labctl.config import FaultConfig, default_sim_station
from labctl.events import EventBus
from labctl.replay import replay
from labctl.runfile import open_run, read_info
from labctl.runner import Runner
from labctl.station import open_station
from labctl.testing import Recorder, outputs_at_zero
from procedures.freq_current import FreqCurrent

SMALL = dict(i_start=0.6e-3, i_stop=2.0e-3, i_step=100e-6, points=1001, averages=10)


def test_completed_run_events_and_file(tmp_path):
    station = open_station(default_sim_station())
    proc = FreqCurrent(**SMALL)
    runner = Runner(proc, station, tmp_path / "run.h5")
    rec = Recorder()
    runner.subscribe(rec)
    assert runner.run() == "completed"
    kinds = rec.kinds()
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("point") == proc.planned_points() == 15
    assert kinds.count("row") == 1  # the background trace
    assert "results" in kinds
    indices = [e.data["index"] for e in rec.events if e.kind == "point"]
    assert indices == list(range(15))
    assert outputs_at_zero(station)
    info = read_info(tmp_path / "run.h5")
    assert info["status"] == "completed" and info["rows"]["point"] == 15
    assert "shno_source" in info["instruments"]


def test_abort_ramps_down_and_records_reason(tmp_path):
    station = open_station(default_sim_station())
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")

    def abort_after_five(event):
        if event.kind == "point" and event.data["index"] == 4:
            runner.abort("operator pressed abort")

    runner.subscribe(abort_after_five)
    assert runner.run() == "aborted"
    assert outputs_at_zero(station)
    info = read_info(tmp_path / "run.h5")
    assert info["status"] == "aborted"
    assert info["reason"] == "operator pressed abort"
    assert info["rows"]["point"] == 5  # every measured point kept


def test_instrument_fault_fails_run_names_instrument_and_ramps_down(tmp_path):
    base = default_sim_station()
    sim = base.sim.model_copy(update={"faults": [
        FaultConfig(instrument="spectrum", kind="timeout", at_command=40)]})
    config = base.model_copy(update={"sim": sim})
    station = open_station(config)
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")
    assert runner.run() == "failed"
    assert "spectrum" in runner.reason and "timeout" in runner.reason
    assert outputs_at_zero(station)
    info = read_info(tmp_path / "run.h5")
    assert info["status"] == "failed" and "spectrum" in info["reason"]


def test_pause_holds_and_resume_continues(tmp_path):
    station = open_station(default_sim_station())
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")
    paused = threading.Event()

    def pause_at_three(event):
        if event.kind == "point" and event.data["index"] == 2:
            runner.pause()
            paused.set()

    rec = Recorder()
    runner.subscribe(rec)
    runner.subscribe(pause_at_three)
    runner.start()
    assert paused.wait(10)
    assert not runner.wait(0.3)  # held while paused: the run does not go on
    assert runner.rows == 3 and runner.state == "paused"
    held_current = station.sim.device.truth()["current"]
    assert held_current > 0  # pause keeps the outputs where they are
    runner.unpause()
    assert runner.wait(20)
    assert runner.status == "completed" and runner.rows == 15 and runner.state == "finished"
    assert [e.data["state"] for e in rec.events if e.kind == "state"] == [
        "running", "paused", "running"]


def test_replay_gives_the_live_events(tmp_path):
    station = open_station(default_sim_station())
    live = Recorder()
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")
    runner.subscribe(live)
    runner.run()
    bus = EventBus()
    played = Recorder()
    bus.subscribe(played)
    finished = replay(tmp_path / "run.h5", bus)
    assert finished["status"] == "completed" and finished["rows"] == 15
    live_points = [e.data for e in live.events if e.kind == "point"]
    replay_points = [e.data for e in played.events if e.kind == "point"]
    assert len(live_points) == len(replay_points)
    for a, b in zip(live_points, replay_points):
        assert a["index"] == b["index"]
        np.testing.assert_array_equal(a["values"]["trace"], b["values"]["trace"])
        assert a["values"]["n_lines"] == b["values"]["n_lines"]
    assert played.kinds()[0] == "started" and played.kinds()[-1] == "finished"
    started = played.events[0].data
    assert started["schema"].main.name == "point"
    with open_run(tmp_path / "run.h5") as f:
        assert f.attrs["procedure"] == "freq-current"


def test_bad_parameters_touch_no_instrument(tmp_path):
    from labctl.errors import LimitError

    station = open_station(default_sim_station())
    proc = FreqCurrent(i_stop=5e-3)
    with pytest.raises(LimitError, match="i_stop"):
        Runner(proc, station, tmp_path / "run.h5").start()
    assert all(len(i.log) == 0 for i in station.sim.instruments.values())
    assert not (tmp_path / "run.h5").exists()


@pytest.mark.parametrize("instrument,kind,at", [
    ("shno_source", "error", 30), ("shno_source", "timeout", 30), ("gate", "error", 8),
    ("spectrum", "disconnect", 25), ("gaussmeter", "timeout", 20), ("supply", "error", 40),
])
def test_faults_fail_the_run_name_the_instrument_and_ramp_down(tmp_path, instrument, kind, at):
    base = default_sim_station()
    sim = base.sim.model_copy(update={"faults": [
        FaultConfig(instrument=instrument, kind=kind, at_command=at)]})
    station = open_station(base.model_copy(update={"sim": sim}))
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")
    assert runner.run() == "failed"
    assert instrument in runner.reason
    assert outputs_at_zero(station)
    info = read_info(tmp_path / "run.h5")
    assert info["status"] == "failed" and instrument in info["reason"]


def test_disconnected_source_is_reported_and_the_rest_ramps_down(tmp_path):
    base = default_sim_station()
    sim = base.sim.model_copy(update={"faults": [
        FaultConfig(instrument="gate", kind="disconnect", at_command=14)]})
    station = open_station(base.model_copy(update={"sim": sim}))
    runner = Runner(FreqCurrent(**SMALL), station, tmp_path / "run.h5")
    assert runner.run() == "failed"
    assert "gate" in runner.reason and "RAMP-DOWN FAILED" in runner.reason
    truth = station.sim.device.truth()
    assert abs(truth["current"]) < 1e-12  # I_SHNO and the magnet still reached zero
    assert abs(station.sim.device.magnet.supply_setpoint()) < 1e-12
