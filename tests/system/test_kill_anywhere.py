"""SIGKILL at any instant of a run — its creation, any append, the close, a resume — loses
nothing: every file opens in labctl, h5py, xarray and HDF5 1.10's h5dump with every complete
row, and resumes to data identical to an uninterrupted run, dataset by dataset.

The instants are exact: a forked child runs the run with a line tracer on the run-file modules
and kills itself (SIGKILL) at the k-th line executed there, so every statement of create,
append, close and resume is a candidate. A second test kills from outside during the close,
at random moments inside HDF5's own calls.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.dataset import load_run
from labctl.runfile import open_run, read_info
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent

pytestmark = pytest.mark.system
WATCHED = ("labctl/runfile.py", "labctl/runlayout.py", "labctl/runreader.py",
           "labctl/streamwriter.py", "labctl/superblock.py")
# HDF5 marks the file "open for writing" when it flushes a change of the file's layout (a
# stream growing, the close); the writer clears the mark right after. Only a kill in that gap
# leaves a file that HDF5 1.10 tools and plain h5py refuse (labctl still reads it: SWMR).
GAP = {"_flush", "clear_write_flags", "_read", "lookup3", "_rot"}
KILLED = -signal.SIGKILL  # os.waitstatus_to_exitcode of a killed child


def procedure() -> FreqCurrent:
    return FreqCurrent(i_start=0.6e-3, i_stop=1.6e-3, i_step=100e-6, points=201, averages=2)


def run_here(path) -> None:
    """An uninterrupted run in this process (which also imports what the children use)."""
    runner = Runner(procedure(), open_station(default_sim_station()), path)
    assert runner.run() == "completed", runner.reason


def run_child(path, *, resume=False, kill_at=None, record=None) -> int:
    """Run (or resume) in a forked child, killed at its ``kill_at``-th traced line; exit code.

    With ``record``, the child writes the function name of every traced line to that file.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            names, count = [], 0

            def line(frame, event, arg):
                nonlocal count
                if event == "line":
                    count += 1
                    if record:
                        names.append(frame.f_code.co_name)
                    if count == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                return line

            def call(frame, event, arg):
                return line if frame.f_code.co_filename.endswith(WATCHED) else None

            threading.settrace(call)
            sys.settrace(call)
            runner = Runner(procedure(), open_station(default_sim_station()), path,
                            resume=resume)
            runner.run()
            sys.settrace(None)
            if record:
                with open(record, "w") as fh:
                    json.dump(names, fh)
            code = 0 if runner.status == "completed" else 3
        except BaseException:  # noqa: BLE001 - report and leave the child, whatever it was
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def traced_lines(tmp_path, name, resume_from=None) -> list[str]:
    """Function name of each traced line of a whole run (or of a resume of a copy)."""
    path = tmp_path / f"{name}.h5"
    if resume_from is not None:
        shutil.copy(resume_from, path)
    record = tmp_path / f"{name}.json"
    assert run_child(path, resume=resume_from is not None, record=record) == 0
    return json.loads(record.read_text())


def spread(indices: list[int], n: int) -> list[int]:
    """``n`` of ``indices``, evenly spread, first and last included."""
    if len(indices) <= n:
        return list(indices)
    return [indices[round(k * (len(indices) - 1) / (n - 1))] for k in range(n)]


