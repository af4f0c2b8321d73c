"""The GUI benchmark: does the window keep up with a fast run without slowing it?

Measured (numbers returned; :func:`run_all` prints them):
- refresh cost: CPU of the GUI thread per refresh, events fed straight into the window;
- paced: a run of 10,001-point spectra at 1,000 points/s with the window attached as
  `labctl gui` attaches it (the lab in a process of its own): refreshes per second, the lag
  from a point's publication to the refresh that drew it, the rate the run kept;
- drop: runs with nobody watching, with the window (lab in its own process), and with the
  window in the run's process (how the GUI ran before), in turn: the run's rate and where its
  thread's time per point went (gui.bench_watch.RunWatch);
- open: a recorded 2,000 × 10,001 run opened from the browser until its map is painted;
- memory: resident memory of the GUI's process over a 100,000-point run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gui.bench_watch import GuiBench, RunWatch, rss_mb, save_rows, simulated_rows
from labctl.runner import Runner
from procedures.freq_current import FreqCurrent

COMPARE_POINTS = 5000  # points of each run in the drop comparisons (they alternate)
ALONE, REMOTE, LOCAL = "alone", "window, lab in its own process", "window in the run's process"


def _station():
    from labctl.config import default_sim_station
    from labctl.station import open_station

    return open_station(default_sim_station())


def _local_lab():
    """A Lab in this process, on a simulated station of its own (the remote lab holds the
    built-in one's lock)."""
    from labctl.config import default_sim_station
    from labctl.lab import open_lab

    config = default_sim_station()
    return open_lab(config=config.model_copy(update={"source": "GUI benchmark, in-process"}))


def _window(lab):
    from gui.app import setup_app
    from gui.window import MainWindow

    app = setup_app()
    window = MainWindow(lab)
    window.show()
    return app, window


def measure_run(lab, procedure, parameters: dict, pid: int, watched: bool, out: Path,
                samples: list | None = None) -> dict[str, Any]:
    """One run on ``lab`` (its run thread in process ``pid``) into ``out``, with or without
    the window: the run's numbers (RunWatch) and, watched, the display's."""
    from PyQt5.QtCore import QTimer

    name = procedure if isinstance(procedure, str) else procedure.name
    watch = RunWatch(pid, name)
    unsubscribe = lab.subscribe(watch)
    result: dict[str, Any] = {}
    if not watched:
        handle = lab.start(procedure, parameters, out=out)
        handle.wait()
    else:
        app, window = _window(lab)
        tabs = window.tabs
        marks: list[tuple[float, int]] = []  # (time, refreshes) while points arrive
        handle = lab.start(procedure, parameters, out=out)
        every = max(1, parameters.get("n_points", 0) // 20)

        def check() -> None:
            done = watch.finished.is_set()
            if watch.index >= 0 and not done:
                marks.append((time.perf_counter(), tabs.refreshes))
            if samples is not None and tabs.shown_points // every > len(samples):
                samples.append((tabs.shown_points, rss_mb()))
            if done and not len(tabs.buffer) and not tabs.live_files:
                app.quit()

        timer = QTimer()
        timer.timeout.connect(check)
        timer.start(50)
        lags0, cpu0, t0 = len(tabs.lags), time.thread_time(), time.perf_counter()
        app.exec_()
        timer.stop()
        lags = sorted(tabs.lags[lags0:])
        data = tabs.live.data
        result.update(
            refresh_hz=(marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])
            if len(marks) > 1 else float("nan"),
            lag_median=statistics.median(lags) if lags else float("nan"),
            lag_p95=lags[int(0.95 * (len(lags) - 1))] if lags else float("nan"),
            lag_max=lags[-1] if lags else float("nan"),
            gui_cpu=(time.thread_time() - cpu0) / (time.perf_counter() - t0),
            shown=data.points if data else 0,
            map_mb=sum(m.image.nbytes for m in data.maps.values()) / 1e6,
            rows_mb=sum(a.nbytes for r in data.rows.values() for a in r.data.values()) / 1e6)
        window._outputs_down = True  # the lab is closed by whoever opened it
        window.close()
        window.deleteLater()
        app.processEvents()
    unsubscribe()
    handle.wait()
    result.update(watch.result(), status=handle.status)
    handle.path.unlink()
    return result


def refresh_cost(rows: list[dict], per_refresh: tuple[int, ...] = (1, 50),
                 refreshes: int = 60) -> dict[int, float]:
    """CPU seconds the GUI thread spends per refresh (events taken in, plots redrawn and
    painted) with ``k`` new points each time. Events are fed straight into the window's
    buffer (the way a lab in the window's own process delivers them)."""
    from gui.window import REFRESH_HZ
    from labctl.events import RunEvent

    app, window = _window(None)
    n = 100_000
    currents = np.linspace(0.6e-3, 2.2e-3, n)
    buffer, tabs = window.tabs.buffer, window.tabs
    buffer(RunEvent("started", "bench", {"path": "bench.h5", "procedure": "freq-current",
                                          "parameters": {}, "schema": FreqCurrent().schema(),
                                          "planned": n, "start": 0}))
    events = [RunEvent("point", "bench", {"index": i, "values": {
        **rows[i * len(rows) // n], "current": currents[i]}, "planned": n}) for i in range(4000)]
    i, out = 0, {}
    for k in (50, *per_refresh):  # the first pass warms up (plots built, caches filled)
        spent = 0.0
        for _ in range(refreshes):
            for _ in range(k):
                buffer(events[i % len(events)])
                i += 1
            time.sleep(1 / REFRESH_HZ)  # summaries redraw on their own clock, as live
            c0 = time.thread_time()
            tabs.tick()
            app.processEvents()
            spent += time.thread_time() - c0
        out[k] = spent / refreshes
    window.close()
    return out


def open_recorded(folder: Path, rows_file: Path, n: int = 2000) -> dict:
    """Write an n × 10,001 run, then time the browser's Show until its map is painted."""
    path = folder / f"recorded-{n}.h5"
    Runner(GuiBench(n_points=n, rate=0, rows_file=str(rows_file)), _station(), path).run()
    app, window = _window(None)
    window.browser.add_paths([path])
    window.browser.select(path)
    app.processEvents()
    t0 = time.perf_counter()
    window.browser.buttons["Show"].click()
    view = window.tabs.current_view()
    view.plots[0].canvas.repaint()  # the map, painted now rather than at the next event loop
    app.processEvents()
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "points": view.data.points,
           "map_rows": view.data.maps["trace"].rows, "file_mb": path.stat().st_size / 1e6}
    window.close()
    path.unlink()
    return out


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return (fmt.format(statistics.median(values)) + " (" + fmt.format(min(values)) + "-"
            + fmt.format(max(values)) + ")")


def compare(label: str, make: Callable[[], tuple], remote, local, repeats: int,
            out: Path) -> None:
    """The three ways in turn, ``repeats`` times; medians (and ranges) of each."""
    import os

    runs: dict[str, list[dict]] = {ALONE: [], REMOTE: [], LOCAL: []}
    for _ in range(repeats):
        for way, lab, pid, watched in ((ALONE, remote, remote.process.pid, False),
                                       (REMOTE, remote, remote.process.pid, True),
                                       (LOCAL, local, os.getpid(), True)):
            runs[way].append(measure_run(lab, *make(), pid, watched, out))
    alone = [r["rate"] for r in runs[ALONE]]
    _echo(f"   {label}: alone {_spread(alone)} points/s (medians of {repeats}, range)")
    for way in (REMOTE, LOCAL):
        drops = [1 - r["rate"] / a for r, a in zip(runs[way], alone)]
        w = runs[way]
        _echo(f"     {way}: {_spread([r['rate'] for r in w])} points/s, "
              f"{_spread(drops, '{:.0%}')} slower than alone in the same round; display "
              f"{statistics.median(r['refresh_hz'] for r in w):.1f} refreshes/s, lag median "
              f"{statistics.median(r['lag_median'] for r in w) * 1e3:.0f} ms")
    _echo("     run thread per point (µs; medians): wall = on a CPU + waiting for a CPU + "
          "asleep (the GIL)")
    for way, rs in runs.items():
        parts = [statistics.median(r[k] for r in rs)
                 for k in ("wall_us", "cpu_us", "queue_us", "asleep_us")]
        _echo(f"       {way:<30} {parts[0]:6.0f} = {parts[1]:5.0f} + {parts[2]:5.0f} + "
              f"{parts[3]:5.0f}")


def run_all(folder: Path, points: int = 20_000, rate: float = 1000.0,
            memory_points: int = 100_000, repeats: int = 5) -> None:
    """Every GUI measurement, printed; scratch files in ``folder``."""
    from PyQt5.QtCore import QSettings

    from gui.window import REFRESH_HZ
    from labctl.lab import RemoteLab

    # the default window layout, and the user's remembered one left alone
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder / "settings"))
    rows = simulated_rows()
    rows_file = str(save_rows(rows, folder / "spectra.npz"))
    _echo("== GUI: live display of a run of 10,001-point spectra (freq-current schema) ==")
    cost = refresh_cost(rows, (1, max(1, round(rate / REFRESH_HZ))))
    per_point = (cost[max(cost)] - cost[1]) / max(max(cost) - 1, 1)
    _echo(f"   CPU of the GUI thread per refresh: {cost[1] * 1e3:.1f} ms with 1 new point, "
          f"{cost[max(cost)] * 1e3:.1f} ms with {max(cost)} ({per_point * 1e6:.0f} µs per "
          f"point); at {REFRESH_HZ} refreshes/s and {rate:.0f} points/s: "
          f"{cost[max(cost)] * REFRESH_HZ:.0%} of a core")
    n = min(points, COMPARE_POINTS)
    with RemoteLab(sim=True) as remote, _local_lab() as local:
        pid = remote.process.pid
        live = measure_run(remote, GuiBench, {"n_points": points, "rate": rate,
                                              "rows_file": rows_file}, pid, True, folder)
        _echo(f"   paced at {rate:.0f} points/s, {points} points, window attached (lab in its "
              f"own process): run kept {live['rate']:.0f} points/s; display "
              f"{live['refresh_hz']:.1f} refreshes/s; lag median {live['lag_median'] * 1e3:.0f}"
              f" ms, 95% {live['lag_p95'] * 1e3:.0f} ms, max {live['lag_max'] * 1e3:.0f} ms; "
              f"the GUI thread used {live['gui_cpu']:.0%} of a core")
        compare(f"freq-current on the simulator (fits included), {n} points",
                lambda: ("freq-current", {"i_step": max(2e-6, 1.8e-3 / max(n - 1, 1))}),
                remote, local, repeats, folder)
        compare(f"unpaced precomputed spectra, {n} points",
                lambda: (GuiBench, {"n_points": n, "rate": 0, "rows_file": rows_file}),
                remote, local, repeats, folder)
        opened = open_recorded(folder, Path(rows_file))
        _echo(f"== open: a recorded {opened['points']} × 10,001 run ({opened['file_mb']:.0f} MB)"
              f" shown with its map ({opened['map_rows']} rows) in {opened['seconds']:.2f} s ==")
        need = memory_points * 4 * 10_001 * 1.1
        free = shutil.disk_usage(folder).free
        if free < 2 * need:
            _echo(f"== memory: skipped, {free / 1e9:.0f} GB free, a {memory_points}-point run "
                  f"needs {2 * need / 1e9:.0f} GB ==")
            return
        samples: list = []
        rss0 = rss_mb()
        mem = measure_run(remote, GuiBench, {"n_points": memory_points, "rate": 0,
                                             "rows_file": rows_file}, pid, True, folder,
                           samples)
        _echo(f"== memory: {memory_points} points with the window attached "
              f"({mem['rate']:.0f} points/s, display {mem['refresh_hz']:.1f}/s) ==")
        _echo(f"   resident MB of the GUI's process before the run {rss0:.0f}; after N points: "
              + ", ".join(f"{p}: {mb:.0f}" for p, mb in samples[:: max(1, len(samples) // 8)]))
        _echo(f"   held by the display: map {mem['map_mb']:.1f} MB, rows {mem['rows_mb']:.1f} MB;"
              f" the lab process: {rss_mb(pid):.0f} MB resident")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000, help="points of the paced run")
    parser.add_argument("--rate", type=float, default=1000.0, help="pace of the live run")
    parser.add_argument("--memory-points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of each comparison")
    parser.add_argument("--out", type=Path, default=None, help="folder for scratch files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        run_all(Path(tmp), args.points, args.rate, args.memory_points, args.repeats)
    return 0


def _echo(line: str) -> None:
    print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
