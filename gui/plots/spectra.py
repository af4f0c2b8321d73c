"""The latest spectrum with its fitted peaks, and the growing frequency–current map."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF
from PyQt5.QtWidgets import QCheckBox, QLabel

from gui import theme
from gui.plots.base import RunPlot, show_value, thin

SYNC_NAMES = {code: name for code, (_, name) in theme.SYNC_STYLE.items()}
ZOOM_MARGIN = 250e6  # Hz around the fitted lines when the map zooms to them
AUTO_SAMPLE = 200_000  # map cells looked at to choose the colour scale


def sync_text(data) -> str:
    """"4 lines · sync none" for the latest fitted spectrum, '' when the run has no fits."""
    n, state = data.latest.get("n_lines"), data.latest.get("sync_state")
    if n is None or state is None:
        return ""
    return f"{int(n)} line{'s' if int(n) != 1 else ''} · sync {SYNC_NAMES.get(int(state), '?')}"


def peak_scatter(size: int = 7) -> dict[int, pg.ScatterPlotItem]:
    """One symbol set per sync state (a uniform brush per item draws far faster)."""
    out = {}
    for code, (rgb, name) in theme.SYNC_STYLE.items():
        out[code] = pg.ScatterPlotItem(size=size, pen=pg.mkPen(0, 0, 0, 160, width=0.8),
                                       brush=pg.mkBrush(*rgb), name=f"sync {name}")
    return out


def set_peaks(items: dict, x: np.ndarray, freqs: np.ndarray, sync: np.ndarray | None) -> None:
    """Scatter the fitted centres (rows × slots) at their row's x, coloured by sync state."""
    rows = thin(len(x))
    x, freqs = x[rows], freqs[rows]
    state = sync[rows] if sync is not None else np.full(len(x), 1)
    for code, item in items.items():
        pick = state == code
        f = freqs[pick]
        xs = np.repeat(x[pick], f.shape[1] if f.ndim == 2 else 1)
        f = f.reshape(-1)
        ok = np.isfinite(f)
        item.setData(xs[ok], f[ok])


class SpectrumPlot(RunPlot):
    """The newest trace (dBm vs frequency), the background and the fitted peak centres."""

    def build(self) -> None:
        self.plot = self.add_plot(1, self.defn.axis, self.defn.y[0])
        c = theme.colors()
        self.background = self.plot.plot(pen=pg.mkPen(c["muted"], width=1), name="background")
        self.curve = self.plot.plot(pen=pg.mkPen(c["curve"], width=1), name="trace")
        for curve in (self.curve, self.background):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.peaks = peak_scatter(size=10)
        for item in self.peaks.values():
            self.plot.addItem(item)
        self.track_mouse(self.plot, self._describe)

    def _axis(self) -> np.ndarray:
        return self.data.schema.axis(self.defn.axis).values

    def _describe(self, x: float, y: float) -> str:
        return (f"f = {show_value(x, 'Hz')}   P = {y:.1f} {self.unit(self.defn.y[0])}")

    def redraw(self) -> None:
        self.label_axes(self.plot, self.defn.axis, self.defn.y[0])
        freq = self._axis()
        trace = self.data.latest.get(self.defn.y[0])
        if trace is None:
            self.curve.setData([], [])
            return
        self.curve.setData(freq, np.asarray(trace))
        bg = self.data.latest.get("background_trace")
        if bg is not None and len(bg) == len(freq):
            self.background.setData(freq, np.asarray(bg))
        centres = self.data.latest.get("peak_frequency")
        if centres is not None:
            f = np.asarray(centres, dtype=float)
            f = f[np.isfinite(f)]
            idx = np.clip(np.searchsorted(freq, f), 0, len(freq) - 1)
            level = np.asarray(trace)[idx]
            state = int(self.data.latest.get("sync_state", 1))
            for code, item in self.peaks.items():
                item.setData(f, level) if code == state else item.setData([], [])
        swept = self.data.swept
        where = ""
        if swept and swept in self.data.latest:
            where = f"at {show_value(float(self.data.latest[swept]), self.unit(swept))}"
        self.set_title("  ".join(t for t in (self.defn.title, where, sync_text(self.data)) if t))


