"""Monitor mode: analyzer sweeps one after the other, fitted live, without a run.

How a physicist lands the probes and finds the operating point: the spectrum with its fitted
peaks, the number of lines and the sync state update after every sweep while I_SHNO, V_M and
the field are changed by hand in the station panel (sweeps and manual ramps take turns in the
station worker). A snapshot writes the current spectrum with the station's reading into a
small run file that the browser, replay and `labctl plot` open like any other.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from datetime import datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.plotdefs import SPECTRUM, PlotDef
from gui.plots.spectra import SpectrumPlot, sync_text
from gui.rundata import RunData
from gui.station_panel import spin
from gui.station_worker import StationWorker
from labctl import __version__
from labctl.schema import Quantity, Schema, Stream
from procedures.spectra import (
    SPECTRUM_PARAMETERS,
    PeakTracker,
    analyse_spectrum,
    peak_quantities,
    spectrum_axes,
)

DEFAULTS = {p.name: p.default for p in SPECTRUM_PARAMETERS}
SETTINGS = ("f_start", "f_stop", "points", "rbw", "averages")
PROCEDURE = "monitor-snapshot"


def monitor_schema(settings: dict) -> Schema:
    point = Stream("point", (
        Quantity("current", "A", description="I_SHNO"),
        Quantity("gate_voltage", "V", description="V_M"),
        Quantity("field_measured", "T", description="gaussmeter reading"),
        Quantity("trace", "dBm", "float32", ("frequency",), "analyzer trace"),
        *peak_quantities()), "analyzer sweep")
    return Schema(streams=(point,), axes=spectrum_axes({**DEFAULTS, **settings}))


class MonitorPanel(QWidget):
    """Start/stop repeated sweeps, their settings, snapshots; ``plot`` (the live spectrum) is
    shown by the window."""

    started = pyqtSignal()

    def __init__(self, lab, worker: StationWorker, out: Path = Path("runs"),
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.lab, self.worker, self.out = lab, worker, Path(out)
        self.running = False
        self.sweeps = 0
        self.reading = None  # the station panel's latest reading, saved with a snapshot
        self.boxes = {}
        form = QFormLayout()
        for name in SETTINGS:
            p = next(q for q in SPECTRUM_PARAMETERS if q.name == name)
            if p.kind is int:
                box = pg.SpinBox(value=p.default, int=True, step=1, bounds=(p.minimum, None))
            else:
                box = spin(p.unit, p.default, 0.1)
            box.setToolTip(p.description)
            form.addRow(p.description, box)
            self.boxes[name] = box
        self.start = QPushButton("Start monitor")
        self.start.setCheckable(True)
        self.start.toggled.connect(self.toggle)
        self.take_background = QPushButton("Background")
        self.take_background.setCheckable(True)
        self.take_background.setToolTip(
            "take the next sweep as the background, with I_SHNO at zero: lines a few dB above "
            "the floor are then fitted against it, and the analyzer's spurs are told apart")
        self.take_background.toggled.connect(self._want_background)
        self.background: np.ndarray | None = None
        self._background_settings: dict | None = None
        self._note = ""  # what became of the last request for a background
        self.snap = QPushButton("Snapshot")
        self.snap.setToolTip("save this spectrum with the station's state as a run file")
        self.snap.clicked.connect(self.snapshot)
        self.status = QLabel("")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.take_background)
        buttons.addWidget(self.snap)
        buttons.addWidget(self.status, 1)
        self.plot = SpectrumPlot(PlotDef(SPECTRUM, "monitor", "frequency", ("trace",),
                                         axis="frequency"))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)  # the plot itself is a tab of the window's centre
        self.data: RunData | None = None
        self.tracker = PeakTracker()

    def settings(self) -> dict:
        s = {name: (int(b.value()) if name in ("points", "averages") else float(b.value()))
             for name, b in self.boxes.items()}
        s["vbw"] = s["rbw"] / 10
        return s

    def toggle(self, on: bool) -> None:
        self.running = on
        self.start.setText("Stop monitor" if on else "Start monitor")
        if on:
            self.started.emit()
            self.sweep()

    def sweep(self) -> None:
        """Queue one sweep; the next is queued when it is back (manual ramps take turns)."""
        if not self.running or self.lab.closed:
            return
        if self.lab.owner in ("run", "queue"):
            self.start.setChecked(False)
            self.status.setText("monitor stopped: a run owns the station")
            return
        settings = self.settings()
        self.worker.submit(lambda: self._acquire(settings), self._show,
                           self._failed, key="monitor")

    def _acquire(self, settings: dict):
        """In the station worker: a sweep and the levels it was taken at."""
        freq, trace = self.lab.acquire_spectrum(settings)
        return settings, freq, trace, self.lab.read_station()

    def _failed(self, err: Exception) -> None:
        self.start.setChecked(False)
        self.status.setText(f"monitor stopped: {err}")

    def _show(self, result) -> None:
        settings, freq, trace, reading = result
        values = {**DEFAULTS, **settings}
        if self.data is None or len(self.data.schema.axis("frequency").values) != len(freq) \
                or self.data.info.get("settings") != settings:
            self.data = RunData(monitor_schema(settings), {"procedure": PROCEDURE,
                                                           "settings": settings})
            self.tracker = PeakTracker()
            self.plot.bind(self.data)
        row = {"current": reading.i_shno, "gate_voltage": reading.v_m,
               "field_measured": reading.field, "trace": np.asarray(trace, np.float32)}
        if self.take_background.isChecked():
            self._record_background(trace, settings, reading)
        if self._background_settings != settings:  # another span, RBW or averaging
            self.background = self._background_settings = None
        row.update(analyse_spectrum(freq, trace, values, self.tracker, self.background))
        self.reading = reading
        self.data.add_point(self.sweeps, row)
        self.sweeps += 1
        self.plot.refresh()
        against = "against the background" if self.background is not None else "no background"
        note = f"; {self._note}" if self._note else ""
        self.status.setText(f"sweep {self.sweeps}: {sync_text(self.data)} ({against}){note}")
        self.sweep()

    def _want_background(self, on: bool) -> None:
        if on and not self.running:
            self.status.setText("start the monitor: its next sweep becomes the background")

    def _record_background(self, trace, settings: dict, reading) -> None:
        """The sweep as the background, if it was taken with no current in the stripe."""
        self.take_background.setChecked(False)
        if reading.shno_output and not abs(reading.i_shno) <= 1e-9:  # NaN: not a current
            self.background = self._background_settings = None
            self._note = ("background refused: set I_SHNO to 0 first (the lines would be "
                          "taken for the analyzer's floor)")
            return
        self._note = "background taken"
        self.background = np.array(trace, dtype=float)
        self._background_settings = dict(settings)
        self.tracker = PeakTracker()  # its smoothed background is made anew from this one

    def snapshot(self) -> Path | None:
        """Write the latest spectrum and the station's reading into a one-row run file."""
        from labctl.runfile import RunFile

        if self.data is None or "trace" not in self.data.latest:
            self.status.setText("no spectrum yet: start the monitor first")
            return None
        settings = self.data.info["settings"]
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        path = self.out / f"{stamp}_{PROCEDURE}.h5"
        reading = dataclasses.asdict(self.reading) if self.reading is not None else {}
        metadata = {"run_id": f"snapshot-{stamp}", "procedure": PROCEDURE,
                    "parameters": settings, "station": self.lab.config.to_toml_dict(),
                    "snapshot": json.loads(json.dumps(reading, default=str)),
                    "software_version": __version__, "planned_points": 1,
                    "host": socket.gethostname()}
        rf = RunFile.create(path, self.data.schema, metadata)
        row = {k: v for k, v in self.data.latest.items()
               if k in {q.name for q in self.data.schema.main.quantities}}
        rf.append(row)
        rf.close("completed", "monitor snapshot", {"n_lines": int(row.get("n_lines", 0)),
                                                   "sync": sync_text(self.data)})
        self.status.setText(f"snapshot: {path.name}")
        return path
