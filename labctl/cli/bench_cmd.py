"""``labctl bench``: run the benchmarks of :mod:`labctl.cli.bench_runs` and print their tables.

Kinds: storage (1,000 / 10,000 / 100,000 points, or --points N), inspect (a 2,000-point run),
freq-current (901 points), spectrum, all. Scratch files go to a temporary folder (inside
--out if given) that is deleted afterwards. Exit 0 when every measurement ran (a missed
target is reported, not an error), 1 when one failed, 2 on a usage mistake.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labctl.cli import bench_runs as bench

KINDS = ("storage", "inspect", "freq-current", "spectrum", "gui")
STORAGE_SIZES = (1_000, 10_000, 100_000)
INSPECT_POINTS = 2_000
INSPECT_REPEATS = 5  # cold `labctl inspect` processes; the median is shown
SMALL_REPEATS = 3  # runs of up to 10,000 points are repeated; the median run is shown
BIG_RUN_BYTES = 1e9  # a run this big needs MIN_FREE_BYTES free
MIN_FREE_BYTES = 10e9
TARGET_POINTS_PER_S = 10_000
TARGET_PEAK_MB = 250
TARGET_INSPECT_S = 0.3


def _echo(line: str = "") -> None:
    print(line)
    sys.stdout.flush()


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _free_space_problem(folder: Path, n_points: int) -> str:
    """Why a run of ``n_points`` should not be written to ``folder`` ('' if it may)."""
    need = n_points * bench.row_bytes()
    free = shutil.disk_usage(folder).free
    floor = MIN_FREE_BYTES if need >= BIG_RUN_BYTES else 2 * need + 100e6
    if free < floor:
        return (f"skipped: only {free / 1e9:.1f} GB free in {folder}, a {need / 1e9:.1f} GB "
                f"run needs {floor / 1e9:.0f} GB free")
    return ""


def storage(scratch: Path, points: int | None) -> None:
    sizes = (points,) if points else STORAGE_SIZES
    _echo("== storage: Runner + RunFile, one flush per point, on the simulated station ==")
    _echo(f"   each point: a {bench.TRACE_POINTS}-point float32 spectrum + "
          f"{len(bench.SCALARS)} float64 scalars, precomputed (no instrument in the loop); "
          "one fresh process per run")
    _echo(f"   {'points':>7} {'run s':>6} {'points/s':>8} {'first 10%':>9} {'last 10%':>8} "
          f"{'file MB':>7} {'MB/s':>5} {'plain MB/s':>10} {'peak MB':>7} {'growth MB':>9}  runs")
    results = []
    for n in sizes:
        problem = _free_space_problem(scratch, n)
        if problem:
            _echo(f"   {n:>8} {problem}")
            continue
        runs = []
        for k in range(SMALL_REPEATS if n <= 10_000 else 1):
            path = scratch / f"storage-{n}-{k}.h5"
            try:
                runs.append(bench.storage_subprocess(n, path))
            finally:
                path.unlink(missing_ok=True)
        runs.sort(key=lambda r: r["points_per_s"])
        r = runs[len(runs) // 2]
        spread = f"{runs[0]['points_per_s']:.0f}-{runs[-1]['points_per_s']:.0f}/s"
        r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs)
        results.append(r)
        _echo(f"   {n:>7} {r['wall_s']:>6.2f} {r['points_per_s']:>8.0f} "
              f"{r['first10_points_per_s']:>9.0f} {r['last10_points_per_s']:>8.0f} "
              f"{r['file_mb']:>7.0f} {r['mb_per_s']:>5.0f} {r['plain_mb_per_s']:>10.0f} "
              f"{r['peak_rss_mb']:>7.0f} {r['peak_rss_mb'] - r['rss_before_mb']:>9.1f}  "
              f"{f'median of {len(runs)} ({spread})' if len(runs) > 1 else '1'}")
    if results:
        big = max(results, key=lambda r: r["points"])
        _echo(f"   target >= {TARGET_POINTS_PER_S} points/s: {big['points_per_s']:.0f} at "
              f"{big['points']} points ({_verdict(big['points_per_s'] >= TARGET_POINTS_PER_S)})"
              f"; target peak <= {TARGET_PEAK_MB} MB: {big['peak_rss_mb']:.0f} MB "
              f"({_verdict(big['peak_rss_mb'] <= TARGET_PEAK_MB)})")
        plain_last = big["plain_last10_mb_per_s"]
        _echo(f"   the disk at {big['points']} points: a plain write of the same bytes ran at "
              f"{big['plain_mb_per_s']:.0f} MB/s overall, {plain_last:.0f} MB/s over its last "
              f"10% (= {plain_last * 1e6 / bench.row_bytes():.0f} points/s)")
    try:
        o = bench.runner_overhead(scratch, min(points or 10_000, 10_000))
    finally:
        for path in [*scratch.glob("overhead-*.h5"), *scratch.glob("direct-*.h5")]:
            path.unlink()
    _echo(f"   the Runner's own cost ({o['points']} rows of a 2-point trace, median of 3): "
          f"{o['runner_s'] * 1e6:.1f} µs/point through the Runner, {o['direct_s'] * 1e6:.1f} µs "
          f"driving the procedure directly ({(o['runner_s'] - o['direct_s']) * 1e6:+.1f} µs)")
    _echo("   points/s, MB/s: whole run (create to close); first/last 10%: points/s over the "
          "first and last tenth of the points;\n   plain MB/s: the same bytes written to a plain "
          "file in one write per point (the disk's pace, no HDF5);\n   peak MB: ru_maxrss of "
          "the run's process; growth: peak minus ru_maxrss just before the run started")


def inspect(scratch: Path, points: int | None) -> None:
    n = points or INSPECT_POINTS
    _echo(f"== inspect: read_info and `labctl inspect` on a {n} x {bench.TRACE_POINTS} run ==")
    path = scratch / f"inspect-{n}.h5"
    problem = _free_space_problem(scratch, n)
    if problem:
        _echo(f"   {problem}")
        return
    try:
        r = bench.inspect_bench(path, n, INSPECT_REPEATS)
    finally:
        path.unlink(missing_ok=True)
    _echo(f"   run file: {r['file_mb']:.0f} MB, written in {r['write_s']:.2f} s")
    _echo(f"   read_info, first call in process   {r['read_info_first_s'] * 1e3:8.1f} ms")
    _echo(f"   read_info, median of 20 calls      {r['read_info_s'] * 1e3:8.1f} ms")
    _echo(f"   labctl inspect, cold process       {r['cli_s'] * 1e3:8.1f} ms  "
          f"(median of {INSPECT_REPEATS})")
    _echo(f"     of which python startup          {r['python_startup_s'] * 1e3:8.1f} ms")
    _echo(f"     of which imports (startup incl.) {r['imports_s'] * 1e3:8.1f} ms")
    _echo("     heaviest imports (packages cumulative, labctl modules self): " + ", ".join(
        f"{name} {seconds * 1e3:.0f}" for name, seconds in r["heaviest_imports"]) + " ms")
    _echo(f"   target < {TARGET_INSPECT_S * 1e3:.0f} ms: read_info "
          f"{_verdict(r['read_info_first_s'] < TARGET_INSPECT_S)}, labctl inspect "
          f"{_verdict(r['cli_s'] < TARGET_INSPECT_S)} (file in the OS page cache)")


def freq_current(scratch: Path, points: int | None) -> None:
    _echo("== freq-current: FreqCurrent on the simulated station through the drivers, "
          "fitting on ==")
    runs, breakdowns = [], []
    try:
        for k in range(SMALL_REPEATS):  # interleaved, so that a burst of load hits both alike
            runs.append(bench.freq_current_run(scratch / f"fc-runner-{k}.h5", points))
            breakdowns.append(bench.freq_current_breakdown(scratch / f"fc-parts-{k}.h5", points))
        profile = bench.freq_current_profile(scratch / "fc-profile.h5", points)
    finally:
        for path in scratch.glob("fc-*.h5"):
            path.unlink()
    runs.sort(key=lambda r: r["points_per_s"])
    run = runs[len(runs) // 2]
    parts = sorted(breakdowns, key=lambda r: r["per_point_s"])[len(runs) // 2]
    n = run["points"]
    i_th = run["results"].get("threshold_current", float("nan"))
    _echo(f"   Runner: {n} points in {run['wall_s']:.2f} s = {run['points_per_s']:.0f} "
          f"points/s ({run['loop_points_per_s']:.0f}/s in the point loop), "
          f"{run['file_mb']:.0f} MB; median of {len(runs)} runs "
          f"({runs[0]['points_per_s']:.0f}-{runs[-1]['points_per_s']:.0f}/s); fitted threshold "
          f"{i_th * 1e3:.3f} mA")
    cpus = sorted(r["loop_cpu_s_per_point"] for r in runs)
    _echo(f"   CPU (less sensitive to load than the wall clock): {run['cpu_s']:.2f} s for the "
          f"run, {cpus[len(cpus) // 2] * 1e6:.0f} µs per point in the loop (worker thread; "
          f"{cpus[0] * 1e6:.0f}-{cpus[-1] * 1e6:.0f} over the runs)")
    per = parts["per_point_s"]
    runner_per = run["loop_s"] / max(1, n - 1)
    _echo(f"   per point, procedure driven synchronously ({parts['points']} points, median of "
          f"{len(breakdowns)} runs):")
    for name, seconds in parts["sections"].items():
        _echo(f"     {name:40s} {seconds * 1e6:8.0f} µs {100 * seconds / per:5.1f} %")
    _echo(f"     {'total (synchronous)':40s} {per * 1e6:8.0f} µs")
    _echo(f"     {'Runner loop, for comparison':40s} {runner_per * 1e6:8.0f} µs   (the Runner's "
          "own cost is measured in `storage`; the rest of a difference is run-to-run noise)")
    _echo(f"   once per run: setup {parts['setup_s'] * 1e3:.0f} ms (field, gate, analyzer, "
          f"background), threshold fit {parts['results_s'] * 1e3:.0f} ms")
    _echo("   top functions by own time (cProfile, synchronous run, per point):")
    for own, calls, where in profile:
        _echo(f"     {own * 1e6:8.0f} µs {calls:7.1f} calls  {where}")


def spectrum(scratch: Path, points: int | None) -> None:
    r = bench.spectrum_bench()
    _echo(f"== spectrum: DeviceModel.spectrum, {r['points']} points, 8-12 GHz, RBW 1 MHz, "
          "10 averages ==")
    _echo(f"   state changing every sweep (a current sweep) {r['new_state_us']:8.0f} µs/call")
    _echo(f"   same state (repeated sweep, new noise only)  {r['same_state_us']:8.0f} µs/call")


def gui(scratch: Path, points: int | None) -> None:
    """The GUI's live display, opening a recorded run, memory (gui.bench)."""
    from gui.bench import run_all

    run_all(scratch, points or 20_000)


RUNNERS: dict[str, Callable[[Path, int | None], None]] = {
    "storage": storage, "inspect": inspect, "freq-current": freq_current, "spectrum": spectrum,
    "gui": gui}


def run_bench(kind: str = "all", points: int | None = None, out: Path | None = None) -> int:
    """Run one benchmark kind (or all); print tables; return the exit code."""
    kinds = KINDS if kind == "all" else (kind,)
    if any(k not in RUNNERS for k in kinds):
        print(f"labctl: error: bench kind {kind!r}: choose one of {', '.join(KINDS)}, all",
              file=sys.stderr)
        return 2
    if points is not None and points < 2:
        print(f"labctl: error: --points {points}: need at least 2", file=sys.stderr)
        return 2
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="labctl-bench-", dir=out))
    code = 0
    t0 = time.perf_counter()
    try:
        for k in kinds:
            try:
                RUNNERS[k](scratch, points)
            except Exception as err:  # report and go on with the other kinds
                _echo(f"   {k}: FAILED: {type(err).__name__}: {err}")
                code = 1
            _echo()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _echo(f"bench {kind}: {time.perf_counter() - t0:.0f} s")
    return code
