"""Processes and signals: Ctrl-C in a Python script aborts its run safely; a second process
cannot open a station that another one holds, and the first carries on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from labctl.runfile import read_info

pytestmark = pytest.mark.system

SCRIPT = textwrap.dedent("""
    import json, sys
    from labctl.lab import open_lab
    from labctl.testing import last_commands

    lab = open_lab(station=sys.argv[1])
    lab.subscribe(lambda e: e.kind == "point" and print("point", flush=True))
    try:
        lab.run("freq-current", {"i_start": 0.6e-3, "i_stop": 2.0e-3, "i_step": 50e-6,
                                 "points": 1001, "gate_voltage": 0.1}, path=sys.argv[2])
        print("finished without interruption", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    # before the lab is closed: the run's own abort must have made the station safe
    print("commands " + json.dumps(last_commands(lab.station.sim)), flush=True)
    lab.close()
""")


def labctl(*args, **kw):
    return subprocess.run([sys.executable, "-m", "labctl.cli.main", *args], capture_output=True,
                          text=True, timeout=300, **kw)


def test_ctrl_c_in_a_script_aborts_the_run_with_outputs_at_zero(tmp_path, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.02"))
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT, encoding="utf-8")
    path = tmp_path / "run.h5"
    proc = subprocess.Popen([sys.executable, str(script), str(station), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(3):  # a few points in
        assert proc.stdout.readline().strip() == "point", proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    assert "interrupted" in lines
    commands = json.loads(lines[-1].removeprefix("commands "))
    for slot, (level, on) in commands.items():
        assert level == 0.0 and on is False, (slot, level, on)
    info = read_info(path)
    assert info["status"] == "aborted" and "Ctrl-C" in info["reason"]


def test_a_second_process_is_refused_while_the_first_keeps_running(tmp_path, write_station):
    # real time x 0.05 and 2 s of settling per point: the first run lasts about 10 s
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.05"))
    out = tmp_path / "runs"
    first = subprocess.Popen(
        [sys.executable, "-m", "labctl.cli.main", "run", "freq-current", "--station",
         str(station), "--out", str(out), "--quiet", "--set", "settle=2",
         "--set", "points=1001"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    path = None
    while time.time() < deadline and path is None:
        files = list(out.glob("*.h5")) if out.exists() else []
        try:
            if files and read_info(files[0])["rows"].get("point", 0) >= 2:
                path = files[0]
        except Exception:  # between creation and the first flush
            pass
        time.sleep(0.02)
    assert path is not None, first.communicate()[1]
    for command in (["run", "freq-current", "--station", str(station), "--out", str(out)],
                    ["safe", "--station", str(station)],
                    ["station", "check", "--station", str(station)]):
        second = labctl(*command)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"in use by process {first.pid}" in lines[0]
    assert labctl("inspect", str(path)).returncode == 0  # reading a run needs no station
    assert first.poll() is None  # the first run was not disturbed
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert read_info(path)["status"] == "completed"
    assert len(list(out.glob("*.h5"))) == 1  # the refused run created no file