class MapPlot(RunPlot):
    """Swept quantity × frequency, colour = power; fitted peaks on top, coloured by sync state."""

    def build(self) -> None:
        self.plot = self.add_plot(1, self.defn.x, self.defn.axis)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-90, -60), colorMap=theme.SPECTRUM_COLORMAP,
                                        width=18, interactive=True)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.sigLevelsChangeFinished.connect(self._levels_dragged)
        self.peaks = peak_scatter(size=6)
        for item in self.peaks.values():
            self.plot.addItem(item)
        self.fixed = QCheckBox("fixed colour scale")
        self.fixed.setToolTip("keep the colour scale (drag the colour bar to set it); "
                              "unticked, it follows the data")
        self.show_peaks = QCheckBox("fitted peaks")
        self.show_peaks.setChecked(True)
        self.show_peaks.toggled.connect(lambda on: [i.setVisible(on) for i in
                                                    self.peaks.values()])
        self.zoom = QCheckBox("zoom to lines")
        self.zoom.setToolTip("frequency range around the fitted lines; zooming by hand or "
                             "unticking shows what you choose")
        self.zoom.setChecked(True)
        self.zoom.toggled.connect(lambda on: self.refresh(force=True) if on else
                                  self.plot.enableAutoRange(y=True))
        self.plot.vb.sigRangeChangedManually.connect(lambda *_: self.zoom.setChecked(False))
        self.controls.addWidget(self.zoom)
        self.controls.addWidget(self.show_peaks)
        self.controls.addWidget(self.fixed)
        self.legend = QLabel(" ".join(
            f"<span style='color:rgb{rgb}'>●</span> {name}"
            for _, (rgb, name) in sorted(theme.SYNC_STYLE.items())))
        self.controls.addWidget(self.legend)
        self.track_mouse(self.plot, self._describe)
        self._geometry = None

    def _levels_dragged(self, *_args) -> None:
        self.fixed.setChecked(True)

    def trace_map(self):
        return self.data.maps.get(self.defn.y[0]) if self.data else None

    def _rect(self, m) -> tuple[float, float, float, float, bool]:
        """(x0, width of one image row, f0, height of one column, flipped)."""
        axis = m.axis
        df = (axis[-1] - axis[0]) / max(len(axis) - 1, 1)
        f0, fh = axis[0] - df / 2, df * m.bin
        if m.uniform and m.points > 1:
            dx = (m.x_last - m.x_first) / (m.points - 1)
            flipped = dx < 0
            x_start = m.x_last if flipped else m.x_first
            return x_start - abs(dx) / 2, abs(dx) * m.rows_per, f0, fh, flipped
        return -0.5, float(m.rows_per), f0, fh, False

    def _describe(self, x: float, y: float) -> str:
        m = self.trace_map()
        if m is None or not m.rows or self._geometry is None:
            return ""
        x0, w, f0, h, flipped = self._geometry
        row, col = int(math.floor((x - x0) / w)), int(math.floor((y - f0) / h))
        if flipped:
            row = m.rows - 1 - row
        value = m.value_at(row, col)
        swept = self.defn.x if m.uniform else "point"
        xs = show_value(x, self.unit(swept)) if m.uniform else f"{x:.0f}"
        unit = self.unit(self.defn.y[0])
        power = f"{value:.1f} {unit}" if math.isfinite(value) else "–"
        return f"{swept} = {xs}   f = {show_value(y, 'Hz')}   P = {power}"

    def redraw(self) -> None:
        m = self.trace_map()
        if m is None or not m.rows:
            self.image.clear()
            return
        self.plot.setLabel("bottom", "point") if not m.uniform else None
        if m.uniform:
            self.label_axes(self.plot, self.defn.x, self.defn.axis)
        else:
            self.label_axes(self.plot, "", self.defn.axis)
            self.plot.setLabel("bottom", "point (in order measured)")
        x0, w, f0, h, flipped = self._geometry = self._rect(m)
        view = m.view()
        image = view[::-1] if flipped else view
        levels = self.colorbar.levels() if self.fixed.isChecked() else self.auto_levels(view)
        self.image.setImage(image, autoLevels=False, levels=levels)
        self.image.setRect(QRectF(x0, f0, w * image.shape[0], h * image.shape[1]))
        if not self.fixed.isChecked():
            self.colorbar.setLevels(levels)
        if "peak_frequency" in self.data.rows[self.data.schema.main.name].data:
            x = self.column(self.defn.x) if m.uniform else self.column("__index__")
            sync = self.column("sync_state") if "sync_state" in self.data.latest else None
            centres = self.column("peak_frequency")
            set_peaks(self.peaks, x, centres, sync)
            if self.zoom.isChecked():
                self._zoom_to(centres, m)
        title = self.defn.title
        if self.data.planned:
            title += f"  ({m.points} of {self.data.planned} points)"
        self.set_title(title)

    def _zoom_to(self, centres: np.ndarray, m) -> None:
        finite = centres[np.isfinite(centres)]
        if not finite.size:
            return
        lo, hi = float(finite.min()), float(finite.max())
        margin = max(0.25 * (hi - lo), ZOOM_MARGIN)
        lo, hi = max(lo - margin, m.axis[0]), min(hi + margin, m.axis[-1])
        self.plot.setYRange(lo, hi, padding=0, update=False)

    @staticmethod
    def auto_levels(view: np.ndarray) -> tuple[float, float]:
        """From the noise floor (2nd percentile) to the strongest line, on a thinned sample."""
        step = max(1, int(math.sqrt(view.size / AUTO_SAMPLE)))
        sample = view[::step, ::step]
        sample = sample[np.isfinite(sample)]
        if not sample.size:
            return -90.0, -60.0
        lo, hi = float(np.percentile(sample, 2)), float(sample.max())
        return lo, max(hi, lo + 1.0)
