"""`labctl bench gui` runs and prints its numbers (speed is never asserted in tests)."""

from __future__ import annotations

import re

from labctl.cli.bench_cmd import run_bench

NUMBER = r"(?:-?[\d.]+|nan)"


def test_gui_bench_prints_display_rate_lag_drops_open_time_and_memory(tmp_path, capsys,
                                                                       monkeypatch):
    import gui.bench

    real = gui.bench.run_all
    monkeypatch.setattr(gui.bench, "run_all", lambda folder, points: real(
        folder, points, rate=500.0, memory_points=400, repeats=1))
    assert run_bench("gui", points=300, out=tmp_path / "bench") == 0
    out = capsys.readouterr().out
    assert re.search(r"CPU of the GUI thread per refresh: [\d.]+ ms with 1 new point", out)
    assert re.search(r"paced at 500 points/s, 300 points, window attached \(lab in its own "
                     r"process\): run kept \d+ points/s; display [\d.]+ refreshes/s; lag median "
                     r"\d+ ms", out)
    for label in ("freq-current on the simulator", "unpaced precomputed spectra"):
        assert re.search(label + r".*: alone \d+ \(\d+-\d+\) points/s", out), label
    for way in ("window, lab in its own process", "window in the run's process"):
        assert len(re.findall(re.escape(way) + r": \d+ \(\d+-\d+\) points/s, -?\d+% ", out)) == 2
        # where the run thread's time went: wall = on a CPU + waiting for one + asleep
        rows = re.findall(re.escape(way) + rf" +({NUMBER}) = +({NUMBER}) \+ +({NUMBER}) \+ "
                                           rf"+({NUMBER})", out)
        assert len(rows) == 2  # the freq-current runs last long enough to be looked at
        for wall, cpu, queue, asleep in rows[:1]:
            assert float(cpu) > 0 and abs(float(wall) - float(cpu) - float(queue)
                                          - float(asleep)) < 2
    assert re.search(r"open: a recorded 2000 × 10,001 run .* in [\d.]+ s", out)
    assert re.search(r"memory: 400 points .*\n.*resident MB of the GUI's process before the "
                     r"run \d+", out)
    assert list((tmp_path / "bench").iterdir()) == []  # scratch files deleted
