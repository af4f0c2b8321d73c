"""``labctl run``, ``resume``: one procedure on a lab's station, with a progress bar.

A thin client of the Lab: it turns Ctrl-C and SIGTERM into an abort of the run (outputs ramp
down, the file records why) and draws the lab's run events as a progress bar.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from labctl.config import StationConfig
from labctl.duration import Plan, format_duration, ramp_steps
from labctl.errors import LabctlError
from labctl.events import FINISHED, LOG, OUTPUT, PROGRESS, STARTED, RunEvent
from labctl.lab import Lab, RunHandle, interrupt_on_signals, wait_aborting
from labctl.procedure import Procedure
from labctl.registry import procedure_class

LONG_RAMP = 5.0  # s: a magnet ramp at least this long gets a bar of its own


class RampBar:
    """Subscriber that draws a bar while the magnet ramps for long (station ``output`` events:
    role, level, target, one per ramp step)."""

    def __init__(self, config: StationConfig | None, enabled: bool = True):
        self.config = config
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.target: float | None = None

    def __call__(self, event: RunEvent, position: int = 0) -> None:
        data = event.data
        if event.kind != OUTPUT or data["role"] != "field" or self.config is None:
            return
        if self.bar is not None and data["target"] != self.target:
            self.close()  # a new ramp (an interrupted one sends no last step)
        if self.bar is None:
            lim = self.config.field.limits
            steps = ramp_steps(data["target"] - data["level"], lim.max_ramp_rate * lim.step_time)
            if data["done"] or (steps + 1) * lim.step_time < LONG_RAMP:
                return
            self.target = data["target"]
            self.bar = tqdm(total=steps + 1, desc="magnet", unit="step", leave=False,
                            position=position, disable=not self.enabled, dynamic_ncols=True,
                            postfix=self._where(data),
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                       "[{elapsed}<{remaining}{postfix}]")
        else:
            self.bar.set_postfix_str(self._where(data), refresh=False)
        self.bar.update(1)
        if data["done"]:
            self.close()

    @staticmethod
    def _where(data: dict) -> str:
        return f"{data['level']:.3f} {data['unit']} → {data['target']:.3f} {data['unit']}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = self.target = None


class ProgressBar:
    """Subscriber that draws a tqdm bar for each run (its time remaining), one for long magnet
    ramps (with the station ``config``), and prints the run's warnings."""

    def __init__(self, enabled: bool = True, config: StationConfig | None = None):
        self.enabled = enabled
        self.config = config
        self.bar: tqdm | None = None
        self.plan: Plan | None = None
        self.start = 0
        self.ramp = RampBar(config, enabled)

    def __call__(self, event: RunEvent) -> None:
        if event.source == "station":
            self.ramp(event, position=0 if self.bar is None else 1)
            return
        if event.source != "run":
            return
        if event.kind == STARTED:
            self.plan, self.start = self._plan(event.data), event.data["start"]
            # with a plan, the time left is the plan's, at the pace kept so far (tqdm's own
            # would count the magnet's first ramp as the time of a point)
            fmt = None if self.plan is None else \
                "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
            self.bar = tqdm(total=event.data["planned"], initial=event.data["start"],
                            desc=event.data["procedure"], unit="pt", bar_format=fmt,
                            postfix=None if self.plan is None else "time left: estimating",
                            disable=not self.enabled, dynamic_ncols=True, leave=True)
        elif self.bar is None:
            if event.kind == LOG and event.data["level"] in ("warning", "error"):
                print(f"{event.data['level']}: {event.data['message']}", file=sys.stderr)
        elif event.kind == PROGRESS:
            self.bar.n = event.data["done"]
            if self.plan is not None:
                left = self.plan.remaining(event.data["done"], self.start, event.data["elapsed"])
                if left is not None:
                    self.bar.set_postfix_str(f"{format_duration(left)} left", refresh=False)
            self.bar.refresh()
        elif event.kind == LOG and event.data["level"] in ("warning", "error"):
            self.bar.write(f"{event.data['level']}: {event.data['message']}", file=sys.stderr)
        elif event.kind == FINISHED:
            self.ramp.close()
            self.bar.n = event.data["rows"]
            self.bar.close()
            self.bar = None


    def _plan(self, started: dict) -> Plan | None:
        """The run's plan on this station (None: no station known, or no estimate)."""
        if self.config is None:
            return None
        try:
            proc = procedure_class(started["procedure"])(**started["parameters"])
            plan = proc.plan(self.config)
        except LabctlError:  # a progress bar never stops a run
            return None
        return plan if plan.known and plan.rows else None


def run_procedure(lab: Lab, procedure: Procedure, path: Path, *, resume: bool = False,
                  progress: bool = True, metadata: dict[str, Any] | None = None) -> RunHandle:
    """Run (or resume) one procedure to its end in the foreground; Ctrl-C/SIGTERM abort it."""
    unsubscribe = lab.subscribe(ProgressBar(progress, lab.config))
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
