"""`labctl plot`: the standard figures of a run as PNG and PDF, drawn by the GUI's own plots.

Each figure is a :class:`~gui.plots.base.RunPlot` built from the run's plot definitions, bound
to the run read from its file, and rendered offscreen (pyqtgraph's ImageExporter for PNG, the
same scene painted into a QPdfWriter for PDF): the figures are exactly what the GUI shows.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from labctl.errors import UserInputError

WIDTH, HEIGHT = 1200, 780  # px of the rendered scene; PNGs are written at this size
FORMATS = ("png", "pdf")
SKIP = {"spectrum"}  # the latest trace alone says little about a finished run


QUIET = ("propagateSizeHints", "XDG_RUNTIME_DIR")  # offscreen-platform chatter, not problems


def _qt_message(mode, context, message: str) -> None:
    if not any(q in message for q in QUIET):
        print(message, file=sys.stderr)


def qt_app():
    """The QApplication, created offscreen when there is no display (SSH, CI)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PyQt5.QtCore import qInstallMessageHandler

    from gui import theme

    qInstallMessageHandler(_qt_message)
    app = pg.mkQApp("labctl")
    theme.apply(theme.theme_name())
    return app


def caption(info: dict, results: dict) -> str:
    """Sample, date and the run's key findings, one line under each figure's title."""
    parts = [info.get("procedure", "")]
    for key in ("sample", "device"):
        if info.get(key):
            parts.append(f"{key} {info[key]}")
    parts.append(started_text(info.get("started", ""), "%Y-%m-%d %H:%M"))
    parts.append(f"status {info.get('status', '?')}")
    parts.extend(key_results(results))
    return " · ".join(p for p in parts if p)


def started_text(iso: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A run's ISO start time in local time ('' if it has none)."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime(fmt)
    except ValueError:
        return iso


def key_results(results: dict) -> list[str]:
    from labctl.units import format_value

    out = []
    if "threshold_current" in results:
        out.append(f"I_th {format_value(results['threshold_current'], 'A')}")
    if "full_sync_from_current" in results:
        out.append(f"full sync from {format_value(results['full_sync_from_current'], 'A')}")
    if "meff" in results:
        out.append(f"μ0Meff {results['meff']:.3f} T, g {results.get('g_factor', 0):.2f}")
    if "v_set_mean" in results:
        out.append(f"V_SET {results['v_set_mean']:.2f} V")
    if "r0" in results and "heating" in results:  # iv-stripe: R(I) = R0 + a·I²
        out.append(f"R0 {format_value(results['r0'], 'ohm')}, a {results['heating']:.3g} Ω/A²")
    if "endurance" in results:
        out.append(f"endurance {results['endurance']}")
    states = results.get("states")
    if isinstance(states, list) and states:  # sync-map: where each gate state stays locked
        starts = []
        for s in states:
            ranges = s.get("full_sync_ranges") if isinstance(s, dict) else None
            last = ranges[-1][0] if isinstance(ranges, list) and ranges else None
            starts.append(format_value(last, "A", 3) if isinstance(last, int | float) else "–")
        out.append("locked from " + ", ".join(starts) + " by gate state")
    return out


@dataclass
class Figure:
    """One exported figure: its plot kind, the files written, and its axes as drawn
    (plot row, side, label, unit)."""

    kind: str
    files: list[Path] = field(default_factory=list)
    axes: list[tuple[int, str, str, str]] = field(default_factory=list)


def drawn_axes(plot) -> list[tuple[int, str, str, str]]:
    """The labelled axes of a plot's canvas: (row, side, label, unit)."""
    out = []
    for row, item in enumerate(i for i in plot.canvas.ci.items if hasattr(i, "getAxis")):
        for side in ("bottom", "left"):
            axis = item.getAxis(side)
            if axis.isVisible() and axis.labelText:
                out.append((row, side, axis.labelText, axis.labelUnits or ""))
    return out


def export_run(path: str | Path, out: str | Path | None = None,
               formats: tuple[str, ...] = FORMATS) -> list[Figure]:
    """Write the figures of the run at ``path`` into ``out`` (default: next to the run)."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UserInputError(f"figure format {bad[0]!r}: must be one of {', '.join(FORMATS)}")
    app = qt_app()
    from gui.plotdefs import plots_for
    from gui.plots import make_plot
    from gui.runreader import read_run

    path = Path(path)
    data = read_run(path)
    folder = Path(out) if out is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    line = caption(data.info, data.results)
    figures: list[Figure] = []
    for defn in plots_for(data.schema):
        if defn.kind in SKIP:
            continue
        plot = make_plot(defn)
        plot.resize(WIDTH, HEIGHT)
        plot.bind(data)
        plot.show()  # laid out offscreen; nothing appears on a screen
        app.processEvents()
        plot.set_title(f"{plot.title.text}<br><span style='font-size:9pt'>{line}</span>")
        app.processEvents()
        figure = Figure(defn.kind, axes=drawn_axes(plot))
        stem = folder / f"{path.stem}_{defn.kind}"
        for fmt in formats:
            target = stem.with_suffix(f".{fmt}")
            (_png if fmt == "png" else _pdf)(plot, target)
            figure.files.append(target)
        figures.append(figure)
        plot.close()
        plot.deleteLater()
    return figures


def _png(plot, target: Path) -> None:
    from pyqtgraph.exporters import ImageExporter

    exporter = ImageExporter(plot.canvas.scene())
    exporter.parameters()["width"] = WIDTH
    exporter.parameters()["antialias"] = True
    exporter.export(str(target))


def _pdf(plot, target: Path) -> None:
    from PyQt5.QtCore import QMarginsF, QRectF, QSizeF
    from PyQt5.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

    scene = plot.canvas.scene()
    rect = scene.sceneRect()
    writer = QPdfWriter(str(target))
    writer.setResolution(96)  # 1 scene pixel = 1/96 in: the page is the figure's size
    size = QSizeF(rect.width() / 96 * 25.4, rect.height() / 96 * 25.4)
    writer.setPageSize(QPageSize(size, QPageSize.Millimeter))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Millimeter)
    painter = QPainter(writer)
    try:
        painter.setRenderHint(QPainter.Antialiasing)
        scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
