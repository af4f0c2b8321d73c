"""Free space: the estimate before a run, the output folder, the watch during a run."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from labctl import diskspace
from labctl.diskspace import DiskFull, DiskWatch, check_output, estimate_bytes, row_bytes
from labctl.errors import UserInputError
from labctl.runfile import RunFile
from labctl.schema import Axis, Quantity, Schema, Stream


def schema(points: int = 10001) -> Schema:
    return Schema(streams=(Stream("point", (Quantity("current", "A"),
                                            Quantity("trace", "dBm", "float32", ("frequency",)))),),
                  axes=(Axis("frequency", np.linspace(8e9, 12e9, points), "Hz"),))


def test_estimate_covers_the_file_written(tmp_path):
    s = schema()
    assert row_bytes(s, s.main) == 8 + 8 + 4 * 10001 + 8  # index, current, trace, row time
    path = tmp_path / "r.h5"
    rf = RunFile.create(path, s, {"planned_points": 300})
    for _ in range(300):
        rf.append({"current": 1e-3, "trace": np.full(10001, -80, np.float32)})
    rf.close("completed")
    used = os.stat(path).st_blocks * 512
    assert used <= estimate_bytes(s, 300) <= 1.3 * used + (1 << 20)


def test_output_that_is_a_file_or_has_no_room(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        check_output(afile / "sub" / "run.h5", schema(), 10)
    check_output(tmp_path / "new" / "deeper" / "run.h5", schema(), 10)  # made when needed
    assert not (tmp_path / "new").exists()  # the check itself creates nothing
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 5_000_000)
    with pytest.raises(UserInputError) as err:
        check_output(tmp_path / "run.h5", schema(), 2000)
    assert "5.0 MB free" in str(err.value) and "2000 points" in str(err.value)


def test_watch_stops_before_the_reserve(tmp_path, monkeypatch):
    free = {"bytes": 10_000_000}
    monkeypatch.setattr(os, "statvfs", lambda folder: SimpleNamespace(
        f_bavail=free["bytes"] // 4096, f_frsize=4096))
    watch = DiskWatch(tmp_path, 40_000)
    for _ in range(20):
        watch.wrote(40_000)
    free["bytes"] = watch.reserve + 30_000  # another process fills the disk
    monkeypatch.setattr(diskspace, "WATCH_INTERVAL", 0.0)
    watch._next = 0.0
    with pytest.raises(DiskFull, match="disk nearly full"):
        watch.wrote(40_000)  # would leave less than the reserve
