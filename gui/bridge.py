"""Run events into the Qt event loop.

The runner publishes events from its worker thread; a Qt window must only touch widgets in
the GUI thread. The bridge is a subscriber whose signal is delivered through Qt's queued
connection, so slots run in the thread that owns the bridge (the GUI thread).
"""

from __future__ import annotations

from PyQt5.QtCore import QObject, pyqtSignal

from labctl.events import RunEvent


class RunEventBridge(QObject):
    """Subscribe an instance to a runner (or replay bus); connect to ``event``."""

    event = pyqtSignal(object)  # a labctl.events.RunEvent

    def __call__(self, event: RunEvent) -> None:
        self.event.emit(event)
