"""`labctl bench gui` runs and prints its numbers (speed is never asserted in tests)."""

from __future__ import annotations

import re

from labctl.cli.bench_cmd import run_bench


def test_gui_bench_prints_display_rate_lag_open_time_and_memory(tmp_path, capsys, monkeypatch):
    import gui.bench

    real = gui.bench.run_all
    monkeypatch.setattr(gui.bench, "run_all", lambda folder, points: real(
        folder, points, rate=500.0, memory_points=400, repeats=1))
    assert run_bench("gui", points=150, out=tmp_path / "bench") == 0
    out = capsys.readouterr().out
    assert re.search(r"run kept \d+ points/s; display [\d.]+ refreshes/s; lag median \d+ ms", out)
    assert re.search(r"freq-current on the simulator .*: \d+ points/s alone, \d+ with the window",
                     out)
    assert re.search(r"open: a recorded 2000 × 10,001 run .* in [\d.]+ s", out)
    assert re.search(r"memory: 400 points .*\n.*resident MB before the run \d+", out)
    assert list((tmp_path / "bench").iterdir()) == []  # scratch files deleted
