"""Memristor plots: I–V loops coloured by cycle, R_HRS and R_LRS per cycle."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from gui import theme
from gui.plots.base import SUMMARY_INTERVAL, RunPlot, show_value

MAX_LOOPS = 40  # cycles drawn; a longer run shows this many, evenly chosen
FLOOR = 1e-13  # A: |I| below this (an open HRS) is drawn at this level on the log axis


class LoopsPlot(RunPlot):
    """|I| vs V_M of each SET/RESET cycle on a log scale, early cycles dark, late ones bright."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.plot = self.add_plot(1, "voltage", "current")
        self.log_y(self.plot)
        self.cmap = pg.colormap.get(theme.CYCLE_COLORMAP)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, width=14,
                                   interactive=False, label="cycle")
        self.canvas.addItem(self.bar, row=1, col=1)
        self.curves: list[pg.PlotDataItem] = []
        self.track_mouse(self.plot, lambda x, y: f"V_M = {show_value(x, 'V')}   "
                                                 f"|I| = {show_value(10**y, 'A')}")

    def redraw(self) -> None:
        self.label_axes(self.plot, "voltage", "current")
        self.plot.setLabel("left", "|gate current|", units="A")
        v = self.column("voltage")
        i = np.maximum(np.abs(self.column("current")), FLOOR)
        cyc = self.column("cycle_index")
        cycles = np.unique(cyc)
        if len(cycles) > MAX_LOOPS:
            cycles = cycles[np.linspace(0, len(cycles) - 1, MAX_LOOPS).round().astype(int)]
        while len(self.curves) < len(cycles):
            self.curves.append(self.plot.plot())
        top = max(int(cyc.max()) if len(cyc) else 1, 1)
        for curve, c in zip(self.curves, cycles):
            pick = cyc == c
            color = self.cmap.map(c / top, mode="qcolor")
            color.setAlpha(200)  # loops mostly overlap: earlier cycles show through
            curve.setData(v[pick], i[pick], pen=pg.mkPen(color, width=1.5))
        for curve in self.curves[len(cycles):]:
            curve.setData([], [])
        self.bar.setLevels((0, top))
        shown = f"{len(cycles)} of {len(np.unique(cyc))}" if len(cyc) else "0"
        self.set_title(f"{self.defn.title} ({shown} cycles)")


class CyclesPlot(RunPlot):
    """R_HRS and R_LRS (read at V_read) for every cycle, log scale."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.plot = self.add_plot(1, "cycle", "r_hrs")
        self.log_y(self.plot)
        self.plot.addLegend(offset=(-10, 10))
        c = theme.colors()
        self.hrs = self.plot.plot(pen=pg.mkPen(c["second"], width=1.5), symbol="o",
                                  symbolSize=7, symbolBrush=c["second"], symbolPen=None,
                                  name="R_HRS")
        self.lrs = self.plot.plot(pen=pg.mkPen(c["curve"], width=1.5), symbol="s",
                                  symbolSize=7, symbolBrush=c["curve"], symbolPen=None,
                                  name="R_LRS")
        self.track_mouse(self.plot, lambda x, y: f"cycle {x:.0f}   R = {show_value(10**y, 'ohm')}")

    def redraw(self) -> None:
        stream = self.defn.stream
        rows = self.data.rows[stream]
        cycle = rows.indices().astype(float)
        self.plot.setLabel("bottom", "cycle")
        self.plot.setLabel("left", "resistance at V_read", units="Ω")
        for curve, name in ((self.hrs, "r_hrs"), (self.lrs, "r_lrs")):
            r = rows.column(name)
            ok = np.isfinite(r) & (r > 0)
            curve.setData(cycle[ok], r[ok])
        res = self.data.results
        parts = [f"{label} {show_value(res[key], 'ohm')}" for key, label in
                 (("r_hrs_mean", "R_HRS"), ("r_lrs_mean", "R_LRS")) if key in res]
        if "endurance" in res:
            parts.append(f"endurance {res['endurance']} of {res.get('cycles_recorded', '?')}")
        self.set_title(self.defn.title + (":  " + ", ".join(parts) if parts else ""))
