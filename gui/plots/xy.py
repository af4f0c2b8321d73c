"""Quantities against the swept one: fitted peaks, the threshold fit, the Kittel fit, any scalar."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtWidgets import QComboBox, QLabel

from gui import theme
from gui.plotdefs import scalars
from gui.plots.base import SUMMARY_INTERVAL, RunPlot, show_value, thin
from gui.plots.spectra import peak_scatter, set_peaks
from labctl.analysis.kittel import kittel_frequency
from labctl.analysis.threshold import threshold_from_inverse_power

MAX_SYMBOLS = 2000  # beyond this many points a line alone reads better and draws faster
PEAK_LABELS = {"peak_frequency": "f", "peak_fwhm": "FWHM", "peak_power": "P"}


class PeaksPlot(RunPlot):
    """Fitted centre, linewidth and integrated power of every line, coloured by sync state."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        x = self.defn.x
        self.plots = [self.add_plot(row, x, y) for row, y in enumerate(self.defn.y, start=1)]
        self.items = []
        for k, item in enumerate(self.plots):
            scat = peak_scatter(size=6)
            for s in scat.values():
                item.addItem(s)
            self.items.append(scat)
            if k:
                item.setXLink(self.plots[0])
            if k < len(self.defn.y) - 1:  # one x axis, under the lowest plot
                item.getAxis("bottom").setStyle(showValues=False)
                item.getAxis("bottom").setLabel("")
            self.track_mouse(item, self._describer(self.defn.y[k]))

    def _describer(self, y_name: str):
        def describe(x: float, y: float) -> str:
            return (f"{self.defn.x} = {show_value(x, self.unit(self.defn.x))}   "
                    f"{y_name} = {show_value(y, self.unit(y_name))}")
        return describe

    def redraw(self) -> None:
        x = self.column(self.defn.x)
        sync = self.column("sync_state") if "sync_state" in self.data.latest else None
        for k, (item, scat, name) in enumerate(zip(self.plots, self.items, self.defn.y)):
            self.label_axes(item, self.defn.x if k == len(self.plots) - 1 else "", name,
                            PEAK_LABELS.get(name, ""))
            set_peaks(scat, x, self.column(name), sync)


def threshold_points(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currents, total powers and the sub-threshold mask as freq-current's results use them:
    the points before the first auto-oscillation line, with a measurable power."""
    main = data.rows[data.schema.main.name]
    current, power = main.column(data.swept), main.column("total_power")
    lines = main.column("n_lines")
    oscillating = np.flatnonzero(lines > 0)
    below = np.arange(len(current)) < (oscillating[0] if len(oscillating) else len(current))
    return current, power, below & (power > 0)


PW = 1e-12  # 1/P is shown in 1/pW (SI prefixes on a reciprocal unit read badly)


class ThresholdPlot(RunPlot):
    """1/P vs I with the straight line whose zero is the threshold current."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.plot = self.add_plot(1, self.defn.x, "1/P")
        c = theme.colors()
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(*c["curve"]), pen=None,
                                         name="1/P")
        self.used = pg.ScatterPlotItem(size=9, brush=None, pen=pg.mkPen(c["second"], width=1.5),
                                       name="fitted")
        self.line = self.plot.plot(pen=pg.mkPen(c["second"], width=2), name="fit")
        self.plot.addItem(self.points)
        self.plot.addItem(self.used)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(c["second"], style=2))
        self.plot.addItem(self.marker)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.track_mouse(self.plot, lambda x, y: f"I = {show_value(x, 'A')}   "
                                                 f"1/P = {y:.3g} 1/pW")

    def redraw(self) -> None:
        self.label_axes(self.plot, self.defn.x, "")
        self.plot.setLabel("left", "1 / total power", units="1/pW")
        current, power, below = threshold_points(self.data)
        ok = power > 0
        self.points.setData(current[ok], PW / power[ok])
        self.used.setData(current[below], PW / power[below])
        try:
            fit = threshold_from_inverse_power(current, power, below=below)
        except (ValueError, RuntimeError):
            self.line.setData([], [])
            self.marker.hide()
            self.set_title(f"{self.defn.title}  (too few sub-threshold points to fit)")
            return
        xs = np.linspace(float(current[below].min()), fit.i_th, 50)
        self.line.setData(xs, PW * (fit.slope * xs + fit.intercept))
        self.marker.setValue(fit.i_th)
        self.marker.show()
        if below.any():
            top = float((PW / power[below]).max())
            self.plot.setYRange(0, top * 1.1)
        self.set_title(f"{self.defn.title}:  I_th = {show_value(fit.i_th, 'A')} "
                       f"(r² = {fit.r2:.3f}, {fit.n_points} points)")


