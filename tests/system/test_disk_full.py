"""A full disk ends a run ``failed`` with the reason; every row written before stays readable,
the outputs ramp down, one line goes to stderr. On a real (small) tmpfs: the test mounts one,
so it needs root (CI runs as root); where mounting is impossible it is skipped, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.dataset import load_run
from labctl.diskspace import DiskWatch
from labctl.errors import UserInputError
from labctl.events import POINT
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent

pytestmark = pytest.mark.system


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs mounted in tmp_path (unmounted afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk, leave: int) -> None:
    """Fill the disk with another file until ``leave`` bytes are free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(disk / "other-data.bin", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def procedure() -> FreqCurrent:
    return FreqCurrent(i_start=0.6e-3, i_stop=2.0e-3, i_step=20e-6, points=2001, averages=2)


def outputs_at_zero(station) -> bool:
    truth = station.sim.device.truth()
    return (abs(truth["current"]) < 1e-12 and abs(truth["gate_voltage"]) < 1e-12
            and abs(station.sim.device.magnet.supply_setpoint()) < 1e-12)


def run_filling(path, disk, leave: int, watch: bool, monkeypatch):
    if watch:  # the simulator measures faster than any lab: look at the disk every row
        monkeypatch.setattr("labctl.diskspace.WATCH_INTERVAL", 0.0)
    else:  # the last line of defence alone: the write itself fails
        monkeypatch.setattr(DiskWatch, "wrote", lambda self, nbytes: None)
    station = open_station(default_sim_station())
    runner = Runner(procedure(), station, path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == 9 and fill(disk, leave))
    assert runner.run() == "failed"
    return runner, station


@pytest.mark.parametrize("watch", [True, False], ids=["watched", "write-fails"])
def test_disk_fills_during_a_run(small_disk, watch, monkeypatch):
    path = small_disk / "run.h5"
    runner, station = run_filling(path, small_disk, 40_000, watch, monkeypatch)
    assert outputs_at_zero(station)
    reason = runner.reason
    assert ("disk nearly full" in reason) if watch else ("No space left" in reason), reason
    assert "\n" not in reason and "Traceback" not in reason
    info = read_info(path)  # the file is readable, with every row written before
    assert info["rows"]["point"] >= 10
    if watch:  # stopped before the disk was full: the outcome is recorded
        assert info["status"] == "failed" and "disk nearly full" in info["reason"]
    else:  # the outcome is recorded if the close found room, never a wrong one
        assert info["status"] in ("failed", "running")
    ds = load_run(path)
    assert ds.sizes["point"] == info["rows"]["point"]
    assert np.isfinite(ds.trace.values).all()
    os.unlink(small_disk / "other-data.bin")  # with room again, the run resumes
    resumed = Runner(procedure(), open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    assert read_info(path)["rows"]["point"] == procedure().planned_points()


def test_no_room_is_refused_before_any_instrument(small_disk):
    from labctl.lab import open_lab

    big = FreqCurrent(points=10001, averages=2, i_step=10e-6)  # 181 spectra: 7 MB
    with open_lab(sim=True) as lab:
        logs = {name: len(inst.log) for name, inst in lab.station.sim.instruments.items()}
        with pytest.raises(UserInputError) as err:
            lab.start(big, path=small_disk / "big.h5")
        assert {name: len(inst.log) for name, inst in lab.station.sim.instruments.items()} \
            == logs  # nothing sent
    message = str(err.value)
    assert "free" in message and str(small_disk) in message and "\n" not in message
    assert not list(small_disk.iterdir())
    cli = subprocess.run([sys.executable, "-m", "labctl.cli.main", "run", "freq-current",
                          "--sim", "--out", str(small_disk), "--set", "points=10001",
                          "--set", "i_step=10e-6"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and cli.stdout == ""
    assert len(cli.stderr.strip().splitlines()) == 1 and "free" in cli.stderr


def test_cli_disk_full_one_line_on_stderr(small_disk, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.01"))
    cmd = [sys.executable, "-m", "labctl.cli.main", "run", "freq-current", "--station",
           str(station), "--out", str(small_disk), "--quiet", "--set", "points=2001",
           "--set", "averages=2", "--set", "i_step=20e-6", "--set", "i_start=0.6e-3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = list(small_disk.glob("*.h5"))
        if files and read_info(files[0])["rows"]["point"] >= 5:
            break
        time.sleep(0.02)
    fill(small_disk, 40_000)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ("disk nearly full" in lines[0] or "No space left" in lines[0]), err
    assert "Traceback" not in out + err
    assert out.splitlines()[0].startswith("status: failed")
    info = read_info(files[0])
    assert info["status"] == "failed" and info["rows"]["point"] >= 5
