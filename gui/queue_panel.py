"""The queue panel: build an overnight queue from the launcher, save and load the command line's
TOML queue files, run it on the Lab, see every run's status, resume after a crash.

The file is the queue: Run saves the entries to the queue file first and the Lab runs that
file (``Lab.start_queue``), exactly as ``labctl queue FILE`` would, so its progress file makes
``Resume`` work after a crash of the GUI too.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labctl.errors import LabctlError, UserInputError
from labctl.queue import varied_label
from labctl.registry import procedure_class
from labctl.units import format_value, parse_list

ENTRY_COLUMNS = ("procedure", "set", "foreach")
RUN_COLUMNS = ("#", "procedure", "varied", "status", "run file")
STATUS_COLORS = {"completed": "#2a8", "failed": "#d33", "aborted": "#d80", "running": "#48c"}


def parse_foreach(procedure: str, text: str) -> dict[str, list]:
    """``field = 0.6 T, 0.65 T; gate_voltage = 0, 1`` -> {name: [SI values]}."""
    cls = procedure_class(procedure)
    out: dict[str, list] = {}
    for part in filter(str.strip, text.split(";")):
        name, eq, values = part.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UserInputError(f"foreach {part.strip()!r}: expected NAME = v1, v2, ...")
        p = cls.parameter(name)
        out[name] = parse_list(values, p.unit, name)
    return out


def short(values: dict[str, Any], cls) -> str:
    def one(name, v):
        unit = cls.parameter(name).unit if name in {p.name for p in cls.parameters} else ""
        if isinstance(v, list):
            return "[" + ", ".join(format_value(x, unit) if isinstance(x, float) else str(x)
                                   for x in v) + "]"
        return format_value(v, unit) if isinstance(v, float) else str(v)

    return ", ".join(f"{k} = {one(k, v)}" for k, v in values.items())


def changed_values(procedure: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values that differ from the procedure's defaults (a queue file lists only those)."""
    cls = procedure_class(procedure)
    return {p.name: values[p.name] for p in cls.parameters
            if p.name in values and values[p.name] != p.default}


