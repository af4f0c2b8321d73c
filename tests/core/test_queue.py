"""The overnight queue: a real `labctl queue` killed with SIGKILL carries on with --resume
without repeating or losing a run; bad queue files fail in one line before anything runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labctl.cli.main import main
from labctl.queue import load_queue
from labctl.runfile import read_info

QUEUE = """\
station = "station.toml"
out = "runs/night"
on_failure = "continue"

[[run]]
procedure = "memristor-program"
set = { state = "LRS" }

[[run]]
procedure = "freq-current"
set = { i_start = 0.8e-3, i_stop = 1.6e-3, i_step = 100e-6, points = 1001, settle = 3.0 }
foreach = { field = [0.6, 0.65, 0.7], gate_voltage = [0.0, 0.2] }

[[run]]
procedure = "sync-map"
set = { gate_voltages = [0.0, -1.0], i_start = 1.6e-3, i_stop = 2.0e-3, i_step = 100e-6, \
points = 1001, settle = 3.0 }
"""


def labctl(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labctl.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def queue_file(tmp_path, write_station):
    # real time x 0.01: each short run then lasts about a second, long enough to be killed in
    write_station(("realtime_factor = 0.0", "realtime_factor = 0.01"))
    path = tmp_path / "night.toml"
    path.write_text(QUEUE, encoding="utf-8")
    return path


def read_state(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def test_expansion_is_cartesian_in_order(queue_file):
    queue = load_queue(queue_file)
    assert [r.procedure for r in queue.runs] == (["memristor-program"] + ["freq-current"] * 6
                                                  + ["sync-map"])
    assert [(r.varied["field"], r.varied["gate_voltage"]) for r in queue.runs[1:7]] == [
        (0.6, 0.0), (0.6, 0.2), (0.65, 0.0), (0.65, 0.2), (0.7, 0.0), (0.7, 0.2)]
    assert all(r.parameters["i_step"] == 100e-6 for r in queue.runs[1:7])
    assert [r.index for r in queue.runs] == list(range(1, 9))
    assert queue.state_path == (queue_file.parent / "runs" / "night.queue.json").resolve()


def rows_of_running(state) -> int:
    for r in state["runs"]:
        if r["status"] == "running" and r["path"]:
            try:
                return read_info(r["path"])["rows"].get("point", 0)
            except Exception:  # being created: not readable yet
                return 0
    return 0


@pytest.mark.system
def test_sigkill_then_resume_repeats_nothing_and_misses_nothing(queue_file):
    tmp = queue_file.parent
    state_path = tmp / "runs" / "night.queue.json"
    proc = subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "queue", str(queue_file),
                             "--quiet"], cwd=tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    state = None
    while time.time() < deadline and proc.poll() is None:
        state = read_state(state_path)
        if state and sum(r["status"] == "completed" for r in state["runs"]) >= 2 and \
                rows_of_running(state) >= 2:  # inside a run, not between two
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the queue finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    state = read_state(state_path)
    statuses = [r["status"] for r in state["runs"]]
    done_before = [r for r in state["runs"] if r["status"] == "completed"]
    assert 2 <= len(done_before) < len(statuses)
    assert "pending" in statuses  # killed in the middle of the queue
    before = {r["path"]: os.stat(r["path"]).st_mtime_ns for r in done_before}
    killed = [r for r in state["runs"] if r["status"] == "running"]

    # a second start without --resume refuses rather than measuring everything again
    again = labctl("queue", str(queue_file), "--quiet", cwd=tmp)
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = labctl("queue", str(queue_file), "--resume", "--quiet", cwd=tmp)
    assert resumed.returncode == 0, resumed.stderr
    assert "8 completed" in resumed.stdout  # the summary table's last line

    state = read_state(state_path)
    runs = state["runs"]
    assert [r["index"] for r in runs] == list(range(1, 9))
    assert all(r["status"] == "completed" for r in runs)
    # completed runs were not touched again
    for r in done_before:
        assert os.stat(r["path"]).st_mtime_ns == before[r["path"]]
        assert next(x for x in runs if x["index"] == r["index"])["attempts"] == 1
    # the interrupted run continued in its own file
    for r in killed:
        now = next(x for x in runs if x["index"] == r["index"])
        assert now["path"] == r["path"] and now["attempts"] == 2
        if os.path.exists(r["path"]):
            assert read_info(r["path"])["resumed"] == 1
    # one complete run file per run, nothing else: none repeated, none missing
    files = sorted(str(p.resolve()) for p in (tmp / "runs" / "night").glob("*.h5"))
    assert files == sorted(r["path"] for r in runs)
    for r in runs:
        info = read_info(r["path"])
        assert info["status"] == "completed", r
        assert info["procedure"] == r["procedure"]
        main = info["schema"]["streams"][0]["name"]
        assert info["rows"][main] == r["rows"]
        if r["planned"]:
            assert r["rows"] == r["planned"] == info["planned_points"]
        assert info["parameters"] == r["parameters"]


BAD = {
    "malformed": ("[[run]\nprocedure = 'freq-current'\n", "not valid TOML"),
    "unknown procedure": ("[[run]]\nprocedure = 'freq-currant'\n", "unknown procedure"),
    "unknown parameter": ("[[run]]\nprocedure = 'freq-current'\nset = { i_stap = 1e-3 }\n",
                          "unknown parameter 'i_stap'"),
    "beyond limit": ("[[run]]\nprocedure = 'freq-current'\nset = { i_step = 50e-6 }\n"
                     "foreach = { i_stop = [1e-3, 3e-3] }\n", "max |I_SHNO|"),
    "wrong type": ("[[run]]\nprocedure = 'field-sweep'\nset = { points = 'many' }\n",
                   "not a valid int"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_queue_file_is_one_line_exit_2_and_runs_nothing(case, tmp_path, capsys):
    body, expected = BAD[case]
    path = tmp_path / "bad.toml"
    # a good first run: nothing may run before the whole file is validated
    path.write_text("station = 'sim'\nout = 'runs'\n[[run]]\nprocedure = 'freq-current'\n"
                    "set = { points = 1001 }\n" + body, encoding="utf-8")
    code = main(["queue", str(path), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"labctl: error: queue file '{path}'")
    assert expected in err
    if case != "malformed":
        assert "run 2" in err  # names the entry
    assert not (tmp_path / "runs").exists()
    assert not list(tmp_path.rglob("*.h5"))


def test_the_documented_example_is_a_valid_queue():
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "overnight.toml"
    queue = load_queue(example)
    assert [r.procedure for r in queue.runs] == (["memristor-program"] + ["freq-current"] * 6
                                                  + ["field-sweep", "sync-map"])
    assert queue.runs[-1].parameters["memristor_targets"] == ["HRS", "LRS"]
    assert queue.on_failure == "continue"
