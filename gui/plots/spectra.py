"""The latest spectrum with its fitted peaks, and the growing frequency–current map."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtWidgets import QGraphicsItem

from gui import theme
from gui.plots.base import RunPlot, live_label, show_value, thin

SYNC_NAMES = {code: name for code, (_, name) in theme.SYNC_STYLE.items()}


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
        item = pg.ScatterPlotItem(size=size, pen=pg.mkPen(0, 0, 0, 160, width=0.8),
                                  brush=pg.mkBrush(*rgb), name=f"sync {name}")
        # painted from a pixmap cache while unchanged: the map under it is repainted at every
        # refresh, the symbols only change a few times a second
        item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        out[code] = item
    return out


SPUR = 3  # peak_kind of what is left of a spur of the analyzer's background: not a line


def set_peaks(items: dict, x: np.ndarray, freqs: np.ndarray, sync: np.ndarray | None,
              kinds: np.ndarray | None = None) -> None:
    """Scatter the fitted peaks (rows × slots) at their row's x, coloured by sync state;
    the remains of the analyzer's spurs (``kinds``) are left out: they are not oscillators."""
    rows = thin(len(x))
    x, freqs = x[rows], freqs[rows]
    if kinds is not None and kinds[rows].shape == freqs.shape:
        freqs = np.where(kinds[rows] == SPUR, np.nan, freqs)
    state = sync[rows] if sync is not None else np.full(len(x), 1)
    for code, item in items.items():
        pick = state == code
        f = freqs[pick]
        xs = np.repeat(x[pick], f.shape[1] if f.ndim == 2 else 1)
        f = f.reshape(-1)
        ok = np.isfinite(f)
        item.setData(xs[ok], f[ok])


def keep_in_view(item, lo: float, hi: float) -> None:
    """Widen the y range to show [lo, hi], and narrow it only when it is twice too wide: a
    range that changed at every trace would redraw the axis at every refresh."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return
    y0, y1 = item.vb.viewRange()[1]
    span = max(hi - lo, 1e-9)
    if lo < y0 or hi > y1 or (y1 - y0) > 2.5 * span:
        item.setYRange(lo - 0.08 * span, hi + 0.08 * span, padding=0)


class SpectrumPlot(RunPlot):
    """The newest trace (dBm vs frequency), the background and the fitted peak centres."""

    grid = False  # redrawn at every refresh: see RunPlot.grid

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
        self.where = live_label(150)
        self.controls.insertWidget(0, self.where)
        # fixed ranges: a range recomputed at every new trace repaints the axes every time
        self.plot.enableAutoRange(x=False, y=False)
        self.background.setCacheMode(QGraphicsItem.DeviceCoordinateCache)  # it never changes
        self._span = None
        self.follow_y = True  # until the user zooms by hand
        self.plot.vb.sigRangeChangedManually.connect(lambda *_: setattr(self, "follow_y", False))

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
        trace = np.asarray(trace)
        self.curve.setData(freq, trace, skipFiniteCheck=True)  # analyzer traces are finite
        span = (float(freq[0]), float(freq[-1]))
        if span != self._span:
            self._span = span
            self.plot.setXRange(*span, padding=0.01)
        if self.follow_y:
            keep_in_view(self.plot, float(np.nanmin(trace)), float(np.nanmax(trace)))
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
        # a QLabel, not the plot's title: retitling a plot re-lays-out its whole scene
        self.where.setText("   ".join(t for t in (where, sync_text(self.data)) if t))
