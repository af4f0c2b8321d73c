"""The GUI benchmark: does the window keep up with a fast run without slowing it?

Measured (numbers returned; :func:`main` prints them):
- live: a run of 10,001-point spectra through the real Runner and run file, paced at a given
  rate, with the window attached: the display's refreshes per second, the lag from a point's
  event to the refresh that drew it, and the rate the run kept;
- drop: the same run unpaced, with and without the window: how much the window costs the run;
- open: a recorded 2,000 × 10,001 run opened from the browser until its map is painted;
- memory: resident memory of the process over a 100,000-point run with the window attached.

The spectra are the simulated station's own (freq-current's sweep of the default device,
fitted as freq-current fits them), taken once and replayed by :class:`GuiBench` so that the
run's rate is set by the runner and the run file, not by the fit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from labctl.runner import Runner
from procedures.base import Parameter, Procedure, RunContext
from procedures.freq_current import FreqCurrent
from procedures.spectra import PeakTracker, analyse_spectrum, configure_analyzer

SPECTRA = 60  # distinct simulated spectra along the sweep


def thread_cpu(native_id: int) -> float:
    """CPU seconds a thread of this process has used (Linux)."""
    import os

    with open(f"/proc/self/task/{native_id}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """Resident memory now, MB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4096 / 1e6


def simulated_rows(n: int = SPECTRA) -> list[dict[str, Any]]:
    """freq-current rows of the default simulated device from 0.6 to 2.2 mA, fitted."""
    from labctl.config import default_sim_station
    from labctl.station import open_station

    proc = FreqCurrent()
    st = open_station(default_sim_station())
    st.field.set_field(proc.field)
    freq = configure_analyzer(st, proc.values)
    st.shno_source.ramp_to(0.0)
    _, background = st.spectrum.acquire()
    tracker, rows = PeakTracker(), []
    for current in np.linspace(0.6e-3, 2.2e-3, n):
        st.shno_source.ramp_to(current)
        voltage = st.shno_source.read_voltage()
        _, trace = st.spectrum.acquire()
        row = {"current": current, "voltage": voltage, "resistance": voltage / current,
               "field_measured": st.field.read_field(), "trace": trace}
        row.update(analyse_spectrum(freq, trace, proc.values, tracker, background))
        rows.append(row)
    st.ramp_down()
    return rows


