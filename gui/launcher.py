"""The procedure launcher: a procedure, its form, who and what, start / pause / abort.

Start is enabled only when every value passes the procedure's checks and the station's limits
(the reason is shown otherwise) and nothing else owns the station. The run goes through
``Lab.start``; its plots, progress and time remaining show in the window's Live tab.
"""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.form import ParameterForm
from gui.runview import duration_text
from labctl.errors import LabctlError
from labctl.registry import available_procedures, procedure_class

METADATA = ("sample", "device", "operator", "comment")


def expected_duration(proc, config) -> str:
    """What the procedure says it will take, if it can say."""
    estimate = getattr(proc, "estimate_duration", None)
    planned = proc.planned_points()
    points = f"{planned} points" if planned else ""
    if callable(estimate):
        try:
            seconds = float(estimate(config))
        except (LabctlError, TypeError, ValueError):
            return points
        return f"{points}, about {duration_text(seconds)}" if points else duration_text(seconds)
    return points


class Launcher(QWidget):
    """Choose a procedure, fill its form, start it on the Lab."""

    add_to_queue = pyqtSignal(str, dict, str)  # procedure, values, foreach text
    run_started = pyqtSignal(str, dict)  # run file, sample/device/operator/comment

    def __init__(self, lab, out: Path = Path("runs"), parent: QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        self.handle = None
        self.procedure = QComboBox()
        self.procedure.addItems(available_procedures())
        self.procedure.currentTextChanged.connect(self.choose)
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.meta = {name: QLineEdit() for name in METADATA}
        self.out = QLineEdit(str(out))
        self.foreach = QLineEdit()
        self.foreach.setPlaceholderText("for the queue: field = 0.6 T, 0.65 T; gate_voltage = 0, 1")
        who = QFormLayout()
        for name, edit in self.meta.items():
            who.addRow(name, edit)
        who.addRow("run folder", self.out)
        who.addRow("foreach", self.foreach)
        self.duration = QLabel("")
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #c62828")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.abort_button = QPushButton("Abort")
        self.queue_button = QPushButton("Add to queue")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.abort_button.clicked.connect(self.abort)
        self.queue_button.clicked.connect(self._queue)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.abort_button, self.queue_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.procedure)
        layout.addWidget(self.title)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(who)
        layout.addWidget(self.duration)
        layout.addWidget(self.reason)
        layout.addLayout(buttons)
        self.form: ParameterForm | None = None
        self.choose(self.procedure.currentText())

    # ---- the form -------------------------------------------------------------------------
    def choose(self, name: str) -> None:
        cls = procedure_class(name)
        self.title.setText(cls.title)
        self.form = ParameterForm(cls, self.check)
        self.scroll.setWidget(self.form)
        self.check()

    def check(self) -> str:
        """Validate the form; enable Start only if it may run. Returns the problem ('')."""
        proc, problem = self.form.build(self.lab.config)
        closed = self.lab.closed  # a lab process that died: its handles cannot be asked
        if closed:
            problem = "the station's lab is closed: nothing can start (restart labctl gui)"
        elif not problem and self.lab.owner is not None:
            problem = f"the station is busy ({self.lab.owner})"
        running = not closed and self.handle is not None and self.handle.state != "finished"
        self.start_button.setEnabled(not problem and not running)
        self.start_button.setToolTip(problem or "start the run")
        self.queue_button.setEnabled(proc is not None)
        self.pause_button.setEnabled(running)
        self.abort_button.setEnabled(running)
        self.reason.setText(problem)
        self.duration.setText(f"expected: {expected_duration(proc, self.lab.config)}"
                              if proc is not None else "")
        return problem

    # ---- the run --------------------------------------------------------------------------
    def start(self):
        """Start the form's procedure; returns its RunHandle (None if refused)."""
        if self.check():
            return None
        proc, _ = self.form.build(self.lab.config)
        meta = {name: edit.text().strip() for name, edit in self.meta.items()}
        try:
            self.handle = self.lab.start(proc, out=self.out.text().strip() or "runs", **meta)
        except LabctlError as err:
            self.reason.setText(str(err))
            return None
        self.pause_button.setText("Pause")
        self.run_started.emit(str(self.handle.path), meta)
        self.check()
        return self.handle

    def pause(self) -> None:
        if self.handle is None:
            return
        if self.handle.state == "paused":
            self.handle.unpause()
            self.pause_button.setText("Pause")
        else:
            self.handle.pause()
            self.pause_button.setText("Continue")

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.abort("aborted from the GUI")

    def on_event(self, event) -> None:
        """The run's end, the station's owner: buttons follow."""
        if event.kind in ("finished", "owner", "state", "queue_finished"):
            self.check()

    def _queue(self) -> None:
        self.add_to_queue.emit(self.procedure.currentText(), self.form.values(),
                               self.foreach.text())
