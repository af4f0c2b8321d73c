"""The main window: run tabs in the centre, docked panels around them, layout remembered.

Without a Lab (``labctl gui RUNFILE ...``) only the browser, the run tabs and the log exist: no
instrument is touched. With a Lab the station, launcher and queue panels join them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt, QTimer
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
)

from gui import theme
from gui.browser import RunBrowser
from gui.logpanel import LogForwarder, LogPanel
from gui.viewer import RunTabs
from labctl.errors import LabctlError

REFRESH_HZ = 25  # the live spectrum and map; summaries redraw once a second
LAYOUT_VERSION = 1  # bump when the docks change, so an old saved layout is not misapplied
log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, lab=None):
        super().__init__()
        self.lab = lab
        self._forced_close = ""  # set by a signal: close without asking
        self._shutting_down = False
        self._outputs_down = False  # the Lab's outputs were ramped down for closing
        self.ramp_down_failures: list[str] = []
        self.last_message = ""
        self.setWindowTitle("labctl — probe station" if lab is not None else "labctl — runs")
        self.tabs = RunTabs()
        self.setCentralWidget(self.tabs)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowNestedDocks
                            | QMainWindow.AllowTabbedDocks)
        self.browser = RunBrowser()
        self.log_panel = LogPanel()
        self.docks: dict[str, QDockWidget] = {}
        self.add_dock("runs", "Runs", self.browser, Qt.BottomDockWidgetArea)
        self.add_dock("log", "Log", self.log_panel, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["runs"], self.docks["log"])
        self.docks["runs"].raise_()
        self.browser.show_run.connect(self.guarded(self.tabs.show_file))
        self.browser.replay_run.connect(self.guarded(self.tabs.replay_file))
        self.browser.follow_run.connect(self.guarded(self.tabs.follow_file))
        self.browser.compare_runs.connect(self.guarded(self.tabs.compare_files))
        self.tabs.log_line.connect(self.log_panel.add)
        self.forwarder = LogForwarder()
        self.forwarder.record.connect(self.log_panel.add)
        for name in ("labctl", "drivers", "procedures"):
            logging.getLogger(name).addHandler(self.forwarder)
        self.panels = []
        if lab is not None:
            self._add_lab_panels(lab)
        self._menus()
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.tabs.tick)
        self.timer.start()
        self.resize(1500, 950)
        self.restore_layout()

    # ---- building --------------------------------------------------------------------------
    def add_dock(self, key: str, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")  # saveState needs a name per dock
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _add_lab_panels(self, lab) -> None:
        """Station, monitor, launcher and queue panels (they need the Lab)."""
        from gui.launcher import Launcher
        from gui.monitor import MonitorPanel
        from gui.queue_panel import QueuePanel
        from gui.station_panel import StationPanel
        from gui.station_worker import StationWorker

        self.worker = StationWorker(self)
        self.station_panel = StationPanel(lab, self.worker)
        self.monitor = MonitorPanel(lab, self.worker)
        self.launcher = Launcher(lab)
        self.queue_panel = QueuePanel(lab)
        self.add_dock("station", "Station", self.station_panel, Qt.LeftDockWidgetArea)
        self.add_dock("monitor", "Monitor", self.monitor, Qt.LeftDockWidgetArea)
        self.add_dock("launcher", "Procedure", self.launcher, Qt.RightDockWidgetArea)
        self.add_dock("queue", "Queue", self.queue_panel, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["launcher"], self.docks["queue"])
        self.docks["launcher"].raise_()
        self.launcher.add_to_queue.connect(self.queue_panel.add)
        self.launcher.run_started.connect(self.tabs.note_metadata)
        self.tabs.insertTab(1, self.monitor.plot, "Monitor")
        self.tabs.tabBar().setTabButton(1, self.tabs.tabBar().RightSide, None)
        self.monitor.started.connect(lambda: self.tabs.setCurrentWidget(self.monitor.plot))
        self.tabs.listeners += [self.station_panel.on_event, self.launcher.on_event,
                                self.queue_panel.on_event, self._on_lab_event]
        self._unsubscribe = lab.subscribe(self.tabs.buffer)

    def _on_lab_event(self, event) -> None:
        if event.kind == "lost":
            self.tell("error", f"{event.data.get('reason')}: the station may have outputs on; "
                               "`labctl safe` ramps them down")
        elif event.kind == "owner" and event.data.get("owner") in ("run", "queue"):
            self.monitor.sweep()  # stops the monitor: a run owns the station now
        elif event.kind == "queue_finished" or (event.kind == "finished" and
                                                getattr(event, "source", "run") == "run"):
            self.log_panel.add("run", "info", f"{event.kind}: {event.data.get('status')} "
                                              f"{event.data.get('reason', '')}")

    def _menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for text, slot in (("Open run files…", self.browser.ask_files),
                           ("Open folder of runs…", self.browser.ask_folder),
                           ("Export figures of this run…", self.export_current)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        group = QActionGroup(self)
        for name in theme.THEMES:
            action = QAction(f"{name.capitalize()} theme", self, checkable=True)
            action.setChecked(name == theme.theme_name())
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(action)
            view.addAction(action)

    def guarded(self, action):
        """``action`` with a user's mistake (LabctlError: a damaged file, a value beyond a limit)
        shown as one line in a message and the log, not raised."""

        def run(*args):
            try:
                return action(*args)
            except LabctlError as err:
                self.tell("error", str(err))
                return None

        return run

    def tell(self, level: str, message: str) -> None:
        """One line for the user: in the log, and in a message box that does not block."""
        self.log_panel.add("gui", level, message)
        box = QMessageBox(QMessageBox.Warning if level != "error" else QMessageBox.Critical,
                          "labctl", message, parent=self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()
        self.last_message = message

    # ---- actions ---------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        """Applies to the window now and to plots opened from here on (and after a restart)."""
        theme.apply(name, QApplication.instance())
        QSettings().setValue("theme", name)

    def export_current(self) -> None:
        view = self.tabs.current_view()
        if view is None or view.data is None or not view.data.info.get("path"):
            QMessageBox.information(self, "Export", "Show a run first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the figures")
        if folder:
            from gui.export import export_run

            figures = export_run(view.data.info["path"], folder)
            self.log_panel.add("gui", "info", f"{len(figures)} figures written to {folder}")

    def open_paths(self, paths) -> None:
        """Runs given on the command line: files into the browser (folders: their runs), the
        first shown."""
        files = []
        for p in map(Path, paths):
            files.extend(sorted(p.glob("*.h5")) if p.is_dir() else [p])
        self.browser.add_paths(files)
        if files:
            self.tabs.show_file(files[0])

    # ---- layout ----------------------------------------------------------------------------
    def save_layout(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        for view in self._views():
            view.save_layout()

    def restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)

    def _views(self):
        from gui.runview import RunView

        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            yield from (v for v in getattr(w, "views", [w]) if isinstance(v, RunView))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.may_close():
            event.ignore()
            return
        self.timer.stop()
        self.tabs.stop_replays()
        self.save_layout()
        for name in ("labctl", "drivers", "procedures"):
            logging.getLogger(name).removeHandler(self.forwarder)
        if self.lab is not None:
            self._unsubscribe()
            self.worker.stop()
        event.accept()

    def may_close(self) -> bool:
        """With a Lab: ask if a run or queue is in progress, then abort it and ramp every
        output down; the window closes itself once they are at zero."""
        if self.lab is None or self._outputs_down or self.lab.closed:
            return True
        owner = self.lab.owner
        if owner in ("run", "queue") and not self._forced_close and not self.ask(
                f"A {owner} is in progress. Abort it, ramp every output down and close?"):
            return False
        self.shut_down(self._forced_close or "the GUI window was closed")
        return False

    def ask(self, question: str) -> bool:
        """A yes/no question to the user (tests answer it themselves)."""
        return QMessageBox.question(self, "labctl", question) == QMessageBox.Yes

    def shut_down(self, reason: str) -> None:
        """Abort what runs, ramp every output down, then close (without blocking the window)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self.lab.abort(reason)
        self.statusBar().showMessage("aborting and ramping every output down; the window "
                                     "closes when they are at zero")
        self.log_panel.add("gui", "warning", f"closing: {reason}; ramping down")
        self.worker.ramp_down(self.lab, self._down_then_close)

    def _down_then_close(self, failures: list[str]) -> None:
        self.ramp_down_failures = failures
        for f in failures:
            self.log_panel.add("gui", "error", f"RAMP-DOWN FAILED: {f}")
        self._outputs_down = True
        self.close()

    def close_without_asking(self, reason: str) -> None:
        """SIGTERM, Ctrl-C: abort whatever runs (outputs ramp down) and close."""
        self._forced_close = reason
        self.close()

    def emergency_ramp_down(self) -> list[str]:
        """After an uncaught error: abort what runs and ramp every output down (in the
        background; the log says when it is done)."""
        if self.lab is not None and not self.lab.closed:
            self.worker.ramp_down(self.lab, lambda failures: self.log_panel.add(
                "gui", "error" if failures else "info",
                "RAMP-DOWN FAILED: " + "; ".join(failures) if failures
                else "outputs ramped down after the error"))
        return []
