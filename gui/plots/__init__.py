"""The plots of a run, one class per kind of :class:`~gui.plotdefs.PlotDef`."""

from __future__ import annotations

from gui import plotdefs
from gui.plotdefs import PlotDef
from gui.plots.base import RunPlot
from gui.plots.map import MapPlot
from gui.plots.memristor import CyclesPlot, LoopsPlot
from gui.plots.spectra import SpectrumPlot
from gui.plots.sync import SyncMapPlot
from gui.plots.xy import KittelPlot, PeaksPlot, ScalarsPlot, ThresholdPlot

PLOT_CLASSES: dict[str, type[RunPlot]] = {
    plotdefs.SPECTRUM: SpectrumPlot,
    plotdefs.MAP: MapPlot,
    plotdefs.PEAKS: PeaksPlot,
    plotdefs.THRESHOLD: ThresholdPlot,
    plotdefs.LOOPS: LoopsPlot,
    plotdefs.CYCLES: CyclesPlot,
    plotdefs.KITTEL: KittelPlot,
    plotdefs.SYNC_MAP: SyncMapPlot,
    plotdefs.SCALARS: ScalarsPlot,
}


def make_plot(defn: PlotDef) -> RunPlot:
    return PLOT_CLASSES[defn.kind](defn)
