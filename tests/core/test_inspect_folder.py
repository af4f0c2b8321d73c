"""``labctl inspect FOLDER``: the morning after a queue, one line per run in the folder."""

from __future__ import annotations

import json

import labctl
from labctl.cli.main import main
from labctl.config import FaultConfig
from labctl.testing import sim_station


def run_into(folder, procedure, parameters, config=None, **metadata):
    with labctl.open_lab(config=config or sim_station()) as lab:
        handle = lab.start(procedure, parameters, out=folder, **metadata)
        handle.wait()
        return handle


def test_every_run_in_the_folder_one_line_each_by_start_time(capsys, tmp_path):
    night = tmp_path / "night"
    first = run_into(night, "memristor-retention", {"duration": "1 min", "interval": "10 s"},
                     sample="W7-B3")
    second = run_into(night / "programming", "memristor-program", {"state": "LRS"})
    broken = sim_station(faults=[FaultConfig(instrument="shno_source", kind="timeout",
                                             at_command=40)])
    third = run_into(night, "iv-stripe", {"i_step": "100 uA"}, config=broken, sample="W7-C1")
    assert (first.status, second.status, third.status) == ("completed", "completed", "failed")
    (night / "000_half-copied.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (night / "notes.txt").write_text("not a run")

    assert main(["inspect", str(night)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["started", "procedure", "status", "points"]
    rows = lines[1:]
    assert len(rows) == 4  # three runs and the unreadable file; notes.txt is no run
    assert [r.split()[2:4] for r in rows[:3]] == [
        ["memristor-retention", "completed"], ["memristor-program", "completed"],
        ["iv-stripe", "failed"]]  # by start time, whatever their folder or name
    retention, program, iv = rows[:3]
    assert "7/7" in retention and "W7-B3" in retention and "1 min 0 s simulated" in retention
    assert "7 reads over 60 s" in retention  # the key results, as the procedure says them
    assert "programming/" in program and "final resistance" in program
    assert "W7-C1" in iv and iv.endswith(third.path.name)
    assert rows[3].split()[2] == "unreadable" and rows[3].endswith("000_half-copied.h5")
    assert "Traceback" not in "\n".join(lines)

    assert main(["inspect", str(night), "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    assert sorted(i["status"] for i in infos) == ["completed", "completed", "failed",
                                                  "unreadable"]


def test_a_retention_run_says_how_long_it_took_on_the_station(capsys, tmp_path):
    run = run_into(tmp_path, "memristor-retention", {"duration": "1 h", "interval": "5 min"})
    assert main(["inspect", str(run.path)]) == 0
    out = capsys.readouterr().out
    duration = next(line for line in out.splitlines() if line.startswith("duration"))
    assert duration.split()[1:4] == ["1", "h", "0"] and "simulated" in duration


def test_an_empty_folder(capsys, tmp_path):
    assert main(["inspect", str(tmp_path)]) == 0
    assert "no run files" in capsys.readouterr().out


def test_resuming_a_completed_run_says_so_and_sends_nothing(capsys, tmp_path):
    run = run_into(tmp_path, "iv-stripe", {"i_step": "500 uA"})
    before = run.path.stat().st_mtime_ns
    assert main(["resume", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert "already completed, nothing to resume" in err and "failed" not in err
    assert err.count("\n") == 1 and run.path.stat().st_mtime_ns == before


def test_one_run_in_the_lab_units_with_who_and_why(capsys, tmp_path):
    run = run_into(tmp_path, "freq-current", {"i_start": "1.8 mA", "i_stop": "2.2 mA",
                                              "i_step": "100 uA", "points": 1001},
                   sample="W7-B3", operator="ana", comment="after anneal")
    assert run.status == "completed"
    assert main(["inspect", str(run.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert {"sample       W7-B3", "operator     ana", "comment      after anneal"} <= set(out)
    assert {"parameter    i_start = 1.8 mA", "parameter    f_start = 8 GHz",
            "parameter    points = 1001"} <= set(out)
    assert any(line.startswith("result       full_sync_from_current = ")
               and line.endswith(" mA") for line in out)
