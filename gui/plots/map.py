"""The growing frequency–current map: swept quantity × frequency, colour = power in dBm.

The image is drawn as tiles of TILE_ROWS rows: while a run grows only the newest tile is
converted to colours again, whatever the length of the run (pyqtgraph converts a whole image
on every update). Fitted peaks lie on top, coloured by synchronization state.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF
from PyQt5.QtWidgets import QCheckBox, QGraphicsItem, QLabel

from gui import theme
from gui.plots.base import RunPlot, live_label, show_value
from gui.plots.spectra import peak_scatter, set_peaks

TILE_ROWS = 128
ZOOM_MARGIN = 250e6  # Hz around the fitted lines when the map zooms to them
AUTO_SAMPLE = 200_000  # map cells looked at to choose the colour scale
LEVELS_INTERVAL = 1.0  # s between new automatic colour scales during a run
LEVELS_CHANGE = 0.5  # dB: a smaller change of the automatic scale is not applied
PEAKS_INTERVAL = 0.5  # s between redraws of the fitted peaks on the map during a run


class MapPlot(RunPlot):
    """Swept quantity × frequency, colour = power; fitted peaks on top, coloured by sync state."""

    grid = False  # redrawn at every refresh: see RunPlot.grid

    def build(self) -> None:
        self.plot = self.add_plot(1, self.defn.x, self.defn.axis)
        self.tiles: list[pg.ImageItem] = []
        self.colorbar = pg.ColorBarItem(values=(-90, -60), colorMap=theme.SPECTRUM_COLORMAP,
                                        width=18, interactive=True, label="dBm")
        self.colorbar.setImageItem(self._tile(0), insert_in=self.plot)
        self.colorbar.sigLevelsChangeFinished.connect(lambda *_: self.fixed.setChecked(True))
        self.peaks = peak_scatter(size=6)
        for item in self.peaks.values():
            self.plot.addItem(item)
        self.zoom = QCheckBox("zoom")
        self.zoom.setToolTip("zoom to the fitted lines (and the whole sweep); zooming by hand "
                             "or unticking shows what you choose")
        self.zoom.setChecked(True)
        self.zoom.toggled.connect(lambda on: self.refresh(force=True) if on else
                                  self.plot.enableAutoRange())
        self.plot.vb.sigRangeChangedManually.connect(lambda *_: self.zoom.setChecked(False))
        self.show_peaks = QCheckBox("peaks")
        self.show_peaks.setChecked(True)
        self.show_peaks.setToolTip("the fitted peak centres, coloured by sync state")
        self.show_peaks.toggled.connect(lambda on: [i.setVisible(on) for i in
                                                    self.peaks.values()])
        self.fixed = QCheckBox("fixed scale")
        self.fixed.setToolTip("keep the colour scale (drag the colour bar to set it); "
                              "unticked, it follows the data")
        self.fixed.toggled.connect(lambda _: self.refresh(force=True))
        self.count = live_label(90)
        for widget in (self.zoom, self.show_peaks, self.fixed):
            self.controls.addWidget(widget)
        self.controls.addWidget(QLabel(" ".join(
            f"<span style='color:rgb{rgb}'>●</span>{name}"
            for _, (rgb, name) in sorted(theme.SYNC_STYLE.items()))))
        self.controls.insertWidget(0, self.count)
        self.track_mouse(self.plot, self._describe)
        self._geometry = None
        self._drawn = (-1, 0)  # (merges, image rows) when the tiles were last converted
        self._levels = (-90.0, -60.0)
        self._levels_at = self._peaks_at = -1e9
        self._labels = None

    def _tile(self, k: int) -> pg.ImageItem:
        while len(self.tiles) <= k:
            tile = pg.ImageItem(axisOrder="col-major")
            tile.setZValue(-10)
            # a finished tile is painted from a pixmap cached at screen resolution: repainting
            # the map costs one tile's scaling, not the whole run's
            tile.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
            self.plot.addItem(tile)
            self.tiles.append(tile)
            if len(self.tiles) > 1:
                self.colorbar.setImageItem(self.tiles)
        return self.tiles[k]

    def trace_map(self):
        return self.data.maps.get(self.defn.y[0]) if self.data else None

    @staticmethod
    def geometry(m) -> tuple[float, float, float, float]:
        """(x of row 0's outer edge, x per image row (negative for a downward sweep),
        frequency of column 0's lower edge, frequency per column)."""
        axis = m.axis
        df = (axis[-1] - axis[0]) / max(len(axis) - 1, 1)
        if m.uniform and m.points > 1:
            dx = (m.x_last - m.x_first) / (m.points - 1)
            return m.x_first - dx / 2, dx * m.rows_per, axis[0] - df / 2, df * m.bin
        return -0.5, float(m.rows_per), axis[0] - df / 2, df * m.bin

    def _describe(self, x: float, y: float) -> str:
        m = self.trace_map()
        if m is None or not m.rows or self._geometry is None:
            return ""
        x0, w, f0, h = self._geometry
        value = m.value_at(int(math.floor((x - x0) / w)), int(math.floor((y - f0) / h)))
        swept = self.defn.x if m.uniform else "point"
        xs = show_value(x, self.unit(swept)) if m.uniform else f"{x:.0f}"
        power = f"{value:.1f} {self.unit(self.defn.y[0])}" if math.isfinite(value) else "–"
        return f"{swept} = {xs}   f = {show_value(y, 'Hz')}   P = {power}"

    def _axes(self, uniform: bool) -> None:
        if self._labels == uniform:
            return  # relabelling an axis re-lays-out the scene: only when it changes
        self._labels = uniform
        self.label_axes(self.plot, self.defn.x if uniform else "", self.defn.axis)
        if not uniform:
            self.plot.setLabel("bottom", "point (in order measured)")

    def _choose_levels(self, m, running: bool) -> bool:
        """New colour levels if due; True if they changed (every tile must be redrawn)."""
        if self.fixed.isChecked():
            levels = tuple(self.colorbar.levels())
        else:
            now = time.monotonic()
            if running and now - self._levels_at < LEVELS_INTERVAL:
                return False
            self._levels_at = now
            levels = self.auto_levels(m.view())
            if max(abs(a - b) for a, b in zip(levels, self._levels)) < LEVELS_CHANGE:
                return False
            self.colorbar.setLevels(levels)
        changed = levels != self._levels
        self._levels = levels
        return changed

    def redraw(self):
        m = self.trace_map()
        for tile in self.tiles if m is None or not m.rows else ():
            tile.clear()
        if m is None or not m.rows:
            return True
        running = self.data.status == "running"
        self._axes(m.uniform)
        x0, w, f0, h = self._geometry = self.geometry(m)
        everything = self._choose_levels(m, running) or self._drawn[0] != m.merges
        first = 0 if everything else max(self._drawn[1] - 1, 0) // TILE_ROWS
        view = m.view()
        for k in range(first, -(-m.rows // TILE_ROWS)):
            part = view[k * TILE_ROWS:(k + 1) * TILE_ROWS]
            tile = self._tile(k)
            tile.setImage(part, autoLevels=False, levels=self._levels)
            tile.setRect(QRectF(x0 + k * TILE_ROWS * w, f0, w * part.shape[0], h * part.shape[1]))
            tile.show()
        for tile in self.tiles[-(-m.rows // TILE_ROWS):]:
            tile.hide()  # rows merged: fewer tiles than before
        self._drawn = (m.merges, m.rows)
        planned = self.data.planned
        self.count.setText(f"{m.points} of {planned} points" if planned else f"{m.points} points")
        return self._draw_peaks(m, running)

    def _draw_peaks(self, m, running: bool) -> bool:
        if "peak_frequency" not in self.data.rows[self.data.schema.main.name].data:
            return True
        now = time.monotonic()
        if running and now - self._peaks_at < PEAKS_INTERVAL:
            return False  # thousands of symbols: redrawn a few times a second
        self._peaks_at = now
        x = self.column(self.defn.x) if m.uniform else self.column("__index__")
        sync = self.column("sync_state") if "sync_state" in self.data.latest else None
        centres = self.column("peak_frequency")
        kinds = self.column("peak_kind") if "peak_kind" in self.data.latest else None
        set_peaks(self.peaks, x, centres, sync, kinds)
        if self.zoom.isChecked():
            self._zoom_to(centres, m)
        return True

    def _zoom_to(self, centres: np.ndarray, m) -> None:
        """The lines' frequency range, and the whole sweep (as planned) along x."""
        finite = centres[np.isfinite(centres)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            margin = max(0.25 * (hi - lo), ZOOM_MARGIN)
            lo, hi = max(lo - margin, m.axis[0]), min(hi + margin, m.axis[-1])
            self.plot.setYRange(lo, hi, padding=0, update=False)
        x0, w, _, _ = self._geometry
        planned = max(self.data.planned or 0, m.points)
        x1 = x0 + w * planned / m.rows_per
        self.plot.setXRange(min(x0, x1), max(x0, x1), padding=0.01, update=False)

    @staticmethod
    def auto_levels(view: np.ndarray) -> tuple[float, float]:
        """From the noise floor (2nd percentile) to the strongest line, on a thinned sample."""
        step = max(1, int(math.sqrt(view.size / AUTO_SAMPLE)))
        sample = view[::step, ::step]
        sample = sample[np.isfinite(sample)]
        if not sample.size:
            return -90.0, -60.0
        lo, hi = float(np.percentile(sample, 2)), float(sample.max())
        return round(lo, 1), round(max(hi, lo + 1.0), 1)
