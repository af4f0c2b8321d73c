"""Events and the bus that hands them to subscribers (GUI bridge, progress bar, scripts).

One stream carries what a lab does: runs, the queue and the station. Every event has a
``kind``, a ``time`` (epoch s), a ``source`` ("run", "queue" or "station") and its ``data``;
run events also carry their ``run_id``.

Subscribers are called in the thread that publishes (a run's or the queue's worker thread, or
the thread that drives the station by hand); a Qt window subscribes a buffer that its refresh
timer drains (gui.bridge.EventBuffer). A failing subscriber is logged and dropped from that
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
# station events (lost: a lab in another process ended without being closed)
READING, OUTPUT, OWNER, LOST = "reading", "output", "owner", "lost"


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
    one per ramp step), owner (owner: None, "run", "queue" or "manual"), lost (reason: the
    process of a remote lab ended unexpectedly)
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


def superseded(event: RunEvent) -> tuple | None:
    """What makes ``event`` out of date when a later event has it too (None: never): a ramp
    step by the next step of that output, a point or row by the next of that run and stream,
    a progress report by the next. A client that shows where things are now needs only the
    latest of each."""
    kind = event.kind
    if kind == OUTPUT and event.source == "station":
        return (OUTPUT, event.data.get("role"))
    if kind in (POINT, PROGRESS) and event.source == "run":
        return (kind, event.run_id)
    if kind == ROW and event.source == "run":
        return (ROW, event.run_id, event.data.get("stream"))
    return None


def latest_only(events: list[RunEvent], kinds: tuple[str, ...] = (OUTPUT,)) -> list[RunEvent]:
    """``events`` in order, without those of ``kinds`` that a later event supersedes."""
    seen: set = set()
    keep = []
    for event in reversed(events):
        key = superseded(event) if event.kind in kinds else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        keep.append(event)
    return keep[::-1]


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