class QueuePanel(QWidget):
    """Entries of a queue file, the runs they expand to, and their status."""

    def __init__(self, lab, parent: QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        self.entries: list[dict[str, Any]] = []
        self.path: Path | None = None
        self.handle = None
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        self.out = QLineEdit(str(Path("runs") / f"queue-{stamp}"))
        self.on_failure_stop = QCheckBox("stop the queue when a run fails")
        self.plots = QCheckBox("figures of each run")
        self.plots.setToolTip("plots = true: each run's figures into <run folder>/figures")
        self.resume = QCheckBox("resume (carry on after a crash)")
        self.table = QTableWidget(0, len(ENTRY_COLUMNS))
        self.table.setHorizontalHeaderLabels(ENTRY_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.runs = QTableWidget(0, len(RUN_COLUMNS))
        self.runs.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.runs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.runs.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        edit, run = QHBoxLayout(), QHBoxLayout()
        for row, text, slot in ((edit, "Up", lambda: self.move(-1)),
                                (edit, "Down", lambda: self.move(1)),
                                (edit, "Remove", self.remove), (edit, "Load…", self.ask_load),
                                (edit, "Save…", self.ask_save), (run, "Run", self.run),
                                (run, "Abort queue", self.abort)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
            self.buttons[text.rstrip("…")] = b
        run.addWidget(self.resume)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit)
        folder = QHBoxLayout()
        folder.addWidget(QLabel("run folder"))
        folder.addWidget(self.out, 1)
        folder.addWidget(self.on_failure_stop)
        folder.addWidget(self.plots)
        layout.addLayout(folder)
        layout.addLayout(run)
        layout.addWidget(self.runs, 1)
        layout.addWidget(self.status)

    # ---- building -------------------------------------------------------------------------
    def add(self, procedure: str, values: dict[str, Any], foreach: str | dict = "") -> None:
        """An entry from the launcher's form (every value checked there) and its sweeps."""
        try:
            sweeps = parse_foreach(procedure, foreach) if isinstance(foreach, str) else foreach
        except LabctlError as err:
            self.status.setText(str(err))
            return
        fixed = {k: v for k, v in changed_values(procedure, values).items() if k not in sweeps}
        self.entries.append({"procedure": procedure, "set": fixed, "foreach": sweeps})
        self._fill()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            cls = procedure_class(e["procedure"])
            for col, text in enumerate((e["procedure"], short(e["set"], cls),
                                        short(e["foreach"], cls))):
                self.table.setItem(row, col, QTableWidgetItem(text))

    def selected_row(self) -> int:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return rows[0] if rows else -1

    def move(self, step: int) -> None:
        row = self.selected_row()
        target = row + step
        if row < 0 or not 0 <= target < len(self.entries):
            return
        self.entries[row], self.entries[target] = self.entries[target], self.entries[row]
        self._fill()
        self.table.selectRow(target)

    def remove(self) -> None:
        row = self.selected_row()
        if row >= 0:
            del self.entries[row]
            self._fill()

    # ---- files ----------------------------------------------------------------------------
    def station_key(self) -> str:
        source = self.lab.config.source
        match = re.fullmatch(r"station file '(.+)'", source)
        if match:
            return str(Path(match.group(1)).resolve())
        if self.lab.config.simulated and source == "built-in simulated station":
            return "sim"
        raise UserInputError(f"this lab's station ({source or self.lab.config.name}) is not a "
                             "station file: a queue file cannot name it")

    def document(self) -> dict[str, Any]:
        runs = []
        for e in self.entries:
            run = {"procedure": e["procedure"]}
            if e["set"]:
                run["set"] = e["set"]
            if e["foreach"]:
                run["foreach"] = e["foreach"]
            runs.append(run)
        return {"station": self.station_key(), "out": str(Path(self.out.text()).resolve()),
                "on_failure": "stop" if self.on_failure_stop.isChecked() else "continue",
                "plots": self.plots.isChecked(), "run": runs}

    def save(self, path: str | Path) -> Path:
        """Write the queue file (checked first, as ``labctl queue`` would check it)."""
        from labctl.queue import load_queue

        path = Path(path)
        if not self.entries:
            raise UserInputError("the queue is empty: add entries from the launcher")
        text = tomli_w.dumps(self.document())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        try:
            load_queue(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        path.write_text(text, encoding="utf-8")
        self.path = path
        self.status.setText(f"saved {path}")
        return path

    def load(self, path: str | Path) -> None:
        from labctl.queue import load_queue

        path = Path(path)
        load_queue(path)  # every mistake: one line, before the panel changes
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        self.entries = [{"procedure": r["procedure"], "set": dict(r.get("set", {})),
                         "foreach": dict(r.get("foreach", {}))} for r in data["run"]]
        out = Path(data["out"])
        self.out.setText(str(out if out.is_absolute() else path.parent / out))
        self.on_failure_stop.setChecked(data.get("on_failure") == "stop")
        self.plots.setChecked(bool(data.get("plots", False)))
        self.path = path
        self._fill()
        self.status.setText(f"loaded {path}")

    def ask_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save queue", str(self.path or ""),
                                              "Queue files (*.toml)")
        if name:
            self._guard(lambda: self.save(name))

    def ask_load(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load queue", "", "Queue files (*.toml)")
        if name:
            self._guard(lambda: self.load(name))

    def _guard(self, action):
        try:
            return action()
        except LabctlError as err:
            self.status.setText(str(err))
            return None

    # ---- running --------------------------------------------------------------------------
    def run(self):
        """Save to the queue file and start it on the Lab; returns the QueueHandle."""
        if self.path is None:
            self.ask_save()
            if self.path is None:
                return None
        resume = self.resume.isChecked()

        def start():
            if not resume:
                self.save(self.path)
            return self.lab.start_queue(self.path, resume=resume)

        self.handle = self._guard(start)
        return self.handle

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.abort("queue aborted from the GUI")

    def on_event(self, event) -> None:
        """Queue events: the runs it expanded to and the status of each."""
        data = event.data
        if event.kind == "queue_started":
            self._show_runs(data.get("entries", []))
            self.status.setText(f"queue running: {data.get('path', '')}")
        elif event.kind in ("entry_started", "entry_finished") and self.handle is not None:
            self._show_runs(self.handle.entries)
        elif event.kind == "queue_finished":
            if self.handle is not None:
                self._show_runs(self.handle.entries)
            self.status.setText(f"queue {data.get('status')}: {data.get('reason', '')}")
        elif event.kind == "lost" and self.handle is not None:
            self.status.setText(f"queue lost: {data.get('reason', '')}")

    def _show_runs(self, runs: list[dict]) -> None:
        self.runs.setRowCount(len(runs))
        for row, r in enumerate(runs):
            varied = varied_label(r.get("procedure", ""), r.get("varied") or {})
            cells = (str(r.get("index", row + 1)), r.get("procedure", ""), varied,
                     r.get("status", ""), Path(r.get("path") or "").name)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if RUN_COLUMNS[col] == "status" and text in STATUS_COLORS:
                    item.setForeground(QColor(STATUS_COLORS[text]))
                self.runs.setItem(row, col, item)

    def statuses(self) -> list[str]:
        return [self.runs.item(r, 3).text() for r in range(self.runs.rowCount())]