def datasets(path) -> dict[str, np.ndarray]:
    """Every dataset of a finished run file except the row times (wall-clock by nature)."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) and not name.endswith("_time")
                     and name != "log/line" else None)
        out["results"] = json.loads(f.attrs["results"].decode())
    return out


def assert_same(path, reference) -> None:
    got, want = datasets(path), datasets(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        if name == "results":
            assert got[name] == want[name]
        else:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def h5dump_reads(path) -> bool:
    return subprocess.run(["h5dump", "-H", str(path)], capture_output=True,
                          timeout=60).returncode == 0


def check_killed(path, reference, where: str) -> int:
    """The killed file opens everywhere with every complete row; returns its rows."""
    info = read_info(path)
    n = info["rows"]["point"]
    ref = datasets(reference)
    with open_run(path) as f:  # h5py, through labctl's reader
        np.testing.assert_array_equal(f["trace"][:n], ref["trace"][:n], err_msg=where)
        np.testing.assert_array_equal(f["current"][:n], ref["current"][:n], err_msg=where)
    ds = load_run(path)  # xarray
    assert ds.sizes["point"] == n, where
    np.testing.assert_array_equal(ds.trace.values, ref["trace"][:n], err_msg=where)
    np.testing.assert_array_equal(ds.peak_id.values, ref["peak_id"][:n], err_msg=where)
    return n


def opens_plainly(path) -> bool:
    """Plain h5py (as any user would open it), xarray and h5dump 1.10 open the file."""
    import xarray as xr

    try:
        with h5py.File(path, "r") as f:
            assert f["point"].shape[0] >= 0
        xr.open_dataset(path, engine="h5netcdf").close()
    except OSError:
        return False
    return h5dump_reads(path)


needs_h5dump = pytest.mark.skipif(shutil.which("h5dump") is None and not os.environ.get("CI"),
                                  reason="h5dump (Debian hdf5-tools) not installed; CI has it")


@needs_h5dump
def test_kill_at_any_instant_then_resume(tmp_path):
    reference = tmp_path / "reference.h5"
    run_here(reference)
    run_lines = traced_lines(tmp_path, "count")
    n = len(run_lines)
    # phases by position: creation before the first append, the close after the last row
    first_append = run_lines.index("append") + 1
    close_start = run_lines.index("close") + 1
    create = list(range(1, first_append))
    rows = list(range(first_append, close_start))
    close = list(range(close_start, n + 1))
    instants = sorted(set(spread(list(range(1, n + 1)), 16) + spread(close, 12)
                          + spread(create, 4) + spread(rows, 8)))
    # kills during a resume: of a run killed halfway through its rows, at lines spread over
    # its resume
    half = tmp_path / "half.h5"
    assert run_child(half, kill_at=rows[len(rows) // 2]) == KILLED
    resume_lines = traced_lines(tmp_path, "resume-count", resume_from=half)
    resume_instants = spread(list(range(1, len(resume_lines) + 1)), 8)
    assert len(instants) + len(resume_instants) >= 30

    flagged = []
    for k, at in enumerate(instants):
        path = tmp_path / f"killed-{k}.h5"
        where = f"killed at line {at} of {n} ({run_lines[at - 1]})"
        assert run_child(path, kill_at=at) == KILLED, where
        if not path.exists():  # killed while the file was made aside: no run file yet
            assert at < first_append, where
            continue
        check_killed(path, reference, where)
        if not opens_plainly(path):
            assert run_lines[at - 1] in GAP, where
            flagged.append(where)
        if read_info(path)["status"] != "completed":
            assert run_child(path, resume=True) == 0, where
        assert read_info(path)["status"] == "completed", where
        assert_same(path, reference)
        assert opens_plainly(path), where

    for k, at in enumerate(resume_instants):
        path = tmp_path / f"resume-killed-{k}.h5"
        shutil.copy(half, path)
        where = f"resume killed at line {at} of {len(resume_lines)} ({resume_lines[at - 1]})"
        assert run_child(path, resume=True, kill_at=at) == KILLED, where
        check_killed(path, reference, where)
        if not opens_plainly(path):
            assert resume_lines[at - 1] in GAP, where
            flagged.append(where)
        if read_info(path)["status"] != "completed":
            assert run_child(path, resume=True) == 0, where
        assert_same(path, reference)
        assert not list(tmp_path.glob(f".{path.name}.*")), "temporary files left behind"
    assert len(flagged) <= 3, flagged  # the gaps are short: few of the instants fall there


def close_announced(path, pipe_w: int) -> None:
    """In a forked child: run; before the close, say so on ``pipe_w`` and wait 50 ms."""
    from labctl.runfile import RunFile

    close = RunFile.close

    def announced(self, *args, **kwargs):
        os.write(pipe_w, b"closing")
        time.sleep(0.05)  # the parent's kill lands in the close that follows
        return close(self, *args, **kwargs)

    RunFile.close = announced
    try:
        run_here(path)
    finally:
        os._exit(0)


@needs_h5dump
def test_kill_inside_hdf5_during_the_close(tmp_path):
    reference = tmp_path / "reference.h5"
    run_here(reference)
    rng = random.Random(9)
    for k in range(8):
        path = tmp_path / f"close-{k}.h5"
        pipe_r, pipe_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            close_announced(path, pipe_w)
        assert os.read(pipe_r, 16) == b"closing"
        time.sleep(0.05 + rng.uniform(0, 0.01))  # somewhere in the first 10 ms of the close
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe_r)
        os.close(pipe_w)
        check_killed(path, reference, f"close kill {k}")
        if read_info(path)["status"] != "completed":
            assert run_child(path, resume=True) == 0
        assert_same(path, reference)
        assert opens_plainly(path)
