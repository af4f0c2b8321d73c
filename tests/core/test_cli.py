"""The command line: one-line errors with exit code 2, and no instrument touched on bad input."""

from __future__ import annotations

import re

import pytest

import labctl
import labctl.station
from labctl.cli.main import main


@pytest.fixture
def opened(monkeypatch):
    """Every station the CLI opens, so tests can read the simulated command logs."""
    stations = []
    real = labctl.station.open_station

    def spy(config):
        st = real(config)
        stations.append(st)
        return st

    monkeypatch.setattr(labctl.station, "open_station", spy)
    return stations


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    (["run", "nope", "--sim"], "unknown procedure 'nope'"),
    (["run", "freq-current", "--sim", "--set", "i_stpo=1e-3"], "unknown parameter 'i_stpo'"),
    (["run", "freq-current", "--sim", "--set", "i_stop=5e-3"], "i_stop = 5 mA"),
    (["run", "freq-current", "--sim", "--set", "field=1.5"], "max |B|"),
    (["run", "freq-current", "--sim", "--set", "points=ten"], "points = 'ten'"),
    (["run", "freq-current", "--sim", "--set", "i_stop"], "expected NAME=VALUE"),
    (["run", "freq-current"], "no station"),
    (["run", "freq-current", "--sim", "--station", "x.toml"], "not both"),
    (["run", "freq-current", "--station", "missing.toml"], "cannot read"),
    (["run", "freq-current", "--sim", "--bogus"], "No such option"),
    (["inspect", "missing.h5"], "no such file"),
]


@pytest.mark.parametrize("argv,words", BAD, ids=[" ".join(b[0][:4]) for b in BAD])
def test_bad_input_one_line_exit_2_nothing_sent(capsys, opened, tmp_path, monkeypatch, argv,
                                                words):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labctl: error:"), err
    assert words in lines[0]
    assert "Traceback" not in err
    for st in opened:  # nothing was sent to any instrument
        assert all(len(i.log) == 0 for i in st.sim.instruments.values())
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_run_prints_summary_and_path_last(capsys, tmp_path):
    code, out, err = run(capsys, "run", "freq-current", "--sim", "--quiet", "--out",
                         str(tmp_path), "--set", "i_step=100e-6", "--set", "points=2001")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("status: completed")
    assert any(line.startswith("synchronization at") for line in lines)
    path = lines[-1]
    assert path.endswith("_freq-current.h5") and path.startswith(str(tmp_path))
    code, out, err = run(capsys, "inspect", path)
    assert code == 0 and "freq-current" in out and "completed" in out
    code, out, err = run(capsys, "replay", path, "--quiet")
    assert code == 0 and "replayed 19 points" in out


def _help_row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def test_procedure_help_lists_units_defaults_limits(capsys):
    code, out, _ = run(capsys, "run", "freq-current", "--help")
    assert code == 0
    # engineering units; without a station: the hard range and which station limit applies
    assert _help_row(out, "i_stop").split()[1:6] == ["2.2", "mA", "-10", "mA", "…"]
    assert "(station's max |I_SHNO|)" in _help_row(out, "i_stop")
    assert _help_row(out, "f_start").split()[1:3] == ["8", "GHz"]
    assert "101 … 1000001" in _help_row(out, "points")
    assert "give --sim or --station FILE" in out
    for raw in ("8000000000.0", "1e+06", "0.0022", "<bool>", "<str>"):
        assert raw not in out


def test_procedure_help_shows_the_limits_of_the_station_given(capsys, write_station):
    station = write_station(("max_current = 2.5e-3", "max_current = 1.8e-3"),
                            ("max_field = 0.9", "max_field = 0.5"),
                            ("max_points = 40001", "max_points = 20001"),
                            ("max_voltage = 8.0", "max_voltage = 6.5"))
    code, out, _ = run(capsys, "run", "field-sweep", "--station", str(station), "--help")
    assert code == 0
    assert f"station file '{station}'" in out
    assert "-1.8 mA … 1.8 mA (station's max |I_SHNO|)" in _help_row(out, "i_shno")
    assert "-500 mT … 500 mT (station's max |B|)" in _help_row(out, "b_stop")
    assert "101 … 20001" in _help_row(out, "points")
    assert "-3 V … 6.5 V (station's V_M range)" in _help_row(out, "gate_voltage")
    code, out, _ = run(capsys, "run", "memristor-cycles", "--sim", "-h")
    assert "built-in simulated station" in out
    assert "10 mV … 8 V (station's V_M range)" in _help_row(out, "v_set_max")
    assert "1 nA … 1 mA (station's max gate compliance)" in _help_row(out, "compliance")


