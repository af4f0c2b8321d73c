"""Handles on what a lab runs in its worker threads: control and status from any thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.runner import Runner


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its file, status (completed / aborted / failed), reason, results."""

    path: Path
    status: str
    reason: str
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


class RunHandle:
    """A run in progress: pause, unpause, abort, wait; state and outcome."""

    def __init__(self, runner: Runner):
        self._runner = runner

    @property
    def run_id(self) -> str:
        return self._runner.run_id

    @property
    def procedure(self):
        return self._runner.procedure

    @property
    def path(self) -> Path:
        return self._runner.path

    @property
    def state(self) -> str:
        """pending, running, paused, aborting or finished."""
        return self._runner.state

    @property
    def status(self) -> str:
        """pending or running until it ends, then completed, aborted or failed."""
        return self._runner.status

    @property
    def reason(self) -> str:
        return self._runner.reason

    @property
    def results(self) -> dict[str, Any]:
        return self._runner.results

    @property
    def rows(self) -> int:
        """Complete rows of the main stream so far."""
        return self._runner.rows

    def pause(self) -> None:
        """Hold after the point in progress (outputs stay where they are)."""
        self._runner.pause()

    def unpause(self) -> None:
        self._runner.unpause()

    def abort(self, reason: str = "aborted by user") -> None:
        """Stop after the step in progress; outputs ramp down; the file records ``reason``."""
        self._runner.abort(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended (outputs down, file closed, station released)."""
        return self._runner.wait(timeout)

    def result(self) -> RunResult:
        return RunResult(self.path, self.status, self.reason, dict(self.results))

    def __repr__(self) -> str:
        return f"<RunHandle {self.procedure.name} {self.state} -> {self.path}>"
