"""The log panel: run logs and the station's (Python logging) in one read-only list."""

from __future__ import annotations

import contextlib
import html
import logging
import time

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAX_LINES = 5000
COLORS = {"debug": "#888", "info": "", "warning": "#d80", "error": "#d33", "critical": "#d33"}


class LogPanel(QWidget):
    """Time-stamped lines, coloured by level; warnings and errors can be shown alone."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.only_problems = QCheckBox("warnings and errors only")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.text.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.only_problems)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.text)
        self.lines: list[tuple[str, str, str]] = []  # (source, level, message), for tests

    def add(self, source: str, level: str, message: str) -> None:
        level = level.lower()
        self.lines.append((source, level, message))
        del self.lines[:-MAX_LINES]
        if self.only_problems.isChecked() and level not in ("warning", "error", "critical"):
            return
        color = COLORS.get(level, "")
        stamp = time.strftime("%H:%M:%S")
        body = html.escape(f"{stamp} {source:8s} {level:7s} {message}")
        self.text.appendHtml(f"<span style='color:{color}'>{body}</span>" if color
                             else f"<span>{body}</span>")

    def text_lines(self) -> list[str]:
        return [m for _, _, m in self.lines]


class LogForwarder(QObject, logging.Handler):
    """A logging handler that hands records (from any thread) to the GUI thread."""

    record = pyqtSignal(str, str, str)

    def __init__(self, level: int = logging.INFO):
        QObject.__init__(self)
        logging.Handler.__init__(self, level)

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 (logging's name)
        with contextlib.suppress(RuntimeError):  # the panel is gone (window closing)
            self.record.emit("station", record.levelname.lower(), record.getMessage())
