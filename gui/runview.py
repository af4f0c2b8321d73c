"""The plots of one run in one widget: a header with status and progress, the plots below.

The first plot of the run's definitions (the map, the I–V loops) takes the left half; the
second the top right; the others share tabs below it. Live runs, replays, followed files and
runs opened from the browser all show in a RunView.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.plotdefs import plots_for
from gui.plots import make_plot
from gui.plots.base import RunPlot, live_label
from gui.rundata import RunData
from labctl.units import format_value

HEADER_INTERVAL = 0.25  # s between updates of the progress bar and rate during a run


def duration_text(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunView(QWidget):
    """Header + plots of one :class:`RunData`; :meth:`refresh` redraws what is visible."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.data: RunData | None = None
        self.plots: list[RunPlot] = []
        self._kinds: tuple = ()
        self.heading = QLabel("no run")
        self.heading.setTextFormat(Qt.RichText)
        # a long file name or reason must not widen the window: the label is cut instead
        self.heading.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.heading.setMinimumWidth(200)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v / %m points")
        self.rate = live_label(220)
        top = QHBoxLayout()
        top.setContentsMargins(6, 2, 6, 2)
        top.addWidget(self.heading, 1)
        top.addWidget(self.rate)
        top.addWidget(self.progress)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        self.split = self.right = self.tabs = None
        self._header_at = -1e9

    def set_data(self, data: RunData | None) -> None:
        """Show ``data``; the plots are rebuilt only when the run's plot definitions change."""
        self.data = data
        defs = plots_for(data.schema) if data is not None else []
        kinds = tuple(defs)
        if kinds != self._kinds:
            self._build(defs)
            self._kinds = kinds
        for p in self.plots:
            p.bind(data)
        self.refresh(force=True)

    def _build(self, defs) -> None:
        self.save_layout()
        for p in self.plots:
            p.setParent(None)
            p.deleteLater()
        if self.split is not None:
            self.split.setParent(None)
            self.split.deleteLater()
        self.plots = [make_plot(d) for d in defs]
        self.split = QSplitter(Qt.Horizontal)
        self.right = QSplitter(Qt.Vertical)
        self.tabs = QTabWidget()
        self.tabs.currentChanged.connect(lambda _: self.refresh(force=True))
        if self.plots:
            self.split.addWidget(self.plots[0])
        if len(self.plots) > 1:
            self.right.addWidget(self.plots[1])
            self.split.addWidget(self.right)
        for p in self.plots[2:]:
            self.tabs.addTab(p, p.defn.title)
        if len(self.plots) > 2:
            self.right.addWidget(self.tabs)
        self.split.setSizes([600, 500])
        self.right.setSizes([400, 400])
        self.body_layout.addWidget(self.split)
        self.restore_layout()

    def _layout_key(self) -> str:
        proc = (self.data.info.get("procedure") if self.data else "") or "run"
        return f"runview/{proc}"

    def save_layout(self) -> None:
        if self.split is None or self.data is None:
            return
        settings = QSettings()
        settings.setValue(self._layout_key() + "/split", self.split.saveState())
        settings.setValue(self._layout_key() + "/right", self.right.saveState())

    def restore_layout(self) -> None:
        settings = QSettings()
        for name, widget in (("split", self.split), ("right", self.right)):
            state = settings.value(f"{self._layout_key()}/{name}")
            if state is None:
                continue
            sizes = widget.sizes()
            widget.restoreState(state)
            if widget.count() > 1 and min(widget.sizes()) == 0:
                widget.setSizes(sizes)  # a panel saved collapsed would look like a lost plot

    def refresh(self, force: bool = False) -> None:
        """Redraw the visible plots whose data changed, and the header."""
        data = self.data
        if data is None:
            self.heading.setText("no run")
            return
        for p in self.plots:
            if p.isVisible():  # hidden tabs catch up when they are shown
                p.refresh(force=force)
        now = time.monotonic()
        if force or data.status != "running" or now - self._header_at >= HEADER_INTERVAL:
            self._header_at = now  # a progress bar repaint costs more than a map tile
            self._header(data)

    def _header(self, data: RunData) -> None:
        info = data.info
        name = Path(info.get("path", "")).name
        status = data.status
        color = {"completed": "#2a8", "aborted": "#d80", "failed": "#d33",
                 "lost": "#d33"}.get(status, "#48c")
        sample = f" · sample {info['sample']}" if info.get("sample") else ""
        reason = f" — {data.reason}" if data.reason and status != "running" else ""
        heading = (f"<b>{info.get('procedure', '?')}</b>{sample} · {name} · "
                   f"<span style='color:{color}'><b>{status}</b></span>{reason}")
        if heading != self.heading.text():
            self.heading.setText(heading)
        planned = data.planned or 0
        self.progress.setMaximum(max(planned, data.points, 1))
        self.progress.setValue(data.points)
        pr = data.progress
        parts = []
        if pr.get("rate"):
            parts.append(f"{pr['rate']:.0f} points/s" if pr["rate"] >= 10
                         else f"{format_value(pr['rate'], '')} points/s")
        remaining = pr.get("remaining")
        if remaining is None and pr.get("rate") and planned:
            remaining = (planned - data.points) / pr["rate"]
        if status == "running" and remaining:
            parts.append(f"{duration_text(remaining)} left")
        self.rate.setText("   ".join(parts))
