"""One writer per file: a run file is created exclusively (never truncated, even in a race),
resumed by one process at a time through a private temporary file; a queue's progress file
has one writer, and --resume touches no file outside the queue's out folder; run files that
point outside themselves are refused."""

from __future__ import annotations

import json
import os
import signal

import h5py
import numpy as np
import pytest

from labctl import runfile
from labctl.errors import RunFileError, UserInputError
from labctl.locks import LockHeld
from labctl.queue import QueueState, check_queue_start, load_queue
from labctl.runfile import COMPLETED, RunFile, read_info
from labctl.schema import Axis, Quantity, Schema, Stream

FREQ = np.linspace(8e9, 12e9, 101)


def schema() -> Schema:
    return Schema(streams=(Stream("point", (Quantity("current", "A"), Quantity(
        "trace", "dBm", "float32", ("frequency",))), swept="current"),),
        axes=(Axis("frequency", FREQ, "Hz"),))


def row(i: int) -> dict:
    return {"current": i * 1e-5, "trace": np.full(len(FREQ), i, np.float32)}


def killed_run(path, rows: int = 5) -> None:
    pid = os.fork()
    if pid == 0:
        try:
            rf = RunFile.create(path, schema(), {"procedure": "test"})
            for i in range(rows):
                rf.append(row(i))
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)


def test_second_writer_is_refused_in_one_line(tmp_path):
    path = tmp_path / "r.h5"
    rf = RunFile.create(path, schema(), {"procedure": "test"})
    rf.append(row(0))
    with pytest.raises(RunFileError, match="already exists"):
        RunFile.create(path, schema(), {})
    with pytest.raises(LockHeld) as err:
        RunFile.resume(path, schema())
    assert f"run file '{path}' is in use by process {os.getpid()}" in str(err.value)
    assert "\n" not in str(err.value)
    rf.close(COMPLETED)
    assert read_info(path)["rows"]["point"] == 1


def test_a_racing_create_never_truncates(tmp_path, monkeypatch):
    path = tmp_path / "r.h5"
    theirs = b"another process's file, made a moment ago"
    stale = runfile._remove_stale

    def race(p):  # another process creates the file just after our check that it does not
        stale(p)
        path.write_bytes(theirs)

    monkeypatch.setattr(runfile, "_remove_stale", race)
    with pytest.raises(RunFileError, match="already exists"):
        RunFile.create(path, schema(), {})
    assert path.read_bytes() == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["r.h5"]  # nothing left, not even a lock


def test_resumes_use_private_files_and_one_at_a_time(tmp_path):
    path = tmp_path / "r.h5"
    killed_run(path)
    # a resume killed while rebuilding leaves its private file; the next one removes it
    pid = os.fork()
    if pid == 0:
        original = runfile._rebuild

        def rebuild_then_die(*args):
            original(*args)
            os.kill(os.getpid(), signal.SIGKILL)

        runfile._rebuild = rebuild_then_die
        RunFile.resume(path, schema())
        os._exit(1)
    os.waitpid(pid, 0)
    assert len(list(tmp_path.glob(".r.h5.resume-*"))) == 1
    assert read_info(path)["rows"]["point"] == 5  # the run file itself untouched
    first = RunFile.resume(path, schema())
    assert not list(tmp_path.glob(".r.h5.resume-*"))
    with pytest.raises(LockHeld):
        RunFile.resume(path, schema())  # a second resume waits for nobody's temporary file
    first.append(row(5))
    first.close(COMPLETED)
    assert read_info(path)["rows"]["point"] == 6


@pytest.mark.parametrize("kind", ["external", "soft", "virtual"])
def test_links_out_of_the_file_are_refused(tmp_path, kind):
    path = tmp_path / "r.h5"
    rf = RunFile.create(path, schema(), {"procedure": "test"})
    rf.append(row(0))
    rf.close(COMPLETED)
    secret = tmp_path / "elsewhere.h5"
    with h5py.File(secret, "w") as g:
        g["data"] = np.arange(3)
    with h5py.File(path, "r+") as f:
        if kind == "external":
            f["extra"] = h5py.ExternalLink(str(secret), "/data")
        elif kind == "soft":
            f["loop"] = h5py.SoftLink("/loop")
        else:
            layout = h5py.VirtualLayout(shape=(3,), dtype="int64")
            layout[:] = h5py.VirtualSource(str(secret), "data", shape=(3,))
            f.create_virtual_dataset("virtual", layout)
    with pytest.raises(RunFileError) as err:
        read_info(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


QUEUE = """\
station = "sim"
out = "night"
[[run]]
procedure = "memristor-program"
set = {{ state = "LRS" }}
foreach = {{ max_pulses = {pulses} }}
"""


def write_queue(tmp_path, pulses="[5, 6]"):
    path = tmp_path / "q.toml"
    path.write_text(QUEUE.format(pulses=pulses), encoding="utf-8")
    return path


def test_queue_progress_file_has_one_writer(tmp_path):
    queue = load_queue(write_queue(tmp_path))
    state = QueueState.new(queue)
    state.save()
    with pytest.raises(LockHeld, match="queue progress file"):
        QueueState.load(queue)
    with pytest.raises(LockHeld):
        check_queue_start(queue, resume=True)  # refused before any instrument is opened
    state.release()
    QueueState.load(queue).release()


def test_queue_resume_touches_nothing_outside_its_out_folder(tmp_path):
    queue = load_queue(write_queue(tmp_path))
    state = QueueState.new(queue)
    state.save()
    state.release()
    precious = tmp_path / "precious.h5"
    precious.write_bytes(b"someone's data")
    data = json.loads(queue.state_path.read_text())
    for bad in (str(precious), str(queue.out / ".." / "precious.h5")):
        data["runs"][0]["path"] = bad
        queue.state_path.write_text(json.dumps(data))
        with pytest.raises(UserInputError) as err:
            check_queue_start(queue, resume=True)
        assert "not a file in the out folder" in str(err.value) and "\n" not in str(err.value)
    assert precious.read_bytes() == b"someone's data"


def test_queue_expansion_is_capped(tmp_path):
    values = "[" + ", ".join(str(5 + k % 20) for k in range(20_000)) + "]"
    with pytest.raises(UserInputError) as err:
        load_queue(write_queue(tmp_path, values))
    assert "at most 10000 runs" in str(err.value) and "\n" not in str(err.value)
