"""The run browser: a read-only table of run files, to show, replay, follow or compare them."""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.export import key_results, started_text
from gui.runreader import read_summary
from labctl.errors import LabctlError

COLUMNS = ("procedure", "status", "started", "points", "sample", "key results", "file")
SPEEDS = {"10 points/s": 10.0, "100 points/s": 100.0, "1,000 points/s": 1000.0,
          "as fast as possible": None}


class RunBrowser(QWidget):
    """Files or folders of runs in a table; nothing here writes to a run file."""

    show_run = pyqtSignal(str)
    replay_run = pyqtSignal(str, object)  # path, rows per second (None: as fast as possible)
    follow_run = pyqtSignal(str)
    compare_runs = pyqtSignal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.paths: list[Path] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("key results"), QHeaderView.Stretch)
        self.table.doubleClicked.connect(lambda _: self._show())
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentIndex(1)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, slot, tip in (
                ("Open files…", self.ask_files, "add run files to the table"),
                ("Open folder…", self.ask_folder, "add every run file of a folder"),
                ("Reload", self.reload, "read the table's files again"),
                ("Show", self._show, "the whole run at once (double-click does the same)"),
                ("Replay", self._replay, "the run point by point at the chosen speed"),
                ("Follow", self._follow, "watch a run another process is writing, until it ends"),
                ("Compare", self._compare, "two selected runs side by side")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
            self.buttons[text.rstrip("…")] = b
            if text == "Replay":
                buttons.addWidget(self.speed)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.table)

    # ---- filling the table -----------------------------------------------------------------
    def ask_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open run files", "", "Run files (*.h5)")
        self.add_paths(files)

    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of runs")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str | Path) -> None:
        self.add_paths(sorted(Path(folder).glob("*.h5")))

    def add_paths(self, paths) -> None:
        for p in paths:
            p = Path(p).resolve()
            if p not in self.paths:
                self.paths.append(p)
        self.reload()

    def reload(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.paths))
        for row, path in enumerate(self.paths):
            for col, text in enumerate(self._cells(path)):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, str(path))
                if COLUMNS[col] == "points":
                    item.setData(Qt.DisplayRole, int(text) if text.isdigit() else text)
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)

    @staticmethod
    def _cells(path: Path) -> list[str]:
        try:
            info = read_summary(path)
        except LabctlError as err:
            return ["?", "unreadable", "", "", "", str(err), path.name]
        status = info["status"]
        if status == "running":
            status = "running (or never closed)"
        return [info["procedure"], status, started_text(info["started"]), str(info["points"]),
                info.get("sample", ""), " · ".join(key_results(info["results"])), path.name]

    # ---- actions ---------------------------------------------------------------------------
    def selected(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.table.item(r, 0).data(Qt.UserRole) for r in rows]

    def select(self, *paths: str | Path) -> None:
        """Select the rows of ``paths`` (as a user's clicks would)."""
        wanted = {str(Path(p).resolve()) for p in paths}
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.MultiSelection)
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.UserRole) in wanted:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    def _show(self) -> None:
        for path in self.selected()[:1]:
            self.show_run.emit(path)

    def _replay(self) -> None:
        for path in self.selected()[:1]:
            self.replay_run.emit(path, SPEEDS[self.speed.currentText()])

    def _follow(self) -> None:
        for path in self.selected()[:1]:
            self.follow_run.emit(path)

    def _compare(self) -> None:
        chosen = self.selected()
        if len(chosen) >= 2:
            self.compare_runs.emit(chosen[0], chosen[1])
