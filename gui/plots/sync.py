"""The synchronization map: for each gate state, where along I_SHNO the chain locks."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF
from PyQt5.QtWidgets import QLabel

from gui import theme
from gui.plots.base import SUMMARY_INTERVAL, RunPlot, show_value


def sync_levels() -> tuple[int, int]:
    """Image levels that put sync code k on entry k of :func:`sync_lut` (pyqtgraph maps
    levels (a, b) onto the table's n entries as n * (v - a) / (b - a))."""
    return 0, len(theme.SYNC_STYLE)


def sync_lut() -> np.ndarray:
    return np.array([(*theme.SYNC_STYLE[k][0], 255) for k in sorted(theme.SYNC_STYLE)],
                    dtype=np.ubyte)


class SyncMapPlot(RunPlot):
    """Gate states (rows) × I_SHNO (columns), colour = sync state, read-out = lines."""

    min_interval = SUMMARY_INTERVAL

    def build(self) -> None:
        self.plot = self.add_plot(1, "current", "state")
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setLookupTable(sync_lut())
        self.plot.addItem(self.image)
        self._grid = None
        self.track_mouse(self.plot, self._describe)
        self.controls.addWidget(QLabel(" ".join(
            f"<span style='color:rgb{rgb}'>■</span>{name}"
            for _, (rgb, name) in sorted(theme.SYNC_STYLE.items()))))

    def _state_labels(self, states: np.ndarray) -> list[str]:
        main = self.data.rows[self.data.schema.main.name]
        volts, mem = main.column("gate_voltage"), main.column("memristor_resistance")
        state = main.column("state")
        out = []
        for s in states:
            k = np.flatnonzero(state == s)[0]
            text = f"{int(s)}: V_M {show_value(float(volts[k]), 'V')}"
            if math.isfinite(mem[k]):
                text += f", {show_value(float(mem[k]), 'ohm')}"
            out.append(text)
        return out

    def _describe(self, x: float, y: float) -> str:
        if self._grid is None:
            return ""
        states, currents, lines, x0, dx = self._grid
        j, k = int(math.floor((x - x0) / dx)), int(math.floor(y + 0.5))
        if not (0 <= j < len(currents) and 0 <= k < len(states)):
            return ""
        n = lines[j, k]
        shown = f"{int(n)} line(s)" if n >= 0 else "not measured"
        return f"state {int(states[k])}   I = {show_value(float(currents[j]), 'A')}   {shown}"

    def redraw(self) -> None:
        self.label_axes(self.plot, "current", "")
        self.plot.setLabel("left", "gate state")
        main = self.data.rows[self.data.schema.main.name]
        state, current = main.column("state"), main.column("current")
        if not len(state):
            self.image.clear()
            return
        states = np.unique(state)
        currents = np.unique(np.round(current, 12))
        sync = np.full((len(currents), len(states)), -1, dtype=np.int16)
        lines = np.full_like(sync, -1)
        j = np.clip(np.searchsorted(currents, np.round(current, 12)), 0, len(currents) - 1)
        k = np.searchsorted(states, state)
        sync[j, k] = main.column("sync_state")
        lines[j, k] = main.column("n_lines")
        dx = float(np.median(np.diff(currents))) if len(currents) > 1 else 1e-5
        x0 = float(currents[0]) - dx / 2
        shown = np.where(sync >= 0, sync, np.nan).astype(float)
        self.image.setImage(shown, autoLevels=False, levels=sync_levels())
        self.image.setRect(QRectF(x0, -0.5, dx * len(currents), len(states)))
        self.plot.getAxis("left").setTicks([list(enumerate(self._state_labels(states)))])
        self._grid = (states, currents, lines, x0, dx)
        self.set_title(self.defn.title)
