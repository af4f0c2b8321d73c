"""The run file: layout, xarray, hostile attributes, bad files, a writer killed mid-run."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from labctl.errors import RunFileError
from labctl.runfile import COMPLETED, RunFile, open_run, read_info
from labctl.schema import Axis, Quantity, Schema, Stream

FREQ = np.linspace(8e9, 12e9, 1001)


def schema() -> Schema:
    return Schema(
        streams=(Stream("point", (Quantity("current", "A"),
                                  Quantity("n_lines", "", "int64"),
                                  Quantity("trace", "dBm", "float32", ("frequency",)))),
                 Stream("cycle", (Quantity("v_set", "V"),))),
        axes=(Axis("frequency", FREQ, "Hz"),))


def write_run(path, n, status=COMPLETED):
    rf = RunFile.create(path, schema(), {"procedure": "test", "parameters": {"n": n}})
    for i in range(n):
        rf.append({"current": i * 1e-5, "n_lines": i % 4,
                   "trace": np.full(len(FREQ), -80.0 + i, dtype=np.float32)})
    rf.append({"v_set": 2.5}, "cycle")
    rf.log("info", "hello")
    rf.close(status, "done", {"threshold_current": 1e-3})
    return path


def test_finished_run_has_every_row_and_metadata(tmp_path):
    path = write_run(tmp_path / "r.h5", 200)
    info = read_info(path)
    assert info["status"] == "completed" and info["reason"] == "done"
    assert info["rows"] == {"point": 200, "cycle": 1}
    assert info["results"] == {"threshold_current": 1e-3}
    with open_run(path) as f:
        assert f["trace"].shape == (200, len(FREQ))
        assert f["trace"][150, 0] == pytest.approx(70.0)
        assert list(f["n_lines"][:5]) == [0, 1, 2, 3, 0]
        assert f["frequency"].shape == (len(FREQ),)  # stored once
        assert "hello" in f["log/line"][0].decode()


def test_xarray_opens_with_named_dims_and_units(tmp_path):
    import xarray as xr
    path = write_run(tmp_path / "r.h5", 50)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["trace"].dims == ("point", "frequency")
        assert ds["trace"].attrs["units"] == "dBm"
        assert ds["current"].attrs["units"] == "A"
        assert ds["frequency"].attrs["units"] == "Hz"
        assert ds.sizes["point"] == 50
        assert float(ds["current"][10]) == pytest.approx(1e-4)
        assert ds.attrs["status"] == "completed"


def test_refuses_to_overwrite(tmp_path):
    path = write_run(tmp_path / "r.h5", 3)
    with pytest.raises(RunFileError, match="already exists"):
        RunFile.create(path, schema(), {})


def test_hostile_attributes_are_only_read(tmp_path):
    path = write_run(tmp_path / "r.h5", 3)
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    with h5py.File(path, "r+") as f:
        f.attrs["parameters"] = payload
        f.attrs["procedure"] = payload
        f.attrs["results"] = np.void(b"\x80\x04cos\nsystem\n")  # a pickle-looking blob
        f.attrs["instruments"] = json.dumps({"x": payload})
    info = read_info(path)
    assert info["procedure"] == payload
    assert info["parameters"] == {}  # not JSON: ignored, never evaluated
    assert not marker.exists()


def test_newer_schema_is_refused_with_one_line(tmp_path):
    path = write_run(tmp_path / "r.h5", 3)
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(RunFileError) as info:
        read_info(path)
    assert "schema_version 99" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty-hdf5"])
def test_damaged_file_one_line(tmp_path, damage):
    path = write_run(tmp_path / "r.h5", 20)
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        path.write_bytes(b"not an hdf5 file at all" * 100)
    else:
        path.unlink()
        h5py.File(path, "w").close()
    with pytest.raises(RunFileError) as info:
        read_info(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


WRITER = textwrap.dedent("""
    import os, sys, numpy as np
    sys.path.insert(0, {tests!r})
    from core.test_runfile import schema, FREQ
    from labctl.runfile import RunFile
    rf = RunFile.create({path!r}, schema(), {{"procedure": "test"}})
    for i in range(10**9):
        rf.append({{"current": i * 1e-5, "n_lines": 1,
                    "trace": np.full(len(FREQ), i, dtype=np.float32)}})
        if i == 299:
            print("ready", flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.2])
def test_killed_writer_leaves_readable_file_and_resumes(tmp_path, delay):
    path = tmp_path / "killed.h5"
    code = WRITER.format(tests=os.path.dirname(os.path.dirname(__file__)), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)  # kill at different moments of the write/flush cycle
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cut = tmp_path / "killed-and-cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RunFileError, match="truncated"):  # and does not hang in HDF5
        read_info(cut)
    info = read_info(path)
    assert info["status"] == "running"  # it never closed: it did not finish
    n = info["rows"]["point"]
    assert n >= 300
    with open_run(path) as f:
        trace = f["trace"][:n]
        assert np.array_equal(trace[:, 0], np.arange(n, dtype=np.float32))  # every row intact
    rf = RunFile.resume(path, schema())
    assert rf.rows() == n
    rf.append({"current": 0.0, "n_lines": 2, "trace": np.zeros(len(FREQ), np.float32)})
    rf.close(COMPLETED, "resumed and finished")
    info = read_info(path)
    assert info["rows"]["point"] == n + 1 and info["resumed"] == 1
    with open_run(path) as f:
        assert f["trace"][n - 1, 0] == n - 1 and f["n_lines"][n] == 2
