"""``--dry-run``: what a run or a queue will do and how long it will take, before anything is
opened (no station lock, no instrument session, no file written)."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from labctl.cli.common import echo
from labctl.duration import Plan, format_duration

if TYPE_CHECKING:
    from labctl.config import StationConfig
    from labctl.procedure import Procedure
    from labctl.queue import Queue


def station_name(config: StationConfig) -> str:
    return config.source or config.name


def print_run_plan(proc: Procedure, config: StationConfig, *, dry_run: bool,
                   quiet: bool = False) -> Plan:
    """The plan of one run: in full for a dry run, else its estimate on one line (stderr,
    beside the progress bar)."""
    plan = proc.plan(config)
    if dry_run:
        echo(f"dry run: {proc.name} on the {station_name(config)}; nothing is sent to an "
             "instrument")
        for line in plan.describe():
            echo(line)
    elif not quiet:
        points = proc.planned_points()
        count = f"{points} points, " if points else ""
        print(f"{proc.name}: {count}estimated {plan.summary()}", file=sys.stderr)
    return plan


def print_resume_plan(proc: Procedure, config: StationConfig, path) -> None:
    """Where a resumed run picks up and how long the rest will take (stderr, one line)."""
    from labctl.runfile import read_info

    done = int(read_info(path)["rows"].get(proc.schema().main.name, 0))
    plan = proc.plan(config)
    total = len(plan.rows) or proc.planned_points() or 0
    if plan.known and plan.rows and 0 < done <= len(plan.rows):
        left = (f"estimated {'at most ' if plan.upper else ''}"
                f"{format_duration(max(0.0, plan.seconds - plan.rows[done - 1]))} left")
    elif plan.known:
        left = f"estimated {plan.summary()}"
    else:
        left = "duration unknown"
    of = f" of {total}" if total else ""
    print(f"{proc.name}: resuming after point {done}{of}, {left}", file=sys.stderr)


def print_queue_plan(queue: Queue, done: dict[int, float] | None = None) -> None:
    """Every run of the queue with its points and estimate, and the total.

    ``done``: run index -> share of it already measured (from the queue's progress file).
    """
    done = done or {}
    echo(f"dry run: queue '{queue.path}' on the {station_name(queue.station)}, "
         f"{len(queue.runs)} runs into '{queue.out}'; nothing is sent to an instrument")
    rows = [("#", "procedure", "values", "points", "estimate")]
    for run, plan, left in queue_plans(queue, done):
        points = run.instance.planned_points()
        estimate = "done" if left <= 0 else ("at most " if plan.upper else "") + \
            format_duration(plan.seconds * left) + (
                f" (of {format_duration(plan.seconds)})" if 0 < left < 1 else "")
        rows.append((str(run.index), run.procedure, run.label or "-",
                     str(points) if points else "-", estimate))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for r in rows:
        echo("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    echo(f"  total: {queue_estimate(queue, done)}")


def queue_plans(queue: Queue, done: dict[int, float]):
    """(run, its plan, share of it still to measure) for every run of the queue."""
    for run in queue.runs:
        yield run, run.instance.plan(queue.station), 1.0 - done.get(run.index, 0.0)


def queue_estimate(queue: Queue, done: dict[int, float] | None = None) -> str:
    """The time the queue (what is left of it) will take: ``at most 35 min 55 s``."""
    total, upper, unknown = 0.0, False, 0
    for _, plan, left in queue_plans(queue, done or {}):
        if left <= 0:
            continue
        if math.isfinite(plan.seconds):
            total += plan.seconds * left
        else:
            unknown += 1
        upper |= plan.upper
    note = f" (+ {unknown} run(s) of unknown length)" if unknown else ""
    return f"{'at most ' if upper else ''}{format_duration(total)}{note}"
