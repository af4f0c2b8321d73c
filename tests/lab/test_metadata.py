"""Sample, device, operator and comment reach every run file: from the command line, the
Python API and the queue file (top level, overridden per run)."""

from __future__ import annotations

import pytest

import labctl
from labctl.cli.main import main
from labctl.errors import UserInputError
from labctl.queue import load_queue


def test_from_the_command_line(tmp_path, capsys):
    code = main(["run", "iv-stripe", "--sim", "--quiet", "--out", str(tmp_path),
                 "--set", "i_step=500 uA", "--sample", "W7-B3", "--device", "chain 4",
                 "--operator", "ana", "--comment", "after anneal"])
    assert code == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    ds = labctl.load_run(path)
    assert (ds.attrs["sample"], ds.attrs["device"], ds.attrs["operator"],
            ds.attrs["comment"]) == ("W7-B3", "chain 4", "ana", "after anneal")
    assert ds.attrs["parameter_units"]["i_step"] == "A"
    assert ds.attrs["parameters"]["i_step"] == pytest.approx(500e-6)
    assert ds.attrs["result_units"]["heating"] == "ohm/A^2" and "heating" in ds.attrs["results"]


def test_from_the_api_with_empty_defaults(tmp_path):
    with labctl.open_lab(sim=True) as lab:
        path = lab.run("iv-stripe", {"i_step": 500e-6}, out=tmp_path, device="d1").path
    ds = labctl.load_run(path)
    assert ds.attrs["device"] == "d1" and ds.attrs["sample"] == ds.attrs["comment"] == ""


def test_from_a_queue_file(tmp_path, capsys):
    queue = tmp_path / "q.toml"
    queue.write_text("""
station = "sim"
out = "runs"
sample = "W7-B3"
operator = "ana"

[[run]]
procedure = "freq-current"
set = { i_start = 1.0e-3, i_stop = 1.2e-3, i_step = 100e-6, points = 1001, averages = 5 }
foreach = { field = [0.6, 0.65] }
comment = "field map"

[[run]]
procedure = "iv-stripe"
set = { i_step = 500e-6 }
operator = "bo"
""", encoding="utf-8")
    assert main(["queue", str(queue), "--quiet"]) == 0
    files = sorted((tmp_path / "runs").glob("*.h5"))
    attrs = [labctl.load_run(p).attrs for p in files]
    assert [(a["sample"], a["operator"], a["comment"]) for a in attrs] == [
        ("W7-B3", "ana", "field map"), ("W7-B3", "ana", "field map"), ("W7-B3", "bo", "")]


def test_metadata_must_be_text(tmp_path):
    queue = tmp_path / "q.toml"
    queue.write_text('station = "sim"\nout = "r"\n[[run]]\nprocedure = "iv-stripe"\n'
                     "sample = 7\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"run 1 \(iv-stripe\): sample = 7: must be text"):
        load_queue(queue)
