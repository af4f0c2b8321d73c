"""The Lab: one owner of the station, runs in worker threads, one event stream, safe close."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from labctl.errors import LimitError, UserInputError
from labctl.lab import LabClosed, StationBusy, open_lab
from labctl.locks import LockHeld
from labctl.procedure import Parameter, Procedure
from labctl.runfile import read_info
from labctl.schema import Quantity, Schema, Stream
from labctl.testing import Recorder, outputs_at_zero, outputs_at_zero_by_log, sim_station

SMALL = {"i_start": 0.6e-3, "i_stop": 1.4e-3, "i_step": 100e-6, "points": 1001,
         "averages": 10}


def test_run_by_name_events_have_time_and_source_and_outputs_end_at_zero(tmp_path):
    rec = Recorder()
    with open_lab(sim=True) as lab:
        lab.subscribe(rec)
        result = lab.run("freq-current", {**SMALL, "gate_voltage": 0.1}, out=tmp_path,
                         sample="W12", operator="ana")
        assert lab.owner is None and not lab.busy
        assert outputs_at_zero(lab.station) and outputs_at_zero_by_log(lab.station.sim)
    assert result.status == "completed" and result.path.parent == tmp_path
    assert "threshold_current" in result.results
    run = rec.of("run")
    assert [e.kind for e in run][0] == "started" and run[-1].kind == "finished"
    assert run[0].data["metadata"] == {"sample": "W12", "device": "", "operator": "ana",
                                       "comment": ""}
    assert {e.run_id for e in run} == {run[0].run_id}
    assert all(e.time > 1e9 for e in rec.events)
    assert [e.data["state"] for e in rec.of("run", "state")] == ["running"]
    owners = [e.data["owner"] for e in rec.of("station", "owner")]
    assert owners == ["run", None]
    steps = rec.of("station", "output")
    assert {e.data["role"] for e in steps} == {"shno_source", "gate", "field"}
    assert any(e.data["done"] for e in steps)
    info = read_info(result.path)
    assert info["status"] == "completed"
    progress = rec.of("run", "progress")[-1].data
    assert progress["done"] == 9 and progress["remaining"] is not None


def test_manual_control_is_refused_while_a_run_owns_the_station(tmp_path):
    with open_lab(config=sim_station(0.01)) as lab:
        handle = lab.start("freq-current", SMALL, out=tmp_path)
        assert lab.owner == "run"
        for action in (lambda: lab.ramp("shno_source", 1e-3), lambda: lab.read_memristor(),
                       lambda: lab.acquire_spectrum({"f_start": 9e9, "f_stop": 10e9,
                                                     "points": 101, "rbw": 1e6}),
                       lambda: lab.start("freq-current", SMALL, out=tmp_path)):
            with pytest.raises(StationBusy, match="busy: a run \\(freq-current"):
                action()
        reading = lab.read_station()  # no second conversation: derived from the run
        assert reading.derived
        assert handle.wait(60) and handle.status == "completed"
        assert not lab.read_station().derived


def test_a_poller_thread_never_corrupts_a_run(tmp_path):
    """A GUI-like poller reads back while a run goes on: values or a busy refusal."""
    got, refused, other = [], [], []
    with open_lab(config=sim_station(0.002)) as lab:
        handle = lab.start("freq-current", SMALL, out=tmp_path)
        src = lab.station.shno_source

        def poll():
            while not handle.wait(0):
                try:
                    reading = lab.read_station()
                    got.append(reading.i_shno)
                    got.append(src.read_current())  # straight to the instrument, too
                    lab.read_memristor()
                except StationBusy:
                    refused.append(1)
                except Exception as err:  # anything else is corruption
                    other.append(repr(err))

        poller = threading.Thread(target=poll)
        poller.start()
        assert handle.wait(120)
        poller.join()
    assert handle.status == "completed", handle.reason
    assert other == []
    assert got and refused
    assert all(np.isnan(v) or 0 <= v <= 1.4e-3 for v in got)


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_ramp_down_and_close_abort_a_run(tmp_path):
    with open_lab(config=sim_station(0.01)) as lab:
        handle = lab.start("freq-current", SMALL, out=tmp_path)
        assert lab.ramp_down() == []
        assert handle.status == "aborted" and handle.reason == "ramp-down requested"
        assert outputs_at_zero(lab.station)
        handle = lab.start("freq-current", SMALL, out=tmp_path)
        _wait_until(lambda: handle.state == "running")  # its file exists: close must finish it
        lab.close()
        assert handle.status == "aborted" and "closed" in handle.reason
        assert outputs_at_zero_by_log(lab.station.sim)
        with pytest.raises(LabClosed):
            lab.ramp("gate", 0.1, 1e-4)
    assert read_info(handle.path)["status"] == "aborted"


def test_manual_ramps_go_through_the_safe_ramp_and_publish_each_step():
    rec = Recorder()
    with open_lab(sim=True) as lab:
        lab.subscribe(rec)
        assert lab.ramp("shno_source", 50e-6) == 50e-6
        steps = [e.data for e in rec.of("station", "output")]
        assert len(steps) == 6 and steps[-1]["done"] and steps[-1]["level"] == 50e-6
        assert all(s["target"] == 50e-6 and s["unit"] == "A" for s in steps)
        with pytest.raises(LimitError, match="I_SHNO"):
            lab.ramp("shno_source", 5e-3)
        with pytest.raises(LimitError, match="compliance"):
            lab.ramp("gate", 0.1)  # never without a compliance
        reading = lab.read_station()
        assert reading.i_shno == pytest.approx(50e-6) and reading.shno_output
        assert rec.of("station", "reading")[-1].data["reading"] == reading
        assert lab.ramp_down() == []
        assert outputs_at_zero(lab.station)


def test_keep_outputs_leaves_a_completed_run_at_its_levels(tmp_path):
    with open_lab(sim=True) as lab:
        result = lab.run("freq-current", SMALL, out=tmp_path, keep_outputs=True)
        assert result.completed
        assert lab.station.sim.device.truth()["current"] == pytest.approx(1.4e-3)
    assert outputs_at_zero(lab.station)  # close() still makes the station safe


def test_a_second_lab_on_the_same_station_is_refused():
    with open_lab(sim=True), pytest.raises(
            LockHeld, match=r"station 'simulated probe station' is in use by process \d+"):
        open_lab(sim=True)
    with open_lab(sim=True):  # released by close()
        pass


class Forgetful(Procedure):
    """Declares two quantities, yields one."""

    name = "forgetful"
    parameters = (Parameter("n", 3, "", 1, 10, kind=int),)

    def schema(self) -> Schema:
        return Schema(streams=(Stream("point", (Quantity("a"), Quantity("b", "V"))),))

    def execute(self, ctx):
        for k in range(self.n):
            yield {"a": float(k)} if k == 1 else {"a": float(k), "b": 0.0}


def test_a_row_without_a_declared_quantity_fails_the_run_naming_it(tmp_path):
    with open_lab(sim=True) as lab:
        result = lab.run(Forgetful, {"n": 3}, path=tmp_path / "f.h5")
    assert result.status == "failed"
    assert "lacks the declared quantity b" in result.reason
    info = read_info(tmp_path / "f.h5")
    assert info["status"] == "failed" and info["rows"]["point"] == 1


def test_resume_continues_into_the_same_file(tmp_path):
    with open_lab(sim=True) as lab:
        stop_at = threading.Event()

        def abort_at_three(event):
            if event.kind == "point" and event.data["index"] == 3:
                handle.abort("operator")
                stop_at.set()

        unsubscribe = lab.subscribe(abort_at_three)
        handle = lab.start("freq-current", SMALL, out=tmp_path)
        assert handle.wait(60) and handle.status == "aborted"
        unsubscribe()
        again = lab.resume(handle.path)
        assert again.wait(60) and again.status == "completed"
        assert again.path == handle.path
    info = read_info(handle.path)
    assert info["resumed"] == 1 and info["rows"]["point"] == 9


def test_close_releases_every_instrument_session(monkeypatch):
    from labctl.sim.adapter import SimAdapter

    closed = []
    monkeypatch.setattr(SimAdapter, "close", lambda self: closed.append(self.instrument.name))
    with open_lab(sim=True):
        assert closed == []
    assert sorted(closed) == ["gate", "gaussmeter", "shno_source", "spectrum", "supply"]


def test_manual_levels_take_units_and_a_memristor_read_needs_i_shno_at_zero():
    with open_lab(sim=True) as lab:
        assert lab.ramp("shno_source", "1.2 mA") == pytest.approx(1.2e-3)
        with pytest.raises(UserInputError, match="I_SHNO at zero .* 1.2 mA"):
            lab.read_memristor(0.1)
        assert lab.station.sim.device.truth()["gate_voltage"] == 0.0  # nothing was sent
        lab.ramp("shno_source", "0 A")
        assert lab.read_memristor(0.1) > 1e9  # the pristine memristor: HRS
        with pytest.raises(UserInputError, match="mA is not a unit of T"):
            lab.ramp("field", "600 mA")
        assert lab.ramp("field", "600 mT") == pytest.approx(0.6, abs=2e-3)
