"""Benchmarks: storage throughput and memory, ``inspect`` latency, freq-current end to end.

Every function here measures and returns plain numbers; :mod:`labctl.cli.bench_cmd` prints
the tables. Storage runs go through the real :class:`~labctl.runner.Runner` on the simulated
station, each in a fresh subprocess (``python -m labctl.cli.bench_runs storage N FILE``) so
that its peak memory (``ru_maxrss``) belongs to that run alone. The benchmarks are a client
of the suite, not part of its core.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from labctl.events import POINT
from labctl.procedure import Parameter, Procedure, Results, Row, RunContext
from labctl.schema import Axis, Quantity, Schema, Stream

TRACE_POINTS = 10001
SCALARS = ("current", "voltage", "resistance", "field_measured", "total_power")
ROW_POOL = 16  # distinct precomputed rows, cycled (memory must not grow with the run)


def maxrss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, else kB


def row_bytes(trace_points: int = TRACE_POINTS) -> int:
    """Bytes one storage-benchmark row occupies in the file (trace, scalars, coordinate)."""
    return 4 * trace_points + 8 * len(SCALARS) + 8


class StorageBench(Procedure):
    """Yields precomputed rows (one float32 spectrum and five scalars): no instrument, no
    computation in the loop, so a run measures the runner and the run file alone."""

    name = "bench-storage"
    title = "Storage benchmark: precomputed spectra through the runner into a run file"
    parameters = (
        Parameter("n_points", 1000, "", 1, 10**9, "rows to write", kind=int),
        Parameter("trace_points", TRACE_POINTS, "", 2, 1_000_001, "points per spectrum",
                  kind=int),
    )

    def __init__(self, **values: Any):
        super().__init__(**values)
        rng = np.random.default_rng(0)
        self._rows = [{"trace": rng.normal(-80.0, 1.0, self.trace_points).astype(np.float32),
                       **{name: float(k + j) for j, name in enumerate(SCALARS)}}
                      for k in range(ROW_POOL)]

    def planned_points(self) -> int:
        return self.n_points

    def schema(self) -> Schema:
        units = ("A", "V", "ohm", "T", "W")
        point = Stream("point", (Quantity("trace", "dBm", "float32", ("frequency",)),
                                 *(Quantity(n, u) for n, u in zip(SCALARS, units))))
        freq = np.linspace(8e9, 12e9, self.trace_points)
        return Schema(streams=(point,), axes=(Axis("frequency", freq, "Hz"),))

    def execute(self, ctx: RunContext):
        rows, k = self._rows, len(self._rows)
        for i in range(ctx.start, self.n_points):
            yield rows[i % k]


def _sim_station():
    from labctl.config import default_sim_station
    from labctl.station import open_station
    return open_station(default_sim_station())


def _run_timed(procedure: Procedure, path: Path) -> dict[str, Any]:
    """Run through the Runner; wall time of the run and of its point loop."""
    from labctl.runner import Runner

    station = _sim_station()
    runner = Runner(procedure, station, path)
    n = procedure.planned_points()
    marks: dict[str, float] = {}
    tenth = max(1, n // 10)
    at = {0: "first", tenth: "p10", n - 1 - tenth: "p90", n - 1: "last"}

    def on_event(event) -> None:  # in the worker thread: its CPU time is the run's
        if event.kind == POINT and event.data["index"] in at:
            marks[at[event.data["index"]]] = time.perf_counter()
            cpu[at[event.data["index"]]] = time.thread_time()

    runner.subscribe(on_event)
    rss_before = maxrss_mb()
    cpu: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    status = runner.run()
    wall, run_cpu = time.perf_counter() - t0, time.process_time() - c0
    if status != "completed":
        raise RuntimeError(f"benchmark run {status}: {runner.reason}")
    loop = marks.get("last", 0.0) - marks.get("first", 0.0)
    nan = float("nan")
    loop_cpu = cpu.get("last", 0.0) - cpu.get("first", 0.0)
    return {"points": n, "wall_s": wall, "loop_s": loop, "points_per_s": n / wall,
            "cpu_s": run_cpu, "loop_cpu_s_per_point": loop_cpu / (n - 1) if n > 1 else nan,
            "loop_points_per_s": (n - 1) / loop if loop > 0 else nan,
            "first10_points_per_s": tenth / (marks["p10"] - marks["first"]) if n >= 20 else nan,
            "last10_points_per_s": tenth / (marks["last"] - marks["p90"]) if n >= 20 else nan,
            "rss_before_mb": rss_before, "results": runner.results,
            "file_mb": path.stat().st_size / 1e6}


def plain_write(path: Path, nbytes: int, block: int) -> tuple[float, float]:
    """The disk's pace for comparison: ``nbytes`` written unbuffered in ``block``-byte writes
    (one system call each, like a run's chunk per point; no fsync), then deleted.
    Returns MB/s over the whole file and over its last tenth."""
    buf, count = np.random.default_rng(1).bytes(block), max(1, nbytes // block)
    tail = max(1, count // 10)
    t0 = t_tail = time.perf_counter()
    try:
        with open(path, "wb", buffering=0) as fh:
            for i in range(count):
                if i == count - tail:
                    t_tail = time.perf_counter()
                fh.write(buf)
        t1 = time.perf_counter()
        return count * block / 1e6 / (t1 - t0), tail * block / 1e6 / (t1 - t_tail)
    finally:
        path.unlink(missing_ok=True)


def storage_run(n_points: int, path: Path, trace_points: int = TRACE_POINTS,
                plain: bool = False) -> dict[str, Any]:
    """One storage run in this process; points/s, MB/s, peak memory. With ``plain``, the run
    file is then deleted and the same bytes written plainly (:func:`plain_write`)."""
    out = _run_timed(StorageBench(n_points=n_points, trace_points=trace_points), path)
    del out["results"]
    size = path.stat().st_size
    out.update(mb_per_s=size / 1e6 / out["wall_s"], peak_rss_mb=maxrss_mb())
    if plain:
        path.unlink()
        out["plain_mb_per_s"], out["plain_last10_mb_per_s"] = plain_write(
            path.with_suffix(".plain"), size, 4 * trace_points)
    return out


def storage_subprocess(n_points: int, path: Path, timeout: float = 3600) -> dict[str, Any]:
    """:func:`storage_run` (with the plain-write comparison) in a fresh interpreter, so that
    ``peak_rss_mb`` is this run's alone; the run file is deleted by then."""
    cmd = [sys.executable, "-m", "labctl.cli.bench_runs", "storage", str(n_points), str(path),
           "plain"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"storage worker ({n_points} points) failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def runner_overhead(scratch: Path, n_points: int = 10_000, repeats: int = 3) -> dict:
    """The Runner's own cost per point: tiny rows through the Runner and driven directly."""
    via, direct = [], []
    for k in range(repeats):
        made = StorageBench(n_points=n_points, trace_points=2)
        via.append(_run_timed(made, scratch / f"overhead-{k}.h5")["loop_s"] / (n_points - 1))
        times = _drive(StorageBench(n_points=n_points, trace_points=2), _sim_station(),
                       scratch / f"direct-{k}.h5")
        direct.append((times["produce"] + times["storage"]) / n_points)
    return {"points": n_points, "runner_s": statistics.median(via),
            "direct_s": statistics.median(direct)}


# ---- inspect ----------------------------------------------------------------------------------


def labctl_command() -> list[str]:
    """How to start the ``labctl`` console script of this interpreter."""
    script = Path(sys.executable).with_name("labctl")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from labctl.cli.main import main; "
                                  "sys.exit(main(sys.argv[1:]))"]


def _subprocess_s(cmd: list[str], repeats: int) -> tuple[float, subprocess.CompletedProcess]:
    times, proc = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{' '.join(cmd)} failed: {tail}")
    return statistics.median(times), proc


def inspect_bench(path: Path, n_points: int = 2000, repeats: int = 5) -> dict[str, Any]:
    """Write an ``n_points`` x 10001 run, then time read_info and a cold ``labctl inspect``."""
    from labctl.runfile import read_info

    made = _run_timed(StorageBench(n_points=n_points), path)
    warm = []
    for _ in range(21):  # the first call is the one a fresh process makes
        t0 = time.perf_counter()
        info = read_info(path)
        warm.append(time.perf_counter() - t0)
    if info["rows"].get("point") != n_points:
        raise RuntimeError(f"inspect: {info['rows']} rows, expected {n_points}")
    first = warm.pop(0)
    cli, proc = _subprocess_s([*labctl_command(), "inspect", str(path)], repeats)
    if f"{n_points} point" not in proc.stdout:
        raise RuntimeError(f"labctl inspect printed no row count:\n{proc.stdout}")
    startup, _ = _subprocess_s([sys.executable, "-c", "pass"], repeats)
    imports, _ = _subprocess_s([sys.executable, "-c", INSPECT_IMPORTS], repeats)
    return {"points": n_points, "file_mb": made["file_mb"], "write_s": made["wall_s"],
            "read_info_first_s": first, "read_info_s": statistics.median(warm), "cli_s": cli,
            "python_startup_s": startup, "imports_s": imports,
            "heaviest_imports": import_costs(INSPECT_IMPORTS)}


INSPECT_IMPORTS = "import labctl.cli.main, labctl.cli.inspect_cmd, labctl.runfile"


def import_costs(statement: str, top: int = 6) -> list[tuple[str, float]]:
    """Import time (s) of what ``statement`` loads, from ``python -X importtime``: third-party
    packages cumulative (nested ones overlap: numpy is inside h5py), labctl modules self."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                          capture_output=True, text=True, timeout=120)
    costs: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2].strip()
        if name.split(".")[0] == "labctl":
            costs[name] = int(fields[0]) / 1e6
        elif "." not in name and name not in ("site", "encodings"):
            costs[name] = max(costs.get(name, 0.0), int(fields[1]) / 1e6)
    return sorted(costs.items(), key=lambda kv: kv[1], reverse=True)[:top]


# ---- freq-current -----------------------------------------------------------------------------

I_START, I_STOP, I_STEP = 0.4e-3, 2.2e-3, 2e-6  # the default sweep at 2 µA: 901 points


def freq_current_procedure(n_points: int | None = None):
    """FreqCurrent with default parameters but a finer current step (901 points by default)."""
    from procedures.freq_current import FreqCurrent

    step = I_STEP if n_points is None else (I_STOP - I_START) / max(1, n_points - 1)
    return FreqCurrent(i_start=I_START, i_stop=I_STOP, i_step=step)


def freq_current_run(path: Path, n_points: int | None = None) -> dict[str, Any]:
    """FreqCurrent end to end through the Runner on the simulated station."""
    return _run_timed(freq_current_procedure(n_points), path)


def _timed(acc: dict[str, float], key: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[key] += time.perf_counter() - t0
    return wrapper


def _drive(procedure: Procedure, station, path: Path, after_next=None) -> dict[str, float]:
    """Run a procedure's generator in this thread, as the Runner would, minus the events."""
    from labctl.runfile import COMPLETED, RunFile

    rf = RunFile.create(path, procedure.schema(), {"procedure": procedure.name,
                                                   "parameters": procedure.values})
    times = defaultdict(float)
    generator = procedure.execute(RunContext(station, runfile=rf))
    try:
        while True:
            t0 = time.perf_counter()
            try:
                item = next(generator)
            except StopIteration:
                break
            t1 = time.perf_counter()
            kind = ("results" if isinstance(item, Results) else
                    "setup" if isinstance(item, Row) else "point")
            if after_next is not None:
                after_next(kind)
            if kind != "point":
                if kind == "setup":
                    rf.append(item.values, item.stream)
                times[kind] += time.perf_counter() - t0
            else:
                times["produce"] += t1 - t0
                rf.append(item)
                times["storage"] += time.perf_counter() - t1
                times["points"] += 1
    finally:
        generator.close()
        rf.close(COMPLETED)
        station.ramp_down()
    return times


def freq_current_breakdown(path: Path, n_points: int | None = None) -> dict[str, Any]:
    """Where a freq-current point's time goes: sections timed by wrapping the calls.

    The generator is driven synchronously (no runner, no events); the simulator's model,
    the roles' calls and the fit are wrapped with timers, and only the time spent while
    producing a main-stream row counts (the setup and the final threshold fit are separate).
    """
    import procedures.spectra as fc  # where the spectrum step calls the fit

    station, acc = _sim_station(), defaultdict(float)
    device, sp, src = station.sim.device, station.spectrum, station.shno_source
    device.spectrum = _timed(acc, "model", device.spectrum)
    sp.acquire = _timed(acc, "acquire", sp.acquire)
    src.ramp_to = _timed(acc, "source", src.ramp_to)
    src.read_voltage = _timed(acc, "source", src.read_voltage)
    station.field.read_field = _timed(acc, "gaussmeter", station.field.read_field)
    original = fc.analyse_spectrum
    fc.analyse_spectrum = _timed(acc, "fit", original)
    in_loop, before = defaultdict(float), {}

    def after_next(kind: str) -> None:  # charge a point only what producing it cost
        if kind == "point":
            for key, value in acc.items():
                in_loop[key] += value - before.get(key, 0.0)
        before.update(acc)

    try:
        times = _drive(freq_current_procedure(n_points), station, path, after_next)
    finally:
        fc.analyse_spectrum = original
    n = int(times["points"])
    per = {key: value / n for key, value in in_loop.items()}
    sections = {
        "spectrum model (DeviceModel.spectrum)": per.get("model", 0.0),
        "analyzer SCPI + trace transfer": per.get("acquire", 0.0) - per.get("model", 0.0),
        "SHNO source ramp + voltage (SCPI)": per.get("source", 0.0),
        "gaussmeter read (SCPI)": per.get("gaussmeter", 0.0),
        "fit + tracking (analyse_spectrum)": per.get("fit", 0.0),
        "storage (RunFile.append + flush)": times["storage"] / n,
    }
    produce = times["produce"] / n
    sections["procedure glue (rest of execute)"] = produce - sum(
        per.get(k, 0.0) for k in ("acquire", "source", "gaussmeter", "fit"))
    return {"points": n, "per_point_s": produce + times["storage"] / n, "sections": sections,
            "setup_s": times["setup"], "results_s": times["results"]}


def freq_current_profile(path: Path, n_points: int | None = None, top: int = 8) -> list[tuple]:
    """cProfile of the synchronous run: (own s per point, calls per point, function)."""
    station, procedure = _sim_station(), freq_current_procedure(n_points)
    profiler = cProfile.Profile()
    times = profiler.runcall(_drive, procedure, station, path)
    n = int(times["points"])
    stats = pstats.Stats(profiler).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [(own / n, calls / n, func if file == "~" else f"{_short(file)}:{line}({func})")
            for (file, line, func), (_, calls, own, _, _) in rows]


def _short(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("labctl", "procedures", "drivers", "h5py", "numpy", "scipy", "pymeasure"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return Path(file).name


# ---- spectrum model ---------------------------------------------------------------------------


def spectrum_bench(points: int = TRACE_POINTS, repeats: int = 300) -> dict[str, float]:
    """µs per DeviceModel.spectrum: the state changing every sweep, and one fixed state."""
    from labctl.clock import VirtualClock
    from labctl.sim.device import DeviceModel

    model = DeviceModel(clock := VirtualClock(), seed=1)
    model.magnet.set_supply_current(0.65 / model.params.coil_constant)
    clock.advance(10.0)
    model.stripe.source_current(1.5e-3, 5.0)
    args = (8e9, 12e9, points, 1e6, 1e5, 10)  # freq-current's default sweep
    model.spectrum(*args)
    t0 = time.perf_counter()
    for k in range(repeats):
        model.stripe.source_current(0.4e-3 + (k % 900) * 2e-6, 5.0)
        model.spectrum(*args)
    changing = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.spectrum(*args)
    same = (time.perf_counter() - t0) / repeats
    return {"points": points, "repeats": repeats, "new_state_us": changing * 1e6,
            "same_state_us": same * 1e6}


def _worker(argv: list[str]) -> int:
    """``python -m labctl.cli.bench_runs storage N FILE [plain]``: one storage run, one JSON
    line."""
    if len(argv) not in (3, 4) or argv[0] != "storage" or argv[3:] not in ([], ["plain"]):
        print("usage: python -m labctl.cli.bench_runs storage N_POINTS FILE [plain]",
              file=sys.stderr)
        return 2
    result = storage_run(int(argv[1]), Path(argv[2]), plain=argv[3:] == ["plain"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
