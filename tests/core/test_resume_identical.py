"""A resumed run equals an uninterrupted one in every dataset, peak identities included."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.events import POINT
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent


def freq_current() -> FreqCurrent:
    # the default device; a 20 µA step makes lines appear and end along the sweep
    return FreqCurrent(points=1001, averages=2, i_step=20e-6)


def every_dataset(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) and not name.endswith("_time")
                     and name != "log/line" else None)
        out["results"] = f.attrs["results"]
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    runner = Runner(freq_current(), open_station(default_sim_station()), path)
    assert runner.run() == "completed"
    return path


def test_a_line_that_ended_before_the_interruption_keeps_its_number(reference):
    with h5py.File(reference, "r") as f:
        ids = f["peak_id"][:]
    # rows after which the highest identity so far is not in the row: the case that matters
    ended = np.flatnonzero(np.maximum.accumulate(ids.max(axis=1)) > ids.max(axis=1))
    assert len(ended) >= 2


@pytest.mark.parametrize("stop_after", [12, 40, 75])
def test_resumed_run_equals_uninterrupted(tmp_path, reference, stop_after):
    path = tmp_path / "run.h5"
    runner = Runner(freq_current(), open_station(default_sim_station()), path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == stop_after
                     and runner.abort("test stop"))
    assert runner.run() == "aborted"
    resumed = Runner(freq_current(), open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    got, want = every_dataset(path), every_dataset(reference)
    assert sorted(got) == sorted(want)
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def as_first_format(path) -> None:
    """Make a run file look as labctl's first format wrote it: schema_version 1, outcome in
    variable-length attributes, no row times, no swept quantity in the schema."""
    import json

    with h5py.File(path, "r+") as f:
        for key in ("status", "reason", "finished", "results"):
            value = f.attrs[key].decode()
            del f.attrs[key]
            f.attrs[key] = value
        f.attrs["schema_version"] = 1
        schema = json.loads(f.attrs["schema"])
        for stream in schema["streams"]:
            stream.pop("swept")
            del f[f"{stream['name']}_time"]
        f.attrs["schema"] = json.dumps(schema)


def test_a_run_of_the_first_format_reads_and_resumes(tmp_path, reference):
    from labctl.dataset import load_run
    from labctl.runfile import read_info

    path = tmp_path / "old.h5"
    runner = Runner(freq_current(), open_station(default_sim_station()), path)
    runner.subscribe(lambda e: e.kind == POINT and e.data["index"] == 30
                     and runner.abort("test stop"))
    assert runner.run() == "aborted"
    as_first_format(path)
    info = read_info(path)
    assert info["schema_version"] == 1 and info["rows"]["point"] == 31
    assert load_run(path).sizes["point"] == 31
    resumed = Runner(freq_current(), open_station(default_sim_station()), path, resume=True)
    assert resumed.run() == "completed", resumed.reason
    assert read_info(path)["schema_version"] == 2  # rebuilt in the present format
    ds = load_run(path)
    assert np.isnat(ds.point_time.values[:31]).all() and not np.isnat(ds.point_time[31:]).any()
    got, want = every_dataset(path), every_dataset(reference)
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)
