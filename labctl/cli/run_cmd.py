"""``labctl run``, ``resume``: one procedure on a lab's station, with a progress bar.

A thin client of the Lab: it turns Ctrl-C and SIGTERM into an abort of the run (outputs ramp
down, the file records why) and draws the lab's run events as a progress bar.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from labctl.events import FINISHED, LOG, PROGRESS, STARTED, RunEvent
from labctl.lab import Lab, RunHandle, interrupt_on_signals, wait_aborting
from labctl.procedure import Procedure


class ProgressBar:
    """Subscriber that draws a tqdm bar for each run and prints its warnings."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, event: RunEvent) -> None:
        if event.source != "run":
            return
        if event.kind == STARTED:
            self.bar = tqdm(total=event.data["planned"], initial=event.data["start"],
                            desc=event.data["procedure"], unit="pt",
                            disable=not self.enabled, dynamic_ncols=True, leave=True)
        elif self.bar is None:
            if event.kind == LOG and event.data["level"] in ("warning", "error"):
                print(f"{event.data['level']}: {event.data['message']}", file=sys.stderr)
        elif event.kind == PROGRESS:
            self.bar.n = event.data["done"]
            self.bar.refresh()
        elif event.kind == LOG and event.data["level"] in ("warning", "error"):
            self.bar.write(f"{event.data['level']}: {event.data['message']}", file=sys.stderr)
        elif event.kind == FINISHED:
            self.bar.n = event.data["rows"]
            self.bar.close()
            self.bar = None


def run_procedure(lab: Lab, procedure: Procedure, path: Path, *, resume: bool = False,
                  progress: bool = True, metadata: dict[str, Any] | None = None) -> RunHandle:
    """Run (or resume) one procedure to its end in the foreground; Ctrl-C/SIGTERM abort it."""
    unsubscribe = lab.subscribe(ProgressBar(progress))
    try:
        with interrupt_on_signals():
            if resume:
                handle = lab.resume(path)
            else:
                handle = lab.start(procedure, path=path, **(metadata or {}))
            wait_aborting(handle)
    finally:
        unsubscribe()
    return handle
