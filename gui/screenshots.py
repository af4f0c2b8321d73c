"""The README's screenshots, made from the real window on the simulated station.

    python -m gui.screenshots [--out docs/screenshots]

Views: the station panel with the monitor's live spectrum (four free-running lines against
its background), a
freq-current run with its map (four lines merging into one), memristor I–V loops, the run
browser comparing two synchronization maps (memristor in HRS, then programmed to LRS), and the
queue panel after a night's queue. Everything runs offscreen; runs go to a scratch folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT = 1680, 1000


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("screenshot scene did not come up")
        app.processEvents()
        time.sleep(0.02)


def save(window, app, path: Path) -> None:
    settle(app)
    window.resize(WIDTH, HEIGHT)
    window.tabs.refresh(force=True)
    settle(app)
    window.grab().save(str(path))
    print(path)


def only_docks(window, *keys: str) -> None:
    for key, dock in window.docks.items():
        dock.setVisible(key in keys)


def make(out: Path) -> list[Path]:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtCore import QSettings

    from gui.app import setup_app
    from gui.window import MainWindow
    from labctl.lab import open_lab

    app = setup_app()
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, open_lab(sim=True) as lab:
        runs = Path(tmp)
        # the default layout, not the user's remembered one (and nothing written into it)
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(runs / "settings"))
        window = MainWindow(lab)
        window.resize(WIDTH, HEIGHT)
        window.show()
        window.launcher.out.setText(str(runs))

        # 1. station panel + monitor: a background at I_SHNO = 0, then I_SHNO where the four
        # oscillators run free (their lines a few dB above the floor)
        only_docks(window, "station", "monitor", "launcher")
        panel, monitor = window.station_panel, window.monitor
        panel.entries["field"].setValue(0.65)
        panel.set_output("field")
        wait(app, lambda: window.worker.idle())
        monitor.boxes["f_start"].setValue(9.9e9)
        monitor.boxes["f_stop"].setValue(10.7e9)
        monitor.boxes["averages"].setValue(50)
        monitor.start.setChecked(True)
        monitor.take_background.setChecked(True)
        wait(app, lambda: monitor.background is not None)
        panel.entries["shno_source"].setValue(1.3e-3)
        panel.set_output("shno_source")
        wait(app, lambda: window.worker.idle() or monitor.reading is not None
             and monitor.reading.i_shno == 1.3e-3)
        seen = monitor.sweeps
        wait(app, lambda: monitor.sweeps >= seen + 3)
        window.docks["monitor"].raise_()
        shots.append(out / "station-monitor.png")
        save(window, app, shots[-1])
        monitor.start.setChecked(False)
        wait(app, lambda: window.worker.idle())

        # 2. a freq-current run with its map
        only_docks(window, "launcher", "log")
        window.launcher.procedure.setCurrentText("freq-current")
        window.launcher.form.set_values({"i_start": 0.6e-3, "i_stop": 2.2e-3,
                                         "i_step": 10e-6})
        window.launcher.meta["sample"].setText("W/CoFeB/MgO chain #3")
        handle = window.launcher.start()
        wait(app, lambda: handle.state == "finished", 600)
        wait(app, lambda: window.tabs.live.data.status != "running")
        shots.append(out / "freq-current-map.png")
        save(window, app, shots[-1])

        # 3. memristor I–V loops
        result = lab.run("memristor-cycles", {"cycles": 12, "v_step": 0.1},
                         out=runs, sample="W/CoFeB/MgO chain #3")
        settle(app)
        window.tabs.show_file(result.path)
        only_docks(window)
        shots.append(out / "memristor-loops.png")
        save(window, app, shots[-1])

        # 4. the browser comparing two sync maps: memristor in HRS, then programmed to LRS
        # (each state's V_M within its safe window: a positive level SETs an HRS from ~2 V,
        # an LRS is RESET from about -0.3 V and grown by more than +0.3 V)
        common = {"i_start": 0.8e-3, "i_stop": 2.2e-3, "i_step": 25e-6, "points": 4001}
        gates = {"HRS": [0.0, 0.5, 1.0, 1.5], "LRS": [0.0, 0.1, 0.2, 0.3]}
        pair = [lab.run("sync-map", {**common, "gate_voltages": volts,
                                     "memristor_targets": [target]}, out=runs).path
                for target, volts in gates.items()]
        window.browser.add_folder(runs)
        settle(app)  # the runs' own events reach the Live tab first
        window.tabs.compare_files(*pair)
        for view in window.tabs.currentWidget().views:
            view.split.setSizes([300, 560])  # the sync maps are what this view compares
            view.right.setSizes([200, 620])
            tabs = view.tabs
            for i in range(tabs.count()):
                if tabs.widget(i).defn.kind == "sync-map":
                    tabs.setCurrentIndex(i)
        only_docks(window, "runs")
        window.browser.select(*pair)
        shots.append(out / "browser-compare.png")
        save(window, app, shots[-1])

        # 5. the queue panel after a short queue
        only_docks(window, "queue", "launcher", "log")
        window.docks["queue"].raise_()
        q = window.queue_panel
        q.out.setText(str(runs / "night"))
        q.add("memristor-program", {"state": "LRS"})
        q.add("freq-current", {"i_start": 0.8e-3, "i_stop": 2.2e-3, "i_step": 100e-6,
                               "points": 2001}, "gate_voltage = 0 V, 200 mV")
        q.add("memristor-program", {"state": "HRS"})
        q.path = runs / "night.toml"
        q.run()
        wait(app, lambda: q.status.text().startswith("queue "), 600)
        wait(app, lambda: q.handle is not None and q.handle.wait(0), 600)
        settle(app, 1.0)
        shots.append(out / "queue.png")
        save(window, app, shots[-1])
        window._outputs_down = True  # the lab closes (and ramps down) below
        window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make the README's screenshots")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    make(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
