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
from labctl.analysis.threshold_sweep import line_window

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
        kinds = self.column("peak_kind") if "peak_kind" in self.data.latest else None
        for k, (item, scat, name) in enumerate(zip(self.plots, self.items, self.defn.y)):
            self.label_axes(item, self.defn.x if k == len(self.plots) - 1 else "", name,
                            PEAK_LABELS.get(name, ""))
            set_peaks(scat, x, self.column(name), sync, kinds)


PW = 1e-12  # powers are shown in pW


def line_power(data, current: np.ndarray) -> tuple[np.ndarray, str]:
    """Power near the sweep's lines per row, as the run's threshold analysis sums it (the
    coarse bands of excess power within reach of any line the sweep found), or the fitted
    peaks' total where the bands were not kept row for row."""
    excess = data.maps.get("excess_power")
    main = data.rows[data.schema.main.name]
    if excess is not None and excess.bin == 1 and excess.rows == len(current) == main.received:
        inside = line_window(excess.axis, main.column("peak_frequency"),
                             main.column("peak_fwhm"), main.column("peak_kind"))
        if inside.any():
            return np.nansum(excess.view()[:, inside], axis=1), "power near the lines"
    return main.column("total_power"), "power of the fitted lines"


class ThresholdPlot(RunPlot):
    """The lines' power against I_SHNO, with the threshold the run's analysis reported
    (value, 1 sigma band, verdict): the picture a reader checks the number against."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.plot = self.add_plot(1, self.defn.x, "P")
        c = theme.colors()
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(*c["curve"]), pen=None)
        self.plot.addItem(self.points)
        self.band = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(*c["second"], 50),
                                        pen=pg.mkPen(None))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(c["second"], width=2))
        self.plot.addItem(self.band)
        self.plot.addItem(self.marker)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.track_mouse(self.plot, lambda x, y: f"I = {show_value(x, 'A')}   "
                                                 f"P = {y:.3g} pW")

    def redraw(self) -> None:
        self.label_axes(self.plot, self.defn.x, "")
        current = self.column(self.defn.x)
        power, label = line_power(self.data, current)
        self.plot.setLabel("left", label, units="pW")
        ok = np.isfinite(current) & np.isfinite(power)
        self.points.setData(np.abs(current[ok]), power[ok] / PW)
        results = self.data.results
        i_th = results.get("threshold_current")
        if i_th is None or not math.isfinite(i_th):
            self.marker.hide()
            self.band.hide()
            why = "; ".join(results.get("threshold_notes", ())) if results else ""
            self.set_title(f"{self.defn.title}  ({why or 'I_th when the run has finished'})")
            return
        err = float(results.get("threshold_current_err", math.nan))
        self.marker.setValue(i_th)
        self.marker.show()
        if math.isfinite(err):
            self.band.setRegion((i_th - err, i_th + err))
            self.band.show()
        quality = results.get("threshold_quality", "")
        notes = "; ".join(results.get("threshold_notes", ()))
        self.set_title(f"{self.defn.title}:  I_th = {show_value(i_th, 'A')} "
                       f"± {show_value(err, 'A')}  ({quality}{': ' + notes if notes else ''})")


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
        # pyqtgraph's peak downsampling and clipping assume x in order: a swept value that
        # goes back and forth (a voltage loop) would be drawn from a few of its points
        steps = np.diff(x[np.isfinite(x)])
        ordered = bool(np.all(steps >= 0) or np.all(steps <= 0))
        self.curve.setDownsampling(auto=ordered, method="peak")
        self.curve.setClipToView(ordered)
        few = len(x[rows]) <= MAX_SYMBOLS
        self.curve.setSymbol("o" if few else None)
        self.curve.setData(x[rows], y[rows], connect="finite")
        self.set_title(f"{yn} vs {xn}")