class GuiBench(Procedure):
    """freq-current's schema; rows are simulated spectra taken beforehand, the current swept
    evenly from 0.6 to 2.2 mA over ``n_points`` (each point shows the nearest spectrum)."""

    name = "bench-gui"
    title = "GUI benchmark: simulated freq-current spectra at a set pace"
    parameters = (
        Parameter("n_points", 20_000, "", 1, 10**7, "points", kind=int),
        Parameter("rate", 1000.0, "1/s", 0, 1e6, "points per second (0: as fast as possible)"),
    )
    rows: list[dict[str, Any]] = []

    def planned_points(self) -> int:
        return self.n_points

    def schema(self):
        return FreqCurrent().schema()

    def execute(self, ctx: RunContext):
        rows, n = self.rows, self.n_points
        currents = np.linspace(0.6e-3, 2.2e-3, n)
        t0 = time.perf_counter()
        for i in range(ctx.start, n):
            if self.rate:
                wait = t0 + i / self.rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            row = dict(rows[i * len(rows) // n])
            row["current"] = currents[i]
            yield row


class PointClock:
    """Times of the first and last point events (a subscriber that costs nothing)."""

    def __init__(self):
        self.first = self.last = 0.0
        self.count = 0

    def __call__(self, event) -> None:
        if event.kind == "point":
            now = time.perf_counter()
            if not self.count:
                self.first = now
            self.last = now
            self.count += 1

    @property
    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.count > 1 else 0.0


def _station():
    from labctl.config import default_sim_station
    from labctl.station import open_station

    return open_station(default_sim_station())


def run_plain(folder: Path, procedure: Procedure) -> float:
    """Points per second of a run with nobody watching."""
    clock = PointClock()
    path = folder / "plain.h5"
    runner = Runner(procedure, _station(), path)
    runner.subscribe(clock)
    runner.run()
    path.unlink()
    return clock.rate


def run_watched(folder: Path, procedure: Procedure, samples: list | None = None) -> dict:
    """A run with the window attached (its live tab shown); display and run numbers."""
    from PyQt5.QtCore import QTimer

    from gui.app import setup_app
    from gui.window import MainWindow

    app = setup_app()
    window = MainWindow(None)
    window.show()
    tabs = window.tabs
    clock = PointClock()
    path = folder / "watched.h5"
    runner = Runner(procedure, _station(), path)
    runner.subscribe(clock)
    runner.subscribe(tabs.buffer)
    sample_every = max(1, procedure.planned_points() // 20)

    def check() -> None:
        if samples is not None and tabs.shown_points // sample_every > len(samples):
            samples.append((tabs.shown_points, rss_mb()))
        if runner.finished and not len(tabs.buffer):
            app.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(50)
    refreshes0 = tabs.refreshes
    gui_cpu0 = time.thread_time()
    runner.start()
    t0 = time.perf_counter()
    app.exec_()
    gui_cpu = time.thread_time() - gui_cpu0
    run_cpu = thread_cpu(runner._thread.native_id) if runner._thread.is_alive() else None
    timer.stop()
    wall = clock.last - clock.first
    lags = sorted(tabs.lags)
    data = tabs.live.data
    out = {
        "run_rate": clock.rate,
        "refresh_hz": (tabs.refreshes - refreshes0) / max(wall, 1e-9),
        "lag_median": statistics.median(lags) if lags else float("nan"),
        "lag_p95": lags[int(0.95 * (len(lags) - 1))] if lags else float("nan"),
        "lag_max": lags[-1] if lags else float("nan"),
        "shown": data.points if data else 0,
        "map_mb": sum(m.image.nbytes for m in data.maps.values()) / 1e6 if data else 0,
        "rows_mb": sum(a.nbytes for r in data.rows.values() for a in r.data.values()) / 1e6
        if data else 0,
        "seconds": time.perf_counter() - t0,
        "gui_cpu_per_s": gui_cpu / max(time.perf_counter() - t0, 1e-9),
        "run_cpu": run_cpu,
        "skipped": tabs.skipped,
    }
    window.close()
    window.deleteLater()
    path.unlink()
    return out


def refresh_cost(per_refresh: tuple[int, ...] = (1, 50), refreshes: int = 60) -> dict[int, float]:
    """CPU seconds the GUI thread spends per refresh (events taken in, plots redrawn and
    painted) with ``k`` new points each time: what the window takes from a run, independent
    of how loaded the machine is. Events are fed straight into the window's buffer."""
    from gui.app import setup_app
    from gui.window import REFRESH_HZ, MainWindow
    from labctl.events import RunEvent

    app = setup_app()
    window = MainWindow(None)
    window.show()
    rows, n = GuiBench.rows, 100_000
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


def open_recorded(folder: Path, n: int = 2000) -> dict:
    """Write an n × 10,001 run, then time the browser's Show until its map is painted."""
    from gui.app import setup_app
    from gui.window import MainWindow

    path = folder / f"recorded-{n}.h5"
    Runner(GuiBench(n_points=n, rate=0), _station(), path).run()
    app = setup_app()
    window = MainWindow(None)
    window.show()
    window.browser.add_paths([path])
    window.browser.select(path)
    app.processEvents()
    t0 = time.perf_counter()
    window.browser.buttons["Show"].click()
    view = window.tabs.current_view()
    view.plots[0].canvas.repaint()  # the map, painted now rather than at the next event loop
    app.processEvents()
    seconds = time.perf_counter() - t0
    rows = view.data.maps["trace"].rows
    out = {"seconds": seconds, "points": view.data.points, "map_rows": rows,
           "file_mb": path.stat().st_size / 1e6}
    window.close()
    path.unlink()
    return out


def run_all(folder: Path, points: int = 20_000, rate: float = 1000.0,
            memory_points: int = 100_000, repeats: int = 3) -> None:
    """Every GUI measurement, printed; scratch files in ``folder``."""
    from PyQt5.QtCore import QSettings

    from gui.window import REFRESH_HZ

    # the default window layout, and the user's remembered one left alone
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder / "settings"))
    GuiBench.rows = simulated_rows()
    _echo("== GUI: live display of a run of 10,001-point spectra (freq-current schema) ==")
    cost = refresh_cost((1, max(1, round(rate / REFRESH_HZ))))
    per_point = (cost[max(cost)] - cost[1]) / max(max(cost) - 1, 1)
    share = cost[max(cost)] * REFRESH_HZ
    _echo(f"   CPU of the GUI thread per refresh: {cost[1] * 1e3:.1f} ms with 1 new point, "
          f"{cost[max(cost)] * 1e3:.1f} ms with {max(cost)} ({per_point * 1e6:.0f} µs per "
          f"point); at {REFRESH_HZ} refreshes/s and {rate:.0f} points/s: {share:.0%} of a core")
    live = run_watched(folder, GuiBench(n_points=points, rate=rate))
    _echo(f"   paced at {rate:.0f} points/s, {points} points, window attached: run kept "
          f"{live['run_rate']:.0f} points/s; display {live['refresh_hz']:.1f} refreshes/s; lag "
          f"median {live['lag_median'] * 1e3:.0f} ms, 95% {live['lag_p95'] * 1e3:.0f} ms, max "
          f"{live['lag_max'] * 1e3:.0f} ms; the GUI thread used {live['gui_cpu_per_s']:.0%} "
          "of a core")
    for label, make in (
            ("freq-current on the simulator (fits included)",
             lambda: FreqCurrent(i_step=max(2e-6, 1.8e-3 / max(points - 1, 1)))),
            ("unpaced precomputed spectra", lambda: GuiBench(n_points=points, rate=0))):
        plain = [run_plain(folder, make()) for _ in range(repeats)]
        watched = [run_watched(folder, make()) for _ in range(repeats)]
        alone = statistics.median(plain)
        shown = statistics.median(w["run_rate"] for w in watched)
        w = sorted(watched, key=lambda r: r["run_rate"])[len(watched) // 2]
        _echo(f"   {label}: {alone:.0f} points/s alone, {shown:.0f} with the window "
              f"({1 - shown / alone:.1%} slower; medians of {repeats}); display "
              f"{w['refresh_hz']:.1f} refreshes/s, lag median {w['lag_median'] * 1e3:.0f} ms, "
              f"max {w['lag_max'] * 1e3:.0f} ms")
    opened = open_recorded(folder)
    _echo(f"== open: a recorded {opened['points']} × 10,001 run ({opened['file_mb']:.0f} MB) "
          f"shown with its map ({opened['map_rows']} rows) in {opened['seconds']:.2f} s ==")
    need = memory_points * 4 * 10_001 * 1.1
    free = shutil.disk_usage(folder).free
    if free < 2 * need:
        _echo(f"== memory: skipped, {free / 1e9:.0f} GB free, a {memory_points}-point run "
              f"needs {2 * need / 1e9:.0f} GB ==")
        return
    samples: list = []
    rss0 = rss_mb()
    mem = run_watched(folder, GuiBench(n_points=memory_points, rate=0), samples)
    _echo(f"== memory: {memory_points} points with the window attached "
          f"({mem['run_rate']:.0f} points/s, display {mem['refresh_hz']:.1f}/s) ==")
    _echo(f"   resident MB before the run {rss0:.0f}; after N points: " + ", ".join(
        f"{p}: {mb:.0f}" for p, mb in samples[:: max(1, len(samples) // 8)]))
    _echo(f"   held by the display: map {mem['map_mb']:.1f} MB, rows {mem['rows_mb']:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000, help="points of the live runs")
    parser.add_argument("--rate", type=float, default=1000.0, help="pace of the live run")
    parser.add_argument("--memory-points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per rate comparison")
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
