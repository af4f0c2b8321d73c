"""Ctrl-C or SIGTERM at any moment of a queue stops it: the run in progress is aborted (also
while it ramps down), no further run starts, the rest stays pending, the exit code is not 0.
The queue runs in a worker thread, so it can also be started from one (as a GUI would)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import labctl.cli.queue_cmd
from labctl.cli.main import main
from labctl.lab import open_lab
from labctl.testing import Recorder, outputs_at_zero

QUEUE = """\
station = "sim"
out = "runs"

[[run]]
procedure = "freq-current"
set = { i_start = 0.8e-3, i_stop = 1.2e-3, i_step = 100e-6, points = 1001, averages = 5 }
foreach = { field = [0.6, 0.65, 0.7] }
"""


@pytest.fixture
def queue_file(tmp_path):
    path = tmp_path / "q.toml"
    path.write_text(QUEUE, encoding="utf-8")
    return path


def wait_until(condition, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def signal_when(monkeypatch, signum, moment):
    """Send ``signum`` to this process from the worker thread when ``moment(event)`` is true
    (once), then hold the worker until the main thread has turned it into a queue abort:
    the signal lands exactly at that moment of the queue."""
    labs = []
    real = labctl.cli.queue_cmd.open_lab
    sent = threading.Event()

    def spy(**kwargs):
        lab = real(**kwargs)
        labs.append(lab)

        def killer(event):
            if not sent.is_set() and moment(event):
                sent.set()
                os.kill(os.getpid(), signum)
                assert wait_until(lambda: lab._queue is not None and lab._queue.stopping)

        lab.subscribe(killer)
        return lab

    monkeypatch.setattr(labctl.cli.queue_cmd, "open_lab", spy)
    return labs, sent


def run_queue(queue_file, capsys):
    code = main(["queue", str(queue_file), "--quiet"])
    out = capsys.readouterr().out
    statuses = [line.split()[3] for line in out.splitlines()
                if line[:1].isdigit() and "freq-current" in line]
    return code, out, statuses


class RampDownOfRun:
    """The first output step after run ``n``'s last point: its ramp-down."""

    def __init__(self, n: int):
        self.n, self.runs, self.last_point_seen = n, 0, False

    def __call__(self, event) -> bool:
        if event.kind == "started" and event.source == "run":
            self.runs += 1
        if self.runs == self.n and event.kind == "point" and \
                event.data["index"] == event.data["planned"] - 1:
            self.last_point_seen = True
        return self.last_point_seen and event.kind == "output" and \
            event.data["role"] == "shno_source"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_a_run_aborts_it_and_stops_the_queue(queue_file, capsys, monkeypatch,
                                                           signum):
    runs = []

    def during_run_two(event):
        if event.kind == "started" and event.source == "run":
            runs.append(event)
        return len(runs) == 2 and event.kind == "point" and event.data["index"] == 2

    labs, sent = signal_when(monkeypatch, signum, during_run_two)
    code, out, statuses = run_queue(queue_file, capsys)
    assert sent.is_set()
    assert code == 1
    assert statuses == ["completed", "aborted", "pending"]
    reason = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert "queue stopped: run 2 aborted (" in out and reason in out
    assert outputs_at_zero(labs[0].station)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_signal_during_a_runs_ramp_down_aborts_that_run(queue_file, capsys, monkeypatch):
    labs, sent = signal_when(monkeypatch, signal.SIGTERM, RampDownOfRun(2))
    code, out, statuses = run_queue(queue_file, capsys)
    assert sent.is_set()
    assert code == 1
    assert statuses == ["completed", "aborted", "pending"]
    assert "terminated by SIGTERM" in out
    assert outputs_at_zero(labs[0].station)


def test_signal_between_runs_starts_no_further_run(queue_file, capsys, monkeypatch):
    labs, sent = signal_when(
        monkeypatch, signal.SIGINT,
        lambda e: e.kind == "entry_finished" and e.data["index"] == 1)
    code, out, statuses = run_queue(queue_file, capsys)
    assert sent.is_set()
    assert code == 1
    assert statuses == ["completed", "pending", "pending"]
    assert "between runs" in out


def test_a_stopped_queue_resumes_where_it_stopped(queue_file, capsys, monkeypatch):
    labs, _ = signal_when(monkeypatch, signal.SIGTERM, RampDownOfRun(1))
    assert run_queue(queue_file, capsys)[2] == ["aborted", "pending", "pending"]
    monkeypatch.undo()
    code = main(["queue", str(queue_file), "--quiet", "--resume"])
    assert code == 0
    assert "3 completed" in capsys.readouterr().out


def test_the_queue_runs_in_a_worker_thread_and_starts_from_any_thread(queue_file):
    rec = Recorder()
    handles, threads = [], set()
    with open_lab(sim=True) as lab:
        lab.subscribe(rec)
        lab.subscribe(lambda e: e.source != "station" and threads.add(
            threading.current_thread().name))
        starter = threading.Thread(target=lambda: handles.append(lab.start_queue(queue_file)))
        starter.start()
        starter.join()
        assert handles[0].wait(120)
        assert handles[0].status == "completed"
        assert [e["status"] for e in handles[0].entries] == ["completed"] * 3
    assert threads == {"queue"}  # every run and queue event came from the worker
    kinds = rec.kinds("queue")
    assert kinds[0] == "queue_started" and kinds[-1] == "queue_finished"
    assert kinds.count("entry_started") == kinds.count("entry_finished") == 3
