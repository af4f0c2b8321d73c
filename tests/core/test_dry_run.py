"""``--dry-run`` checks a run or a queue written for the real station and prints its plan and
estimate without touching anything; ``labctl queue FILE --sim`` rehearses it on the simulator."""

from __future__ import annotations

import json

import pytest

import labctl.locks
import labctl.station
from labctl.cli.main import main
from labctl.registry import available_procedures


@pytest.fixture
def untouchable(monkeypatch):
    """Opening a station, a VISA session or a station lock fails the test."""
    import pyvisa

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run touched the station")

    monkeypatch.setattr(labctl.station, "open_station", refuse)
    monkeypatch.setattr(pyvisa, "ResourceManager", refuse)
    monkeypatch.setattr(labctl.locks.ExclusiveLock, "acquire", refuse)


@pytest.fixture
def lab_station(write_station):
    """A station file for real instruments (addresses nobody can reach from here)."""
    edits = [("simulated = true", "simulated = false")] + [
        (f'address = "SIM::{slot}"', f'address = "TCPIP0::10.9.9.{k}::INSTR"')
        for k, slot in enumerate(("shno_source", "gate", "spectrum", "supply", "gaussmeter"))]
    return write_station(*edits, name="lab.toml")


@pytest.mark.parametrize("name", available_procedures())
def test_run_dry_run_prints_the_plan_and_touches_nothing(name, capsys, untouchable, tmp_path,
                                                         lab_station):
    code = main(["run", name, "--station", str(lab_station), "--dry-run", "--out",
                 str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"dry run: {name} on the station file '{lab_station}'")
    assert "nothing is sent to an instrument" in out
    estimate = out.strip().splitlines()[-1].split()
    assert estimate[0] == "estimate" and estimate[-1] != "unknown"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [["run", "sync-map"], ["queue", "examples/overnight.toml"]])
def test_dry_run_on_the_simulator_opens_nothing_either(command, capsys, untouchable):
    from pathlib import Path

    root = Path(__file__).parents[2]
    argv = [command[0], str(root / command[1]) if command[0] == "queue" else command[1]]
    assert main([*argv, "--sim", "--dry-run"]) == 0, capsys.readouterr().err
    assert "nothing is sent to an instrument" in capsys.readouterr().out


def test_dry_run_still_refuses_bad_input(capsys, untouchable, lab_station):
    code = main(["run", "freq-current", "--station", str(lab_station), "--dry-run",
                 "--set", "i_stop=3 mA"])
    err = capsys.readouterr().err
    assert code == 2 and "max |I_SHNO|" in err and err.count("\n") == 1


QUEUE = """\
station = "{station}"
out = "runs/night"

[[run]]
procedure = "iv-stripe"
set = {{ i_stop = "1.5 mA", i_step = "250 uA" }}

[[run]]
procedure = "memristor-retention"
foreach = {{ interval = ["10 s", "20 s"] }}
set = {{ duration = 60.0 }}
"""


def test_queue_dry_run_lists_every_run_and_the_total(capsys, untouchable, tmp_path,
                                                     lab_station):
    queue = tmp_path / "night.toml"
    queue.write_text(QUEUE.format(station=lab_station.name), encoding="utf-8")
    code = main(["queue", str(queue), "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"dry run: queue '{queue}' on the station file") and \
        "3 runs" in lines[0]
    rows = [line.split() for line in lines[2:-1]]
    assert [r[:2] for r in rows] == [["1", "iv-stripe"], ["2", "memristor-retention"],
                                     ["3", "memristor-retention"]]
    assert "interval=10" in lines[3] and "interval=20" in lines[4]
    assert lines[-1].split()[:2] == ["total:", "2"]  # 2 min and a bit: two 60 s retentions
    assert not (tmp_path / "runs").exists()  # no out folder, no progress file


def test_queue_on_the_simulator_whatever_station_it_names(capsys, tmp_path):
    queue = tmp_path / "night.toml"
    # the lab's station file is not on this machine: --sim does not need it
    queue.write_text(QUEUE.format(station="/nowhere/lab.toml"), encoding="utf-8")
    assert main(["queue", str(queue), "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err
    code = main(["queue", str(queue), "--sim", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rehearsal = tmp_path / "runs" / "night-sim"
    assert len(list(rehearsal.glob("*.h5"))) == 3
    assert not (tmp_path / "runs" / "night").exists()  # the real queue's folder stays clean
    state = json.loads((tmp_path / "runs" / "night-sim.queue.json").read_text())
    assert [r["status"] for r in state["runs"]] == ["completed"] * 3
    # what is left of it: nothing
    assert main(["queue", str(queue), "--sim", "--dry-run", "--resume"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[-1] for line in lines[2:5]] == ["done"] * 3
    assert lines[-1].split() == ["total:", "0", "s"]


def test_queue_on_the_simulator_is_held_to_its_limits(capsys, tmp_path):
    queue = tmp_path / "night.toml"
    queue.write_text('station = "lab.toml"\nout = "runs"\n[[run]]\nprocedure = "iv-stripe"\n'
                     'set = { i_stop = "3 mA" }\n', encoding="utf-8")
    assert main(["queue", str(queue), "--sim", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "i_stop" in err and "max |I_SHNO|" in err and err.count("\n") == 1


def test_a_run_shows_its_estimate_progress_and_the_magnet_ramping(capsys, tmp_path):
    code = main(["run", "freq-current", "--sim", "--out", str(tmp_path), "--set", "i_step=200uA",
                 "--set", "averages=2", "--set", "points=2001"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "freq-current: 10 points, estimated " in err
    assert "10/10" in err and " left]" in err  # the run's bar, with the time left
    # the magnet's own bar: up to the field (10.833 A at 650 mT) and back down to 0 A
    assert "magnet:" in err and "→ 10.833 A" in err and "→ 0.000 A" in err
