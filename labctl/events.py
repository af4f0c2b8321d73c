"""Run events and the bus that hands them to subscribers (GUI bridge, progress bar, scripts).

Subscribers are called in the thread that publishes (the run's worker thread); a Qt window
subscribes through a bridge that re-emits each event as a queued signal. A failing subscriber
is logged and dropped from that event, never allowed to stop the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

STARTED, POINT, ROW, PROGRESS, LOG, RESULTS, FINISHED = (
    "started", "point", "row", "progress", "log", "results", "finished")


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One event of a run. ``data`` by kind:

    - started: path, procedure, parameters, schema (Schema), planned, start (resume row)
    - point: index, values (dict of the main-stream quantities), planned
    - row: stream, index, values
    - progress: done, planned, elapsed, rate (rows/s)
    - log: level, message
    - results: values
    - finished: status, reason, path, rows
    """

    kind: str
    run_id: str
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[RunEvent], None]


class EventBus:
    """Thread-safe list of subscribers."""

    def __init__(self):
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def publish(self, event: RunEvent) -> None:
        for callback in self._subscribers:  # a snapshot: subscribe() replaces the list
            try:
                callback(event)
            except Exception:
                log.exception("run event subscriber %r failed on %s", callback, event.kind)
