"""A Lab in a process of its own (what `labctl gui` uses): calls and errors as if it were local,
light events, and a safe end whichever process ends first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from labctl.errors import LimitError
from labctl.lab import LabClosed, RemoteLab, StationBusy, open_lab
from labctl.runfile import log_lines, open_run, read_info
from labctl.testing import Recorder, reading_at_zero

SMALL = {"i_start": 0.6e-3, "i_stop": 1.4e-3, "i_step": 100e-6, "points": 2001}
LONG = {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 20e-6, "points": 2001}


def test_calls_errors_and_a_run_as_if_the_lab_were_here(tmp_path):
    rec = Recorder()
    with RemoteLab(sim=True) as lab:
        assert lab.process.pid != os.getpid() and lab.config.simulated
        lab.subscribe(rec)
        assert lab.ramp("shno_source", 1e-3) == pytest.approx(1e-3)
        assert lab.read_station().i_shno == pytest.approx(1e-3)
        with pytest.raises(LimitError, match="beyond the station limit"):
            lab.ramp("shno_source", 1.0)  # refused there, raised here as itself
        assert lab.read_station().i_shno == pytest.approx(1e-3)  # nothing was sent
        handle = lab.start("freq-current", SMALL, out=tmp_path, sample="W7")
        assert lab.owner == "run"  # known here when start returns
        with pytest.raises(StationBusy):
            lab.ramp("gate", 0.1)
        assert handle.wait(120) and handle.status == "completed"
        assert "threshold_current" in handle.results
        assert reading_at_zero(lab.read_station())
    assert lab.closed and lab.process.returncode == 0
    with pytest.raises(LabClosed):
        lab.read_station()
    with open_run(handle.path) as f:
        assert f.attrs["sample"] == "W7"
    with open_lab(sim=True):  # the lab process let go of the station
        pass
    run = rec.of("run")
    started = run[0]
    assert started.kind == "started" and started.data["rows_in_file"]
    assert started.data["path"] == str(handle.path)
    points = [e for e in run if e.kind == "point"]
    assert points[-1].data["index"] == 8  # the last of 9 points; earlier ones may be merged
    assert all(not hasattr(v, "shape") or v.shape == () for e in points
               for v in e.data["values"].values())  # the spectra stay in the file
    assert {"current", "n_lines"} <= set(points[-1].data["values"])
    assert run[-1].kind == "finished" and run[-1].data["status"] == "completed"
    owners = [e.data["owner"] for e in rec.of("station", "owner")]
    assert owners[-2:] == ["run", None] and "lost" not in [e.kind for e in rec.events]


def test_the_lab_process_ending_unexpectedly_is_said_and_every_call_refused():
    rec = Recorder()
    lab = RemoteLab(sim=True)
    lab.subscribe(rec)
    os.kill(lab.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not lab.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.closed and lab.owner is None
    lost = rec.of("station", "lost")
    assert len(lost) == 1 and "ended unexpectedly" in lost[0].data["reason"]
    with pytest.raises(LabClosed, match="ended unexpectedly"):
        lab.ramp("shno_source", 1e-3)
    assert lab.close() == []


def test_sigterm_to_the_lab_process_aborts_the_run_and_ramps_down(tmp_path, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.02"))
    lab = RemoteLab(station)
    handle = lab.start("freq-current", LONG, out=tmp_path)
    deadline = time.monotonic() + 60
    while handle.rows < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(lab.process.pid, signal.SIGTERM)
    assert lab.process.wait(120) == 0
    info = read_info(handle.path)
    assert info["status"] == "aborted" and "SIGTERM" in info["reason"]
    assert 2 <= info["rows"]["point"] < 81
    lab.close()


GUI_STAND_IN = textwrap.dedent("""
    import sys, time
    from labctl.lab import RemoteLab

    lab = RemoteLab(sys.argv[1])
    handle = lab.start("freq-current", {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 20e-6,
                                        "points": 2001}, out=sys.argv[2])
    while handle.rows < 2:
        time.sleep(0.05)
    print(lab.process.pid, handle.path, flush=True)
    time.sleep(600)
""")


@pytest.mark.system
def test_a_gui_process_killed_during_a_run_leaves_the_run_aborted_and_ramped_down(
        tmp_path, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.02"))
    script = tmp_path / "gui_stand_in.py"
    script.write_text(GUI_STAND_IN, encoding="utf-8")
    gui = subprocess.Popen([sys.executable, str(script), str(station), str(tmp_path)],
                           stdout=subprocess.PIPE, text=True)
    try:
        pid, path = gui.stdout.readline().split()
    finally:
        gui.kill()  # SIGKILL: no handler, no atexit; only the lab process can make it safe
        gui.wait(30)
    deadline = time.monotonic() + 120
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}"), "the lab process outlived the GUI"
    info = read_info(path)
    assert info["status"] == "aborted" and info["reason"] == "the GUI process ended"
    with open_run(path) as f:
        assert any(b"outputs ramped down" in line for line in log_lines(f))
    assert info["rows"]["point"] >= 2
    with open_lab(station=station):  # and the station is free again
        pass
