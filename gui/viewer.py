"""The window's centre: a tab per run shown (live, replayed, followed, opened, compared).

Live runs and replays arrive as run events through one :class:`~gui.bridge.EventBuffer`;
:meth:`RunTabs.tick` (the window's refresh timer) drains it, feeds each run's
:class:`~gui.rundata.RunData` and redraws the visible tab. Opened and followed files are read in
blocks by a :class:`~gui.runreader.RunReader`.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QSplitter, QTabWidget, QWidget

from gui.bridge import EventBuffer
from gui.rundata import RunData
from gui.runreader import RunReader
from gui.runview import RunView
from labctl.events import LOST, EventBus, latest_only

FOLLOW_INTERVAL = 0.5  # s between reads of a file another process is writing
# The run's worker and the GUI thread share the GIL (and PyQt holds it while Qt paints): the
# share of a core the GUI thread uses is what a live run loses. Above this share, refreshes
# are skipped (the events are still taken in), but never for longer than MAX_SKIP.
DISPLAY_BUDGET = 0.15
MAX_SKIP = 0.1  # s: the display never falls below 10 refreshes per second
LIVE = "live"


class RunTabs(QTabWidget):
    """Tabs of run views; the first (``live``) shows the run the window's Lab is running."""

    log_line = pyqtSignal(str, str, str)  # source, level, message
    run_finished = pyqtSignal(str, str)  # status, reason (live runs)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTabsClosable(True)
        self.tabCloseRequested.connect(self.close_tab)
        self.currentChanged.connect(lambda _: self.refresh(force=True))
        self.buffer = EventBuffer(self)
        self.live = RunView()
        self.addTab(self.live, "Live")
        self.tabBar().setTabButton(0, self.tabBar().RightSide, None)  # never closed
        self.runs: dict[str, tuple[RunData, RunView]] = {}  # by run_id
        self.readers: list[tuple[RunReader, RunView]] = []  # followed files
        self.live_files: dict[str, RunReader] = {}  # by run_id: live runs read from their file
        self._replays: dict[str, threading.Event] = {}
        self._tags = itertools.count(1)
        self._last_follow = 0.0
        # what the display has shown (for the GUI benchmark): refreshes and lag of each batch
        self.refreshes = 0
        self.lags: list[float] = []
        self.shown_points = 0
        self.listeners: list = []  # called with every event in the GUI thread (panels)
        self._cpu_mark = (time.thread_time(), time.perf_counter())
        self.duty = 0.0  # smoothed share of a core the GUI thread used
        self._last_refresh = 0.0
        self._unshown = None  # publication time of the oldest event not drawn yet
        self.skipped = 0
        self.metadata: dict[str, dict] = {}  # run file -> sample, device ... (from the launcher)

    # ---- opening runs ----------------------------------------------------------------------
    def _add_view(self, title: str, data: RunData | None = None) -> RunView:
        view = RunView()
        if data is not None:
            view.set_data(data)
        self.addTab(view, title)
        self.setCurrentWidget(view)
        return view

    def note_metadata(self, path: str, metadata: dict) -> None:
        """Sample, device ... of a run about to start (its started event does not carry them)."""
        self.metadata[path] = {k: v for k, v in metadata.items() if v}

    def show_file(self, path: str | Path) -> RunView:
        """The whole run at once, read in blocks."""
        reader = RunReader(path)
        reader.poll()
        return self._add_view(Path(path).name, reader.data)

    def follow_file(self, path: str | Path) -> RunView:
        """A run another process is writing: re-read every FOLLOW_INTERVAL until it ends."""
        reader = RunReader(path)
        reader.poll()
        view = self._add_view(f"following {Path(path).name}", reader.data)
        if not reader.finished:
            self.readers.append((reader, view))
        return view

    def replay_file(self, path: str | Path, speed: float | None) -> str:
        """Replay in a thread through the event stream; returns the replay's tag."""
        from labctl.replay import replay

        tag = f"replay-{next(self._tags)}"
        stop = threading.Event()
        self._replays[tag] = stop
        bus = EventBus()
        buffer = self.buffer
        bus.subscribe(lambda e: buffer(replace(e, run_id=tag)))

        def work() -> None:
            try:
                replay(path, bus, speed=speed, stop=stop)
            except Exception as err:  # a damaged file: say so in the log, not a crash
                self.log_line.emit("replay", "error", f"{Path(path).name}: {err}")

        threading.Thread(target=work, name=tag, daemon=True).start()
        return tag

    def compare_files(self, a: str | Path, b: str | Path) -> tuple[RunView, RunView]:
        split = QSplitter(Qt.Horizontal)
        views = []
        for path in (a, b):
            reader = RunReader(path)
            reader.poll()
            view = RunView()
            split.addWidget(view)
            view.set_data(reader.data)
            views.append(view)
        self.addTab(split, f"{Path(a).stem[-12:]} | {Path(b).stem[-12:]}")
        self.setCurrentWidget(split)
        split.views = views
        self.refresh(force=True)
        return views[0], views[1]

    def close_tab(self, index: int) -> None:
        widget = self.widget(index)
        if widget is self.live:
            return
        for tag, (_, view) in list(self.runs.items()):
            if view is widget:
                if tag in self._replays:
                    self._replays.pop(tag).set()
                del self.runs[tag]
        self.readers = [(r, v) for r, v in self.readers if v is not widget]
        self.removeTab(index)
        widget.deleteLater()

    def stop_replays(self) -> None:
        for stop in self._replays.values():
            stop.set()

    # ---- the refresh tick ------------------------------------------------------------------
    def tick(self) -> None:
        """Take every queued event, read followed files when due, redraw the visible view."""
        cpu, wall = time.thread_time(), time.perf_counter()
        c0, w0 = self._cpu_mark
        if wall > w0:
            self.duty = 0.7 * self.duty + 0.3 * (cpu - c0) / (wall - w0)
        self._cpu_mark = (cpu, wall)
        events = self.buffer.drain()
        if events and self._unshown is None:
            self._unshown = events[0].time
        self._take_all([e for e in events if getattr(e, "source", "run") == "run"])
        for event in events:  # first, whatever a listener may do: no live run goes on
            if event.kind == LOST:
                self._lost(event.data.get("reason", ""))
        for event in latest_only(events):  # a ramp: only where it is now
            for listener in self.listeners:
                listener(event)
        for reader in self.live_files.values():
            reader.poll()
        if self.live.data is not None:
            self.shown_points = self.live.data.points
        now = time.monotonic()
        if self.readers and now - self._last_follow >= FOLLOW_INTERVAL:
            self._last_follow = now
            for reader, _ in self.readers:
                reader.poll()
            self.readers = [(r, v) for r, v in self.readers if not r.finished]
        live = self.live.data
        in_process = live is not None and live.info.get("path") not in self._live_paths()
        if (in_process and live.status == "running" and self.duty > DISPLAY_BUDGET
                and wall - self._last_refresh < MAX_SKIP):
            self.skipped += 1  # the run comes first: this refresh waits for the next tick
            return
        if self.refresh():
            self._last_refresh = wall
            self.refreshes += 1
            if self._unshown is not None:
                self.lags.append(time.time() - self._unshown)
                self._unshown = None

    def _take_all(self, events: list) -> None:
        """Run events in order; consecutive points of one run go into its data as one block."""
        points: list = []
        for event in events:
            if event.kind == "point" and (not points or points[-1].run_id == event.run_id):
                points.append(event)
                continue
            if points:
                self._take_points(points)
            points = [event] if event.kind == "point" else []
            if not points:
                self._take(event)
        if points:
            self._take_points(points)

    def _take_points(self, events: list) -> None:
        entry = self.runs.get(events[0].run_id)
        if entry is None:
            return
        data = entry[0]
        data.planned = events[-1].data.get("planned") or data.planned
        if events[0].run_id not in self.live_files:  # else the rows are read from its file
            data.add_points([(e.data["index"], e.data["values"]) for e in events])

    def _live_paths(self) -> set:
        return {str(r.path) for r in self.live_files.values()}

    def _end_live_file(self, tag: str) -> None:
        """The run ended: its last rows, read from the file its writer has closed."""
        reader = self.live_files.pop(tag, None)
        if reader is not None:
            reader.close()
            reader.keep_open = False
            reader.poll()

    def _lost(self, reason: str) -> None:
        """The lab process ended: what its live runs' files hold is all there is."""
        for tag in list(self.live_files):
            data = self.live_files[tag].data
            self._end_live_file(tag)
            if data.status == "running":
                data.status, data.reason = "lost", reason
                data.version += 1

    def _take(self, event) -> None:
        kind, tag = event.kind, event.run_id
        if kind == "started":
            data = RunData.from_started(event.data)
            data.info.update(self.metadata.pop(event.data.get("path", ""), {}))
            if event.data.get("replay"):
                view = self._add_view(f"replay {Path(event.data['path']).name}", data)
            else:
                view = self.live
                view.set_data(data)
                self.setCurrentWidget(view)
            if event.data.get("rows_in_file"):  # a run of a lab in another process
                self.live_files[tag] = RunReader(event.data["path"], data, keep_open=True)
            self.runs[tag] = (data, view)
            return
        entry = self.runs.get(tag)
        if entry is None:
            return
        data = entry[0]
        if kind != "row" or tag not in self.live_files:  # rows: read from the file
            data.feed(event)
        if kind == "finished":
            self._end_live_file(tag)
        if kind == "log" and not event.data.get("replay"):
            self.log_line.emit("run", event.data["level"], event.data["message"])
        if kind == "finished":
            self._replays.pop(tag, None)
            if not event.data.get("replay"):
                self.run_finished.emit(event.data["status"], event.data["reason"])

    def refresh(self, force: bool = False) -> bool:
        """Redraw the current tab; True if something was redrawn."""
        widget = self.currentWidget()
        views = getattr(widget, "views", [widget])
        changed = False
        for view in views:
            if isinstance(view, RunView) and view.data is not None:
                before = view.data.version
                changed |= force or getattr(view, "_shown", None) != before
                view.refresh(force=force)
                view._shown = before
        return changed

    def current_view(self) -> RunView | None:
        widget = self.currentWidget()
        return widget if isinstance(widget, RunView) else None
