"""Events and the bus that hands them to subscribers (GUI bridge, progress bar, scripts).

One stream carries what a lab does: runs, the queue and the station. Every event has a
``kind``, a ``time`` (epoch s), a ``source`` ("run", "queue" or "station") and its ``data``;
run events also carry their ``run_id``.

Subscribers are called in the thread that publishes (a run's or the queue's worker thread, or
the thread that drives the station by hand); a Qt window subscribes through a bridge that
re-emits each event as a queued signal. A failing subscriber is logged and dropped from that
event, never allowed to stop the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# run events
STARTED, POINT, ROW, PROGRESS, LOG, RESULTS, STATE, FINISHED = (
    "started", "point", "row", "progress", "log", "results", "state", "finished")
# queue events
QUEUE_STARTED, ENTRY_STARTED, ENTRY_FINISHED, QUEUE_FINISHED = (
    "queue_started", "entry_started", "entry_finished", "queue_finished")
# station events
READING, OUTPUT, OWNER = "reading", "output", "owner"


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One event of the lab's stream. ``data`` by kind:

    run (``source == "run"``, with ``run_id``):
    - started: path, procedure, parameters, schema (Schema), planned, start (resume row)
    - point: index, values (dict of the main-stream quantities), planned
    - row: stream, index, values
    - progress: done, planned, elapsed, rate (rows/s), remaining (s, None if unknown)
    - log: level, message
    - results: values
    - state: state (running, paused, aborting)
    - finished: status, reason, path, rows

    queue: queue_started (entries), entry_started (index, procedure, path),
    entry_finished (index, status, reason), queue_finished (status, reason)

    station: reading (reading: a StationReading), output (role, level, target, unit, done:
    one per ramp step), owner (owner: None, "run", "queue" or "manual")
    """

    kind: str
    run_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    source: str = "run"
    time: float = field(default_factory=time.time)


Event = RunEvent
Subscriber = Callable[[RunEvent], None]


def queue_event(kind: str, **data: Any) -> RunEvent:
    return RunEvent(kind, "", data, "queue")


def station_event(kind: str, **data: Any) -> RunEvent:
    return RunEvent(kind, "", data, "station")


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
                log.exception("event subscriber %r failed on %s", callback, event.kind)
