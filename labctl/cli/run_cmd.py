"""``labctl run``, ``resume``: one procedure on a station, with a progress bar.

Ctrl-C and SIGTERM abort the run: the outputs ramp down and the file records why.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from labctl.config import StationConfig
from labctl.diskspace import check_output
from labctl.events import FINISHED, LOG, PROGRESS, RunEvent
from labctl.runner import Runner
from labctl.station import open_station
from procedures.base import Procedure


def default_run_path(out: Path, procedure: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return out / f"{stamp}_{procedure}.h5"


@contextmanager
def abort_on_signals(runner: Runner):
    """While a run is active, SIGINT/SIGTERM abort it (ramp down, close the file)."""
    names = {signal.SIGINT: "interrupted by Ctrl-C (SIGINT)",
             signal.SIGTERM: "terminated by SIGTERM"}

    def handler(signum, frame):
        runner.abort(names.get(signum, f"signal {signum}"))

    previous = {s: signal.signal(s, handler) for s in names}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class ProgressBar:
    """Subscriber that draws a tqdm bar from progress events and prints warnings."""

    def __init__(self, title: str, planned: int | None, start: int, enabled: bool = True):
        self.bar = tqdm(total=planned, initial=start, desc=title, unit="pt",
                        disable=not enabled, dynamic_ncols=True, leave=True)

    def __call__(self, event: RunEvent) -> None:
        if event.kind == PROGRESS:
            self.bar.n = event.data["done"]
            self.bar.refresh()
        elif event.kind == LOG and event.data["level"] in ("warning", "error"):
            self.bar.write(f"{event.data['level']}: {event.data['message']}", file=sys.stderr)
        elif event.kind == FINISHED:
            self.bar.n = event.data["rows"]
            self.bar.close()


def run_procedure(procedure: Procedure, config: StationConfig, path: Path, *,
                  resume: bool = False, progress: bool = True, station=None) -> Runner:
    """Run (or resume) one procedure to completion in the foreground; return the runner."""
    procedure.check_station(config)  # bad input: nothing is connected or sent
    check_output(path, procedure.schema(), procedure.planned_points(), resume=resume)
    own_station = station is None
    if own_station:
        station = open_station(config)
    runner = Runner(procedure, station, path, resume=resume)
    start = 0
    if resume:
        from labctl.runfile import read_info

        start = read_info(path)["rows"].get(procedure.schema().main.name, 0)
    bar = ProgressBar(procedure.name, procedure.planned_points(), start, progress)
    runner.subscribe(bar)
    with abort_on_signals(runner):
        runner.start()
        while not runner.wait(0.1):  # short waits keep the main thread responsive to signals
            time.sleep(0)
    return runner
