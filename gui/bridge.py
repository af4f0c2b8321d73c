"""Run events into the Qt event loop.

The runner publishes events from its worker thread; a Qt window must only touch widgets in
the GUI thread. :class:`RunEventBridge` re-emits every event as a queued signal.
:class:`EventBuffer` is what the window uses for live runs: the worker thread only appends to
a deque (well under a microsecond, so a run at thousands of points per second is not slowed),
and the GUI thread drains it at its own refresh rate, however fast the events come.
"""

from __future__ import annotations

import threading
from collections import deque

from PyQt5.QtCore import QObject, pyqtSignal

from labctl.events import RunEvent


class RunEventBridge(QObject):
    """Subscribe an instance to a runner (or replay bus); connect to ``event``."""

    event = pyqtSignal(object)  # a labctl.events.RunEvent

    def __call__(self, event: RunEvent) -> None:
        self.event.emit(event)


class EventBuffer(QObject):
    """A subscriber that queues events for the GUI thread; ``arrived`` fires once per batch."""

    arrived = pyqtSignal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._events: deque[RunEvent] = deque()
        self._signalled = threading.Event()

    def __call__(self, event: RunEvent) -> None:
        self._events.append(event)
        if not self._signalled.is_set():  # one queued signal per batch, not per event
            self._signalled.set()
            self.arrived.emit()

    def drain(self) -> list[RunEvent]:
        """Every event queued so far, oldest first."""
        self._signalled.clear()
        out = []
        events = self._events
        while events:
            out.append(events.popleft())
        return out

    def __len__(self) -> int:
        return len(self._events)
