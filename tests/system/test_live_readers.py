"""Readers that follow a live run — holding the file open across its end, or reopening it at
every poll, through labctl, h5py or xarray — never see a complete row without its data, and
never keep the run from closing ``completed``."""

from __future__ import annotations

import os
import signal
import time

import h5py
import numpy as np
import pytest
import xarray as xr

from labctl.config import default_sim_station
from labctl.dataset import load_run
from labctl.runfile import complete_rows, open_run, read_info, read_rows
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent

pytestmark = pytest.mark.system


SLICE = 0.01  # s of the writer's time between two looks of the readers (a few rows)


def procedure() -> FreqCurrent:
    return FreqCurrent(i_start=0.6e-3, i_stop=2.0e-3, i_step=50e-6, points=2001, averages=2)


def station(realtime: float = 0.0):
    cfg = default_sim_station()
    return open_station(cfg.model_copy(update={"sim": cfg.sim.model_copy(
        update={"realtime_factor": realtime})}))


def start_writer(path) -> int:
    """A forked process that runs the procedure at a fraction of real time; its pid."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            runner = Runner(procedure(), station(0.012), path)
            code = 0 if runner.run() == "completed" else 2
        finally:
            os._exit(code)
    return pid


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    assert Runner(procedure(), station(), path).run() == "completed"
    with h5py.File(path, "r") as f:
        return {name: f[name][:] for name in ("current", "trace", "peak_id")}


def start_xarray_reader(path, reference) -> int:
    """A forked process polling the file with plain xarray until the run is completed;
    exits 0, or 1 after printing the first complete row it saw without its data."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            while not path.exists():
                time.sleep(0.005)
            while True:
                try:
                    ds = xr.open_dataset(path, engine="h5netcdf")
                except OSError:  # the moment HDF5 flushes a layout change: the next poll
                    continue
                with ds:
                    points = ds.point.values
                    complete = np.flatnonzero(points == np.arange(len(points)))
                    trace = ds.trace.values[complete]
                    status = ds.attrs["status"]
                bad = np.flatnonzero((trace != reference["trace"][complete]).any(axis=1))
                if len(bad):
                    print(f"row {complete[bad[0]]} complete but its trace differs", flush=True)
                    break
                if status == "completed":
                    code = 0
                    break
        finally:
            os._exit(code)
    return pid


def wait_for(path, pid) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0)
        time.sleep(0.005)


def test_readers_across_the_end_of_a_run(tmp_path, reference):
    path = tmp_path / "live.h5"
    pid = start_writer(path)
    xarray_pid = start_xarray_reader(path, reference)
    wait_for(path, pid)
    held = open_run(path)  # a reader (GUI, notebook) that keeps the file open throughout
    plain = None
    polls, rows_seen, exited = 0, set(), None
    try:
        while exited is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            exited = os.waitstatus_to_exitcode(status) if done else None
            # 1. the held reader refreshes: the marks first, then the rows they cover
            n = complete_rows(held["point"])
            if n:
                trace = read_rows(held, "trace", 0, n)
                np.testing.assert_array_equal(trace, reference["trace"][:n])
                np.testing.assert_array_equal(read_rows(held, "current", 0, n),
                                              reference["current"][:n])
            # 2. a reader that reopens at every poll, while the held one shares its file
            ds = load_run(path)
            np.testing.assert_array_equal(ds.trace.values,
                                          reference["trace"][:ds.sizes["point"]])
            np.testing.assert_array_equal(ds.peak_id.values,
                                          reference["peak_id"][:ds.sizes["point"]])
            rows_seen.add(ds.sizes["point"])
            # 3. h5py, held open (a process reads a file either SWMR or not: SWMR here, since
            # labctl's readers are; plain xarray reads in its own process)
            if plain is None:
                plain = h5py.File(path, "r", swmr=True)
            polls += 1
            # the writer runs a slice, then stops wherever it is (mid-write, too) while the
            # readers look: they follow the run however loaded the machine is
            if exited is None:
                os.kill(pid, signal.SIGCONT)
                time.sleep(SLICE)
                os.kill(pid, signal.SIGSTOP)
    finally:
        if exited is None:  # never leave the writer stopped behind a failed assertion
            os.kill(pid, signal.SIGCONT)
    assert exited == 0
    _, status = os.waitpid(xarray_pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the xarray reader saw a row without data"
    assert len(rows_seen) > 5 and polls > 5, (rows_seen, polls)  # the readers followed the run
    info = read_info(path)  # the run closed although three readers held the file
    assert info["status"] == "completed" and info["rows"]["point"] == len(reference["trace"])
    held.close()
    plain.close()
    ds = load_run(path)
    np.testing.assert_array_equal(ds.trace.values, reference["trace"])
