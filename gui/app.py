"""`labctl gui`: start the Qt application, the window and (with a station) the Lab.

Uncaught errors become a dialog and a ramp-down, never a silent crash. SIGTERM and Ctrl-C in the
terminal abort a run in progress, ramp the outputs down and close the window.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from pathlib import Path

from PyQt5.QtCore import QSettings, QTimer
from PyQt5.QtWidgets import QApplication, QMessageBox

from gui import theme
from gui.export import qt_app

log = logging.getLogger(__name__)
SIGNAL_POLL_MS = 200  # Python runs signal handlers only between bytecodes: wake it up


def setup_app() -> QApplication:
    app = qt_app()
    app.setOrganizationName("labctl")
    app.setApplicationName("labctl-gui")
    theme.apply(str(QSettings().value("theme", "light")), app)
    return app


def install_error_dialog(window) -> None:
    """An uncaught exception in a slot: log it, ramp down if a Lab is open, tell the user."""

    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        log.error("uncaught error in the GUI:\n%s", text)
        failures = window.emergency_ramp_down() if hasattr(window, "emergency_ramp_down") else []
        extra = ("\n\nOutputs ramped down." if window.lab is not None and not failures
                 else "".join(f"\nRAMP-DOWN FAILED: {f}" for f in failures))
        box = QMessageBox(QMessageBox.Critical, "labctl: error",
                          f"{kind.__name__}: {value}{extra}", parent=window)
        box.setDetailedText(text)
        box.show()  # not exec_(): a modal loop inside the hook could re-enter the error

    sys.excepthook = hook


def install_signal_handlers(window) -> QTimer:
    """SIGTERM / SIGINT: close the window as the user would, without asking."""

    def handler(signum, _frame) -> None:
        log.warning("signal %s: closing", signal.Signals(signum).name)
        QTimer.singleShot(0, lambda: window.close_without_asking(
            f"{signal.Signals(signum).name} received"))

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(SIGNAL_POLL_MS)
    return timer


def open_lab(sim: bool, station: Path | None):
    """The Lab of the station chosen on the command line (None: browser only), in a process
    of its own: a run there never waits for the window (see labctl.lab.server)."""
    if not sim and station is None:
        return None
    from labctl.lab import RemoteLab

    return RemoteLab(sim=True) if sim else RemoteLab(station)


def run_gui(paths: list[Path], sim: bool = False, station: Path | None = None) -> int:
    """Run the GUI until its window closes; returns the exit code."""
    from gui.window import MainWindow

    app = setup_app()
    lab = open_lab(sim, station)
    window = MainWindow(lab)
    install_error_dialog(window)
    window.signal_timer = install_signal_handlers(window)
    window.open_paths(paths)
    window.show()
    where = (f"station '{lab.config.name}', lab process {lab.process.pid}" if lab is not None
             else "run browser only")
    print(f"labctl gui: window open ({where}, Qt platform {app.platformName()})",
          file=sys.stderr, flush=True)
    try:
        return app.exec_()
    finally:
        if lab is not None:
            lab.close()
