"""What every run plot shares: a canvas with a title, axes with units, a cursor read-out.

A plot is built from a :class:`~gui.plotdefs.PlotDef`, bound to a
:class:`~gui.rundata.RunData` and redrawn by :meth:`RunPlot.refresh` only when the data changed.
The GUI shows these widgets and `labctl plot` exports the very same ones offscreen.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PyQt5.QtWidgets import (
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.plotdefs import PlotDef, label, quantity
from gui.rundata import RunData
from labctl.units import format_value

SUMMARY_INTERVAL = 1.0  # s: plots of a whole run redraw at most once a second during it
MAX_SCATTER_ROWS = 600  # rows drawn as symbols; longer runs are thinned evenly for display


def thin(n: int, limit: int = MAX_SCATTER_ROWS) -> slice:
    """Every k-th row so that at most ``limit`` rows are drawn."""
    return slice(None, None, max(1, math.ceil(n / limit)))


def live_label(width: int = 120) -> QLabel:
    """A label whose text changes at every refresh without re-laying-out the window (its size
    does not follow its text)."""
    label = QLabel("")
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
    label.setMinimumWidth(width)
    return label


def show_value(value: float, unit: str) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    return format_value(float(value), unit)


class RunPlot(QWidget):
    """Base of the plots of a run; subclasses implement :meth:`build` and :meth:`redraw`.

    ``min_interval`` spaces the redraws of plots that summarise a whole run (thousands of
    symbols): the latest spectrum and the map follow every refresh, summaries a few times per
    second. :meth:`redraw` returns False when it left something for the next refresh.
    """

    min_interval = 0.0  # s
    # a grid is drawn by the axes over the whole view: with it, every new trace repaints
    # both axes (11 ms of the 14 ms a live map and spectrum cost per refresh)
    grid = True

    def __init__(self, defn: PlotDef, parent: QWidget | None = None):
        super().__init__(parent)
        self.defn = defn
        self.data: RunData | None = None
        self._version = -1
        self._drawn_at = -1e9
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(4, 0, 4, 0)
        self.readout = live_label(120)
        self.controls.addWidget(self.readout)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.ci.setContentsMargins(6, 6, 12, 6)
        self.title = self.canvas.addLabel(defn.title, row=0, col=0, colspan=2, size="11pt")
        # an explicit minimum: a narrow panel cuts the controls row instead of widening the
        # window (two runs side by side must fit a screen)
        self.setMinimumSize(260, 180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.controls)
        layout.addWidget(self.canvas)
        self.build()

    # ---- for subclasses --------------------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError

    def add_plot(self, row: int, x: str, y: str, col: int = 0) -> pg.PlotItem:
        """A plot at ``row`` whose axes name quantities ``x`` and ``y`` (units from the run)."""
        item = self.canvas.addPlot(row=row, col=col)
        if self.grid:
            item.showGrid(x=True, y=True, alpha=0.2)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTickFont(theme.tick_font())
            axis.enableAutoSIPrefix(True)
            # an axis is repainted whenever something under its bounding rect changes (a map
            # tile reaches under it): from a pixmap while its ticks stay, not by pyqtgraph
            axis.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        item.setProperty("x_name", x)
        item.setProperty("y_name", y)
        return item

    @staticmethod
    def log_y(item: pg.PlotItem) -> None:
        """Logarithmic y axis: ticks in decades of the base unit (an SI prefix would mislabel
        them)."""
        item.setLogMode(y=True)
        item.getAxis("left").enableAutoSIPrefix(False)

    def label_axes(self, item: pg.PlotItem, x: str, y: str, y_text: str = "") -> None:
        """Axis labels with units from the bound run's schema (``y_text`` replaces y's name)."""
        schema = self.data.schema if self.data else None
        for side, name in (("bottom", x), ("left", y)):
            q = quantity(schema, name) if schema and name else None
            if q is None and schema is not None and name:
                try:
                    axis = schema.axis(name)
                    text, unit = axis.description or axis.name, axis.unit
                except KeyError:
                    text, unit = name, ""
            else:
                text, unit = label(q, name)
            if side == "left" and y_text:
                text = y_text
            axis = item.getAxis(side)
            if (axis.labelText, axis.labelUnits) != (text, unit):  # relabelling re-lays-out
                item.setLabel(side, text, units=unit or None)

    def unit(self, name: str) -> str:
        if self.data is None:
            return ""
        q = quantity(self.data.schema, name)
        if q is not None:
            return q.unit
        try:
            return self.data.schema.axis(name).unit
        except KeyError:
            return ""

    def track_mouse(self, item: pg.PlotItem, describe) -> None:
        """Show ``describe(x, y)`` in the read-out while the mouse is over ``item``."""

        def moved(pos) -> None:
            if self.data is None or not item.sceneBoundingRect().contains(pos):
                return
            p = item.vb.mapSceneToView(pos)
            self.readout.setText(describe(p.x(), p.y()))

        item.scene().sigMouseMoved.connect(moved)

    # ---- public ----------------------------------------------------------------------------
    def bind(self, data: RunData | None) -> None:
        self.data = data
        self._version = -1
        self.readout.setText("")
        self.refresh()

    def refresh(self, force: bool = False) -> bool:
        """Redraw if the data changed since the last redraw; True if it did."""
        if self.data is None or (not force and self.data.version == self._version):
            return False
        now = time.monotonic()
        if not force and now - self._drawn_at < self.min_interval:
            return False  # the data stays marked as new: a later refresh draws it
        self._version, self._drawn_at = self.data.version, now
        if self.redraw() is False:
            self._version = -1
        return True

    def set_title(self, text: str) -> None:
        if text != self.title.text:  # a new title re-lays-out the whole scene
            self.title.setText(text, size="11pt")

    def column(self, name: str, stream: str | None = None) -> np.ndarray:
        rows = self.data.rows[stream or self.data.schema.main.name]
        return rows.column(name) if name in rows.data else rows.indices().astype(float)