def test_no_type_tags_and_a_version(capsys):
    import typer

    from labctl.cli.main import app

    commands = typer.main.get_command(app).commands
    assert {"run", "queue", "inspect", "resume", "station"} <= set(commands)
    for argv in ([], *([name] for name in commands), ["station", "check"]):
        code, out, _ = run(capsys, *argv, "--help")
        assert code == 0 and "Usage" in out
        assert not re.search(r"<(bool|str|path|int|float|list)", out), (argv, out)
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"labctl {labctl.__version__}"


@pytest.mark.parametrize(("argv", "words"), [
    (["run", "freq-curent", "--sim"], "did you mean 'freq-current'?"),
    (["run", "freq-current", "--sim", "--set", "i_stpo=1mA"], "did you mean 'i_stop'?"),
    (["run", "sync-map", "--sim", "--set", "gate_voltage=[0, -1]"],
     "did you mean 'gate_voltages'?"),
])
def test_misspelt_names_get_a_suggestion(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err and err.count("\n") == 1


def test_safe_command_reports_every_role(capsys, opened):
    code, out, err = run(capsys, "safe", "--sim")
    assert code == 0, err
    assert out.count("ramped down") == 4


def test_station_check_prints_identities_and_limits(capsys):
    code, out, err = run(capsys, "station", "check", "--sim")
    assert code == 0, err
    assert "MODEL 2450" in out and "N9020A" in out and "MODEL425" in out
    assert "|I_SHNO| <= 2.5 mA" in out


def test_procedures_lists_the_experiment(capsys):
    code, out, _ = run(capsys, "procedures")
    assert code == 0 and "freq-current" in out


@pytest.mark.parametrize("command", ["inspect", "replay", "resume"])
def test_damaged_run_file_one_line(capsys, tmp_path, command):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    code, out, err = run(capsys, command, str(bad))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and str(bad) in err and "Traceback" not in err


def test_run_without_procedure_shows_usage(capsys):
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0 and "--station" in out and "--set" in out
    code, out, _ = run(capsys, "run")
    assert code == 2 and "Usage" in out


@pytest.mark.parametrize(("edit", "words"), [
    (("max_current = 2.5e-3", "max_curent = 2.5e-3"),
     "unknown key 'shno_source.limits.max_curent' = 0.0025 (did you mean 'max_current'?)"),
    (("[field.gaussmeter]", "[field.gausmeter]"),
     "unknown key 'field.gausmeter'"),
    (("seed = 1", "sed = 1"), "unknown key 'sim.sed' = 1 (did you mean 'seed'?)"),
    (('name = "simulated probe station"', 'nmae = "x"\nname = "y"'),
     "unknown key 'nmae' = 'x' (did you mean 'name'?)"),
])
def test_misspelt_station_file_keys_get_a_suggestion(capsys, write_station, edit, words):
    station = write_station(edit)
    code, _, err = run(capsys, "station", "check", "--station", str(station))
    assert code == 2 and err.count("\n") == 1
    assert words in err


def test_misspelt_queue_keys_get_a_suggestion(capsys, tmp_path):
    queue = tmp_path / "q.toml"
    queue.write_text('station = "sim"\nout = "runs"\non_failur = "stop"\n', encoding="utf-8")
    code, _, err = run(capsys, "queue", str(queue), "--dry-run")
    assert code == 2 and "unknown key 'on_failur' (did you mean 'on_failure'?)" in err
    queue.write_text('station = "sim"\nout = "runs"\n[[run]]\nprocedure = "iv-stripe"\n'
                     'sett = { i_stop = 1e-3 }\n', encoding="utf-8")
    code, _, err = run(capsys, "queue", str(queue), "--dry-run")
    assert code == 2 and "unknown key 'sett' (did you mean 'set'?)" in err