class KittelPlot(RunPlot):
    """f of the strongest line vs |B| with the Kittel fit of the results, and its residuals."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        c = theme.colors()
        self.plot = self.add_plot(1, self.defn.x, self.defn.y[0])
        self.resid = self.add_plot(2, self.defn.x, "residual")
        self.resid.setXLink(self.plot)
        self.canvas.ci.layout.setRowStretchFactor(1, 3)
        self.canvas.ci.layout.setRowStretchFactor(2, 1)
        self.points = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(*c["curve"]), pen=None)
        self.plot.addItem(self.points)
        self.curve = self.plot.plot(pen=pg.mkPen(c["second"], width=2))
        self.res_points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(*c["curve"]), pen=None)
        self.resid.addItem(self.res_points)
        self.resid.addItem(pg.InfiniteLine(angle=0, pen=pg.mkPen(c["muted"])))
        self.track_mouse(self.plot, lambda x, y: f"B = {show_value(x, 'T')}   "
                                                 f"f = {show_value(y, 'Hz')}")

    def redraw(self) -> None:
        self.label_axes(self.plot, self.defn.x, self.defn.y[0], "f of the strongest line")
        self.label_axes(self.resid, self.defn.x, "")
        self.resid.setLabel("left", "residual", units="Hz")
        b = np.abs(self.column(self.defn.x))
        f = self.column(self.defn.y[0])
        ok = np.isfinite(b) & np.isfinite(f)
        self.points.setData(b[ok], f[ok])
        r = self.data.results
        if "meff" not in r or not ok.any():
            self.curve.setData([], [])
            self.res_points.setData([], [])
            self.set_title(self.defn.title + ("  (fit when the run finishes)"
                                              if self.data.status == "running" else ""))
            return
        theta = math.radians(float(r.get("theta_h_deg", 75.0)))
        offset = float(r.get("frequency_offset", 0.0))

        def model(fields):
            return kittel_frequency(fields, theta, r["meff"], r["gamma"]) + offset

        grid = np.linspace(b[ok].min(), b[ok].max(), 200)
        self.curve.setData(grid, model(grid))
        self.res_points.setData(b[ok], f[ok] - model(b[ok]))
        self.set_title(f"{self.defn.title}:  μ0Meff = {r['meff']:.3f} T, "
                       f"γ/2π = {r['gamma'] / 1e9:.2f} GHz/T (g = {r.get('g_factor', 0):.2f}), "
                       f"offset {r.get('frequency_offset', 0) / 1e6:.0f} MHz")


class ScalarsPlot(RunPlot):
    """Any scalar of the main stream against another (default: against the swept quantity)."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.x_box, self.y_box = QComboBox(), QComboBox()
        self.controls.insertWidget(0, QLabel("y"))
        self.controls.insertWidget(1, self.y_box)
        self.controls.insertWidget(2, QLabel("vs"))
        self.controls.insertWidget(3, self.x_box)
        self.plot = self.add_plot(1, self.defn.x, self.defn.y[0])
        c = theme.colors()
        self.curve = self.plot.plot(pen=pg.mkPen(c["curve"], width=1.5), symbol="o",
                                    symbolSize=5, symbolBrush=c["curve"], symbolPen=None)
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.x_box.currentIndexChanged.connect(lambda _: self.refresh(force=True))
        self.y_box.currentIndexChanged.connect(lambda _: self.refresh(force=True))
        self.track_mouse(self.plot, self._describe)

    def bind(self, data) -> None:
        for box, chosen in ((self.x_box, self.defn.x), (self.y_box, self.defn.y[0])):
            box.blockSignals(True)
            box.clear()
            if data is not None:
                names = [q.name for q in scalars(data.schema.main)]
                box.addItems(names + (["point"] if box is self.x_box else []))
                box.setCurrentIndex(max(0, box.findText(chosen)))
            box.blockSignals(False)
        super().bind(data)

    def _names(self) -> tuple[str, str]:
        return self.x_box.currentText() or self.defn.x, self.y_box.currentText() or self.defn.y[0]

    def _describe(self, x: float, y: float) -> str:
        xn, yn = self._names()
        if self.plot.getAxis("left").logMode:
            y = 10**y
        return f"{xn} = {show_value(x, self.unit(xn))}   {yn} = {show_value(y, self.unit(yn))}"

    def redraw(self) -> None:
        xn, yn = self._names()
        x = self.column(xn).astype(float)
        y = self.column(yn).astype(float)
        finite = y[np.isfinite(y)]
        # resistances span decades (HRS GΩ, LRS kΩ): a log axis shows both
        log = bool(finite.size and finite.min() > 0 and finite.max() > 20 * finite.min())
        self.plot.setLogMode(y=log)
        self.plot.getAxis("left").enableAutoSIPrefix(not log)
        self.label_axes(self.plot, "" if xn == "point" else xn, yn)
        if xn == "point":
            self.plot.setLabel("bottom", "point")
        rows = thin(len(x), 20_000)
        few = len(x[rows]) <= MAX_SYMBOLS
        self.curve.setSymbol("o" if few else None)
        self.curve.setData(x[rows], y[rows], connect="finite")
        self.set_title(f"{yn} vs {xn}")
