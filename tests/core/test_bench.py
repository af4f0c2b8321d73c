"""labctl bench: the benchmarks run and print their tables (speed is never asserted here)."""

import re

from labctl.cli.bench_cmd import run_bench
from labctl.cli.bench_runs import StorageBench
from labctl.cli.main import main
from labctl.procedure import RunContext


def test_storage_bench_prints_throughput_and_memory(tmp_path, capsys):
    assert run_bench("storage", points=200, out=tmp_path) == 0
    out = capsys.readouterr().out
    assert "points/s" in out and "MB/s" in out and "peak MB" in out
    row = next(line for line in out.splitlines() if line.split()[:1] == ["200"])
    numbers = [float(x) for x in row.split()[1:10]]  # run s ... growth MB, all measured
    assert len(numbers) == 9 and all(x == x and x >= 0 for x in numbers)
    assert numbers[4] > 200 * 40e3 / 1e6 * 0.9  # file MB: 200 spectra of 40 kB
    assert re.search(r"target >= 10000 points/s: \d+ at 200 points \((met|MISSED)\)", out)
    assert list(tmp_path.iterdir()) == []  # scratch files deleted


def test_freq_current_and_spectrum_benches_print_a_breakdown(tmp_path, capsys):
    assert run_bench("freq-current", points=20, out=tmp_path) == 0
    assert run_bench("spectrum", out=tmp_path) == 0
    out = capsys.readouterr().out
    assert re.search(r"Runner: 20 points in [\d.]+ s = \d+ points/s", out)
    for section in ("spectrum model", "analyzer SCPI", "fit + tracking", "storage (RunFile"):
        assert re.search(re.escape(section) + r".* -?\d+ µs +-?[\d.]+ %", out), section
    assert re.search(r"same state .* \d+ µs/call", out)
    assert list(tmp_path.iterdir()) == []


def test_storage_procedure_writes_its_rows(tmp_path):
    proc = StorageBench(n_points=5, trace_points=101)
    rows = list(proc.execute(RunContext(station=None)))
    assert len(rows) == 5 and rows[0]["trace"].shape == (101,)
    assert proc.schema().main.quantities[0].name == "trace"


def test_bench_command_rejects_an_unknown_kind(tmp_path, capsys):
    assert main(["bench", "nonsense", "--out", str(tmp_path)]) == 2
    assert "choose one of storage" in capsys.readouterr().err


def test_inspect_bench_times_read_info_and_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("labctl.cli.bench_cmd.INSPECT_REPEATS", 1)
    assert run_bench("inspect", points=50, out=tmp_path) == 0
    out = capsys.readouterr().out
    assert re.search(r"read_info, first call in process +[\d.]+ ms", out)
    assert re.search(r"labctl inspect, cold process +[\d.]+ ms", out)
