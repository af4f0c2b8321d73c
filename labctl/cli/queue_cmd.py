"""``labctl queue FILE [--resume] [--sim] [--dry-run]``: run an overnight queue on a lab, and
print what it does (with --dry-run: what it would do, and how long it would take).

A thin client of the Lab (which validates the queue, keeps its state file and runs it in a
worker thread): Ctrl-C or SIGTERM at any moment stops the queue, the run in progress is
aborted safely and the rest stays pending. Exit code: 0 when every run completed, 1
otherwise, 2 for a bad queue file.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from labctl.cli.common import echo
from labctl.cli.plan_cmd import print_queue_plan, queue_estimate
from labctl.cli.run_cmd import ProgressBar
from labctl.events import ENTRY_FINISHED, ENTRY_STARTED, QUEUE_STARTED, RunEvent
from labctl.lab import interrupt_on_signals, open_lab, wait_aborting
from labctl.queue import PENDING, load_queue
from labctl.queuestate import check_queue_start, read_state
from labctl.runfile import ABORTED, COMPLETED, FAILED, RUNNING


class QueuePrinter:
    """Subscriber: a line when each run starts and ends, and each run's progress bar."""

    def __init__(self, file: Path, quiet: bool, config=None):
        self.file = file
        self.bar = ProgressBar(enabled=not quiet, config=config)

    def __call__(self, event: RunEvent) -> None:
        if event.source != "queue":
            self.bar(event)
            return
        data = event.data
        if event.kind == QUEUE_STARTED:
            if data["note"]:
                echo(data["note"])
            entries = data["entries"]
            todo = sum(r["status"] != COMPLETED for r in entries)
            echo(f"queue '{self.file}': {len(entries)} runs, {todo} to do; progress in "
                 f"'{data['state_path']}'")
        elif event.kind == ENTRY_STARTED:
            label = f" ({data['label']})" if data["label"] else ""
            note = f" [{data['note']}]" if data["note"] else ""
            echo(f"[{data['index']}/{data['total']}] {data['procedure']}{label} -> "
                 f"{data['path']}{note}")
        elif event.kind == ENTRY_FINISHED:
            echo(f"[{data['index']}/{data['total']}] {data['status']}: {data['reason']}")


def run_queue_file(file: Path, *, resume: bool = False, quiet: bool = False,
                   sim: bool = False, dry_run: bool = False) -> int:
    """Validate, then run (or carry on with) the queue in ``file``; return the exit code.

    ``sim``: on the simulated station, whatever station the file names, into ``<out>-sim``
    (so that a rehearsal never mixes with the real queue's runs and progress).
    ``dry_run``: print the plan and the estimate, open nothing.
    """
    from labctl.config import default_sim_station

    # every mistake in the file is found here, nothing is opened
    queue = load_queue(file, default_sim_station() if sim else None)
    if sim:
        queue = dataclasses.replace(queue, out=queue.out.with_name(queue.out.name + "-sim"))
    if dry_run:
        print_queue_plan(queue, measured_share(queue) if resume else None)
        return 0
    check_queue_start(queue, resume)  # its progress file, its out folder: still nothing open
    with open_lab(config=queue.station) as lab:
        if not quiet:
            share = measured_share(queue) if resume else None
            print(f"queue: estimated {queue_estimate(queue, share)}", file=sys.stderr)
        unsubscribe = lab.subscribe(QueuePrinter(file, quiet, queue.station))
        with interrupt_on_signals():
            handle = lab.start_queue(queue, resume=resume)
            wait_aborting(handle)
        unsubscribe()
    if handle.status not in (COMPLETED, FAILED):
        echo(f"queue stopped: {handle.reason}")
    for line in summary_table(handle.entries):
        echo(line)
    return 0 if handle.status == COMPLETED else 1


def measured_share(queue) -> dict[int, float]:
    """Run index -> share of it already measured, by the queue's progress file (if any)."""
    if not queue.state_path.exists():
        return {}
    share = {}
    for r in read_state(queue)["runs"]:
        planned = r.get("planned") or 0
        share[r["index"]] = 1.0 if r["status"] == COMPLETED else \
            min(1.0, r.get("rows", 0) / planned) if planned else 0.0
    return share


def summary_table(runs: list[dict]) -> list[str]:
    """One line per run: index, procedure, swept values, status, rows, run file."""
    rows = [("#", "procedure", "values", "status", "rows", "run file")]
    for r in runs:
        varied = ", ".join(f"{k}={_fmt(v)}" for k, v in (r.get("varied") or {}).items())
        planned = r.get("planned")
        count = f"{r.get('rows', 0)}/{planned}" if planned else str(r.get("rows", 0))
        path = Path(r["path"]).name if r.get("path") else "-"
        rows.append((str(r["index"]), r["procedure"], varied or "-", r["status"], count, path))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    counts = {s: sum(r["status"] == s for r in runs)
              for s in (COMPLETED, FAILED, ABORTED, RUNNING, PENDING)}
    lines.append(", ".join(f"{v} {k}" for k, v in counts.items() if v))
    return lines


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)
