"""load_run: finished, running and killed runs as xarray Datasets; every HDF5 tool reads them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import numpy as np
import pytest
import xarray as xr

from labctl.config import default_sim_station
from labctl.dataset import load_run
from labctl.errors import RunFileError
from labctl.runfile import RunFile
from labctl.runner import Runner
from labctl.schema import Axis, Quantity, Schema, Stream
from labctl.station import open_station
from procedures.catalog import available, procedure_class
from procedures.freq_current import FreqCurrent

FREQ = np.linspace(8e9, 12e9, 501)


def schema() -> Schema:
    return Schema(streams=(
        Stream("point", (Quantity("current", "A", description="I_SHNO setpoint"),
                         Quantity("n_lines", "", "int64"),
                         Quantity("trace", "dBm", "float32", ("frequency",))), swept="current"),
        Stream("cycle", (Quantity("v_set", "V"),))), axes=(Axis("frequency", FREQ, "Hz"),))


def row(i: int) -> dict:
    return {"current": 1e-3 + i * 1e-5, "n_lines": i % 3,
            "trace": np.full(len(FREQ), -80.0 + i, dtype=np.float32)}


def write_until_killed(path, rows: int) -> None:
    """A forked writer that appends ``rows`` rows and is killed without closing."""
    pid = os.fork()
    if pid == 0:
        try:
            rf = RunFile.create(path, schema(), {"procedure": "test", "planned_points": 50})
            for i in range(rows):
                rf.append(row(i))
            rf.append({"v_set": 2.0}, "cycle")
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)


def test_finished_run(tmp_path):
    path = tmp_path / "r.h5"
    rf = RunFile.create(path, schema(), {"procedure": "test", "parameters": {"n": 30},
                                         "planned_points": 30})
    for i in range(30):
        rf.append(row(i))
    rf.append({"v_set": 2.0}, "cycle")
    assert rf.close("completed", "all points measured", {"threshold_current": 1.1e-3}) == ""
    ds = load_run(path)
    assert ds.trace.dims == ("point", "frequency")
    assert ds.sizes == {"point": 30, "frequency": len(FREQ), "cycle": 1}
    assert ds.trace.coords["current"].dims == ("point",)  # the swept quantity labels rows
    assert ds.trace.transpose("frequency", "point").shape == (len(FREQ), 30)
    np.testing.assert_allclose(ds.current, 1e-3 + np.arange(30) * 1e-5)
    assert ds.current.attrs == {"units": "A", "long_name": "I_SHNO setpoint"}
    assert ds.frequency.attrs["units"] == "Hz"
    assert ds.n_lines.dtype == np.int64 and list(ds.n_lines[:4]) == [0, 1, 2, 0]
    assert ds.point_time.dtype.kind == "M" and bool((ds.point_time.diff("point") >= 0).all())
    assert ds.cycle_time.dtype.kind == "M"
    assert ds.attrs["status"] == "completed" and ds.attrs["reason"] == "all points measured"
    assert ds.attrs["results"] == {"threshold_current": 1.1e-3}
    assert ds.attrs["parameters"] == {"n": 30} and ds.attrs["procedure"] == "test"
    with xr.open_dataset(path, engine="h5netcdf") as plain:  # xarray alone agrees
        assert "current" in plain.trace.coords and plain.sizes["point"] == 30
        assert plain.attrs["status"] == "completed"


def test_running_run(tmp_path):
    path = tmp_path / "r.h5"
    rf = RunFile.create(path, schema(), {"procedure": "test", "planned_points": 50})
    for i in range(7):
        rf.append(row(i))
    ds = load_run(path)  # another reader while the writer holds the file
    assert ds.sizes["point"] == 7 and ds.attrs["status"] == "running"
    assert float(ds.trace[6, 0]) == -74.0
    with xr.open_dataset(path, engine="h5netcdf") as plain:  # allocated rows, -1 = not yet
        assert list(plain.point.values[:8]) == [0, 1, 2, 3, 4, 5, 6, -1]
    rf.close("completed")
    assert load_run(path).sizes["point"] == 7


def test_killed_run(tmp_path):
    path = tmp_path / "r.h5"
    write_until_killed(path, 12)
    ds = load_run(path)
    assert ds.attrs["status"] == "running" and ds.sizes["point"] == 12
    np.testing.assert_array_equal(ds.trace[:, 0], -80.0 + np.arange(12))
    with xr.open_dataset(path, engine="h5netcdf") as plain:
        assert int((plain.point >= 0).sum()) == 12


def test_damaged_file_is_one_line(tmp_path):
    path = tmp_path / "bad.h5"
    path.write_bytes(b"not hdf5" * 100)
    with pytest.raises(RunFileError) as err:
        load_run(path)
    assert "\n" not in str(err.value)


def test_a_real_run_plots_against_the_swept_current(tmp_path):
    path = tmp_path / "fc.h5"
    proc = FreqCurrent(points=201, averages=2, i_step=100e-6)
    assert Runner(proc, open_station(default_sim_station()), path).run() == "completed"
    ds = load_run(path)
    assert ds.trace.coords["current"].attrs["units"] == "A"
    assert ds.attrs["results"]["threshold_current"] > 0
    assert ds.background_trace.dims == ("background", "frequency")
    # what ds.trace.plot(x="current", y="frequency") needs: both are coordinates of trace
    assert {"current", "frequency"} <= set(ds.trace.coords)


@pytest.mark.parametrize("name", available())
def test_every_procedure_names_its_swept_quantity(name):
    main = procedure_class(name)().schema().main
    assert main.swept, f"{name}: the main stream names no swept quantity"


needs_h5dump = pytest.mark.skipif(shutil.which("h5dump") is None and not os.environ.get("CI"),
                                  reason="h5dump (Debian hdf5-tools) not installed; CI has it")


@needs_h5dump
def test_h5dump_110_reads_finished_running_and_killed_files(tmp_path):
    out = subprocess.run(["h5dump", "--version"], capture_output=True, text=True).stdout
    assert "1.10" in out or "1.12" in out  # the tools labs run today
    finished, running, killed = tmp_path / "f.h5", tmp_path / "r.h5", tmp_path / "k.h5"
    rf = RunFile.create(finished, schema(), {"procedure": "test"})
    rf.append(row(0))
    rf.close("completed")
    live = RunFile.create(running, schema(), {"procedure": "test"})
    for i in range(3):
        live.append(row(i))
    live.log("info", "still running")
    write_until_killed(killed, 5)
    for path in (finished, running, killed):
        dump = subprocess.run(["h5dump", "-H", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert dump.returncode == 0, (path.name, dump.stderr)
        assert 'DATASET "trace"' in dump.stdout and 'ATTRIBUTE "status"' in dump.stdout
    live.close("completed")


def test_a_run_longer_than_planned_grows_and_stays_readable(tmp_path):
    from labctl.superblock import write_flags

    path = tmp_path / "long.h5"
    rf = RunFile.create(path, schema(), {"procedure": "test", "planned_points": 10})
    for i in range(300):  # 64 rows allocated, then 128, 256, 512
        rf.append(row(i))
        if i % 97 == 0:
            rf.log("info", f"row {i}")
        if i in (63, 64, 200):
            fd = os.open(path, os.O_RDONLY)
            assert write_flags(fd) == 0  # any HDF5 reader may open it
            os.close(fd)
            with xr.open_dataset(path, engine="h5netcdf") as plain:
                assert int((plain.point.values >= 0).sum()) == i + 1
    for _ in range(70):  # the log grows past its first 64 lines too
        rf.log("info", "again")
    rf.close("completed")
    ds = load_run(path)
    assert ds.sizes["point"] == 300
    np.testing.assert_array_equal(ds.trace[:, 0], -80.0 + np.arange(300))
    from labctl.runreader import log_lines, open_run

    with open_run(path) as f:
        assert len(log_lines(f)) == 4 + 70
