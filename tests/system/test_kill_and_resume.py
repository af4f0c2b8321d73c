"""A real `labctl run` killed with SIGKILL loses nothing measured, and `labctl resume` completes
it into the same file with data equal to an uninterrupted run on the seeded simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from labctl.runfile import read_info

pytestmark = pytest.mark.system
SETS = ["i_start=0.6e-3", "i_stop=2.0e-3", "i_step=50e-6", "points=2001", "averages=10"]


def labctl(*args, **kw):
    return subprocess.run([sys.executable, "-m", "labctl.cli.main", *args], capture_output=True,
                          text=True, timeout=300, **kw)


def start_run(station, out):
    cmd = [sys.executable, "-m", "labctl.cli.main", "run", "freq-current", "--station",
           str(station), "--out", str(out), "--quiet"]
    for s in SETS:
        cmd += ["--set", s]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_then_resume_equals_uninterrupted(tmp_path, write_station):
    # slow the simulated clock down to real time x 0.02 so the run can be killed midway
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.02"))
    killed_dir, ref_dir = tmp_path / "killed", tmp_path / "ref"
    proc = start_run(station, killed_dir)
    deadline = time.time() + 120
    path = None
    while time.time() < deadline:
        files = list(killed_dir.glob("*.h5")) if killed_dir.exists() else []
        if files:
            path = files[0]
            try:
                if read_info(path)["rows"].get("point", 0) >= 8:
                    break
            except Exception:  # the file may be between creation and its first flush
                pass
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    info = read_info(path)
    assert info["status"] == "running"  # never closed: the file says it did not finish
    done = info["rows"]["point"]
    assert 8 <= done < info["planned_points"]

    inspected = labctl("inspect", str(path))
    assert inspected.returncode == 0 and "did not finish" in inspected.stdout

    resumed = labctl("resume", str(path))
    assert resumed.returncode == 0, resumed.stderr
    # where it picks up and how long the rest takes, before it starts
    planned = info["planned_points"]
    assert f"freq-current: resuming after point {done} of {planned}, estimated " in resumed.stderr
    assert resumed.stdout.strip().splitlines()[-1] == str(path)
    info = read_info(path)
    assert info["status"] == "completed" and info["resumed"] == 1
    assert info["rows"]["point"] == info["planned_points"]

    reference = start_run(station, ref_dir)
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    ref_path = next(ref_dir.glob("*.h5"))
    with h5py.File(path, "r") as a, h5py.File(ref_path, "r") as b:
        for name in ("current", "voltage", "trace", "peak_frequency", "peak_power", "n_lines",
                     "sync_state", "field_measured", "background_trace"):
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
        assert a.attrs["results"] == b.attrs["results"]


def test_sigterm_aborts_ramps_down_and_records_why(tmp_path, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.02"))
    proc = start_run(station, tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:
        files = list(tmp_path.glob("*.h5"))
        try:
            if files and read_info(files[0])["rows"].get("point", 0) >= 3:
                break
        except Exception:  # between creation and the first flush
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = out.strip().splitlines()
    assert lines[0].startswith("status: aborted (terminated by SIGTERM)")
    info = read_info(lines[-1])
    assert info["status"] == "aborted" and info["reason"] == "terminated by SIGTERM"
    with h5py.File(lines[-1], "r") as f:
        log = [line.decode() for line in f["log/line"][:]]
    assert any("outputs ramped down" in line for line in log)
