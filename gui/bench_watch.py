"""What the GUI benchmark runs and how it watches a run from outside (Linux /proc).

:class:`GuiBench` replays simulated freq-current spectra through the real Runner and run file at
a set pace. :class:`RunWatch` measures a run wherever its thread is (this process or a lab
process): points per second, and where the run thread's time per point went, from the kernel's
scheduler statistics (``/proc/PID/task/TID/schedstat``): on a CPU, waiting for a CPU (a busy
machine), or asleep (waiting for the GIL: a run whose writes and flushes go to the page cache
hardly sleeps otherwise). That tells a window that holds the run back from a machine that is
merely busy.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from procedures.base import Parameter, Procedure, RunContext
from procedures.freq_current import FreqCurrent
from procedures.spectra import PeakTracker, analyse_spectrum, configure_analyzer

SPECTRA = 60  # distinct simulated spectra along the sweep
SAMPLE_INTERVAL = 0.02  # s between looks at the run thread


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process now, MB (Linux)."""
    with open(f"/proc/{pid or 'self'}/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


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


def save_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    """The rows in an .npz file that a lab process loads (one array per quantity)."""
    np.savez(path, **{name: np.array([r[name] for r in rows]) for name in rows[0]})
    return path


class GuiBench(Procedure):
    """freq-current's schema; rows are simulated spectra taken beforehand (``rows_file``, see
    :func:`save_rows`), the current swept evenly from 0.6 to 2.2 mA over ``n_points`` (each
    point shows the nearest spectrum)."""

    name = "bench-gui"
    title = "GUI benchmark: simulated freq-current spectra at a set pace"
    parameters = (
        Parameter("n_points", 20_000, "", 1, 10**7, "points", kind=int),
        Parameter("rate", 1000.0, "1/s", 0, 1e6, "points per second (0: as fast as possible)"),
        Parameter("rows_file", "", description="the spectra (.npz)", kind=str),
    )

    def planned_points(self) -> int:
        return self.n_points

    def schema(self):
        return FreqCurrent().schema()

    def execute(self, ctx: RunContext):
        with np.load(self.rows_file) as f:
            columns = {name: f[name] for name in f.files}
        rows = [{name: c[i] for name, c in columns.items()} for i in range(SPECTRA)]
        n = self.n_points
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


def _schedstat(pid: int, tid: int) -> tuple[int, int] | None:
    """(ns on a CPU, ns waiting for one) of a thread, None once it has gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
            on_cpu, waiting, _ = fh.read().split()
    except OSError:
        return None
    return int(on_cpu), int(waiting)


def _find_thread(pid: int, name: str) -> int | None:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                if fh.read().strip() == name[:15]:
                    return int(tid)
        except OSError:
            continue
    return None


class RunWatch:
    """Subscribe it to a lab or runner; :meth:`result` after the run. Looks at the run thread
    (``run-<procedure>`` in process ``pid``) every SAMPLE_INTERVAL while points arrive."""

    def __init__(self, pid: int, procedure: str):
        self.pid, self.thread_name = pid, f"run-{procedure}"
        self.index = -1  # the latest complete point seen
        self.points: list[tuple[int, float]] = []  # (index, time published): first, latest
        self.finished = threading.Event()  # the run's finished event was seen
        self._samples: list[tuple[int, float, tuple[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._look, name="run-watch", daemon=True)
        self._thread.start()

    def __call__(self, event) -> None:  # in the publishing thread: nothing but a store
        if event.kind == "point":
            self.index = event.data["index"]
            self.points[1:] = [(self.index, event.time)]
        elif event.kind == "finished" and event.source == "run":
            self.finished.set()

    def _look(self) -> None:
        tid = None
        while not self._stop.wait(SAMPLE_INTERVAL):
            if self.index < 0:
                continue
            tid = tid or _find_thread(self.pid, self.thread_name)
            stat = _schedstat(self.pid, tid) if tid else None
            if stat is None:
                continue
            if not self._samples or self.index != self._samples[-1][0]:
                self._samples.append((self.index, time.perf_counter(), stat))

    def result(self) -> dict[str, float]:
        """points/s (from the points' publication times), and per point (µs, NaN for a run too
        short to look at twice): wall, on a CPU, waiting for a CPU, asleep."""
        self._stop.set()
        self._thread.join()
        (i0, t0), (i1, t1) = (self.points * 2)[:2] if self.points else ((0, 0.0), (0, 0.0))
        rate = (i1 - i0) / (t1 - t0) if t1 > t0 else float("nan")
        if len(self._samples) < 2:
            return {"rate": rate, "wall_us": float("nan"), "cpu_us": float("nan"),
                    "queue_us": float("nan"), "asleep_us": float("nan")}
        (i0, t0, (c0, q0)), (i1, t1, (c1, q1)) = self._samples[0], self._samples[-1]
        n = max(i1 - i0, 1)
        wall, cpu, queue = (t1 - t0) / n * 1e6, (c1 - c0) / n / 1e3, (q1 - q0) / n / 1e3
        return {"rate": rate, "wall_us": wall, "cpu_us": cpu, "queue_us": queue,
                "asleep_us": wall - cpu - queue}
