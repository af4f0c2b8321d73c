"""The window on a simulated Lab, driven as a user would (offscreen): a run from the form, live
map, abort, replay; refused input; manual setpoints; closing during a run; the queue panel."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import Qt

from gui.window import MainWindow
from labctl.lab import open_lab
from labctl.testing import (
    LEVEL_COMMANDS,
    last_commands,
    outputs_at_zero,
    outputs_at_zero_by_log,
    sim_station,
)

SLOW = 0.02  # real seconds per simulated second: a run lasts long enough to watch and abort
SMALL_FC = {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 50e-6, "points": 2001}


@pytest.fixture
def lab():
    with open_lab(config=sim_station(realtime_factor=SLOW)) as lab:
        yield lab


@pytest.fixture
def window(window_on, lab):
    return window_on(lab)


@pytest.fixture
def sim_window(qtbot, tmp_path):
    """A window on the built-in simulated station (a queue file names it "sim")."""
    with open_lab(sim=True) as lab:
        w = MainWindow(lab)
        qtbot.addWidget(w)
        w.show()
        w.queue_panel.out.setText(str(tmp_path / "night"))
        w.queue_panel.path = tmp_path / "night.toml"
        yield w
        w._outputs_down = True  # the lab closes (and ramps down) the station itself
        w.close()


def fill(window, procedure: str, values: dict) -> None:
    window.launcher.procedure.setCurrentText(procedure)
    window.launcher.form.set_values(values)


def test_run_from_the_form_live_map_abort_then_replay(window, qtbot, lab):
    fill(window, "freq-current", SMALL_FC)
    assert window.launcher.start_button.isEnabled()
    qtbot.mouseClick(window.launcher.start_button, Qt.LeftButton)
    live = window.tabs.live
    qtbot.waitUntil(lambda: live.data is not None and live.data.maps["trace"].rows >= 3,
                    timeout=30000)
    assert window.tabs.currentWidget() is live
    assert live.plots[0].defn.kind == "map"
    qtbot.waitUntil(lambda: live.plots[0].tiles[0].image is not None, timeout=5000)  # drawn
    assert not window.station_panel.set_buttons["shno_source"].isEnabled()  # run owns it
    assert not window.launcher.start_button.isEnabled()
    qtbot.mouseClick(window.launcher.abort_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.data.status != "running", timeout=30000)
    handle = window.launcher.handle
    assert handle.wait(10)
    assert live.data.status == handle.status == "aborted"
    assert "aborted from the GUI" in live.data.reason
    assert outputs_at_zero_by_log(lab.station.sim) and outputs_at_zero(lab.station)
    recorded = live.data.points
    assert 3 <= recorded < 33

    qtbot.waitUntil(lambda: window.launcher.start_button.isEnabled(), timeout=5000)
    browser = window.browser
    browser.add_paths([handle.path])
    browser.select(handle.path)
    browser.speed.setCurrentText("as fast as possible")
    qtbot.mouseClick(browser.buttons["Replay"], Qt.LeftButton)
    qtbot.waitUntil(lambda: window.tabs.current_view() is not live, timeout=5000)
    replayed = window.tabs.current_view()
    qtbot.waitUntil(lambda: replayed.data.status == "aborted", timeout=10000)
    assert replayed.data.points == recorded
    assert replayed.data.maps["trace"].rows == recorded


def test_invalid_parameter_keeps_start_disabled(window):
    launcher = window.launcher
    fill(window, "freq-current", {**SMALL_FC, "i_stop": 3e-3})  # station limit: 2.5 mA
    assert not launcher.start_button.isEnabled()
    assert "i_stop" in launcher.reason.text() and "max |I_SHNO|" in launcher.reason.text()
    assert launcher.form.fields["i_stop"].widget.styleSheet()  # marked
    assert launcher.start() is None  # refused, nothing started
    assert window.lab.owner is None
    fill(window, "freq-current", {"i_stop": 2.0e-3, "i_step": 0.0})  # below its minimum
    assert not launcher.start_button.isEnabled() and "i_step" in launcher.reason.text()
    assert not launcher.form.fields["i_stop"].widget.styleSheet()
    fill(window, "freq-current", {"i_step": 50e-6})
    assert launcher.start_button.isEnabled() and not launcher.reason.text()
    # the expected duration is the command line's estimate for this station
    from labctl.registry import procedure_class

    plan = procedure_class("freq-current")(**{**SMALL_FC, "i_stop": 2.0e-3, "i_step": 50e-6}
                                           ).plan(window.lab.config)
    assert launcher.duration.text().startswith("expected: ")
    assert plan.summary() in launcher.duration.text() and " min" in launcher.duration.text()
    fill(window, "sync-map", {})
    launcher.form.fields["gate_voltages"].widget.setText("0 V, 2 A")  # a current for a voltage
    assert not launcher.start_button.isEnabled() and "gate_voltages" in launcher.reason.text()
    launcher.form.fields["gate_voltages"].widget.setText("0 V, 1.5 V")
    assert launcher.start_button.isEnabled()


def test_manual_setpoint_beyond_the_limit_is_refused_and_nothing_sent(window, qtbot, lab):
    panel = window.station_panel
    sim = lab.station.sim

    def levels_sent():
        return {slot: len(sim.instruments[slot].commands(LEVEL_COMMANDS[slot]))
                for slot in LEVEL_COMMANDS}

    before = levels_sent()
    panel.entries["shno_source"].setValue(3e-3)
    assert not panel.set_buttons["shno_source"].isEnabled()
    assert "beyond the station's limit" in panel.set_buttons["shno_source"].toolTip()
    panel.set_output("shno_source")  # as if the button were pressed anyway
    assert "refused" in panel.message.text()
    qtbot.wait(300)
    assert levels_sent() == before  # no level was sent to any source
    assert last_commands(sim)["shno_source"][0] in (None, 0.0)

    panel.entries["shno_source"].setValue(0.3e-3)
    assert panel.set_buttons["shno_source"].isEnabled()
    qtbot.mouseClick(panel.set_buttons["shno_source"], Qt.LeftButton)
    qtbot.waitUntil(lambda: last_commands(sim)["shno_source"][0] == pytest.approx(0.3e-3),
                    timeout=20000)
    qtbot.waitUntil(lambda: "300" in panel.readback["shno_source"].text(), timeout=10000)
    qtbot.mouseClick(panel.down, Qt.LeftButton)
    qtbot.waitUntil(lambda: "every output ramped to zero" in panel.message.text(),
                    timeout=30000)
    assert outputs_at_zero_by_log(sim)


def test_closing_the_window_during_a_run_asks_then_ramps_down(window, qtbot, lab):
    fill(window, "freq-current", SMALL_FC)
    handle = window.launcher.start()
    qtbot.waitUntil(lambda: handle.rows >= 2, timeout=30000)
    questions = []
    window.ask = lambda q: questions.append(q) or False  # "no": keep the run going
    window.close()
    assert window.isVisible() and handle.state != "finished"
    window.ask = lambda q: questions.append(q) or True
    window.close()
    assert len(questions) == 2 and "run" in questions[0]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
    assert handle.status == "aborted"
    assert outputs_at_zero_by_log(lab.station.sim) and outputs_at_zero(lab.station)
    assert window.ramp_down_failures == []


def test_queue_panel_runs_a_two_entry_queue(sim_window, qtbot, tmp_path):
    w, lab = sim_window, sim_window.lab
    panel = w.queue_panel
    fill(w, "memristor-cycles", {"cycles": 2, "v_step": 0.5})
    qtbot.mouseClick(w.launcher.queue_button, Qt.LeftButton)
    fill(w, "freq-current", {"i_start": 1.0e-3, "i_stop": 2.0e-3, "i_step": 250e-6,
                             "points": 1001})
    w.launcher.foreach.setText("gate_voltage = 0 V, 1 V")
    w.launcher._queue()
    assert [e["procedure"] for e in panel.entries] == ["memristor-cycles", "freq-current"]
    assert panel.entries[1]["foreach"] == {"gate_voltage": [0.0, 1.0]}
    panel.table.selectRow(1)
    panel.move(-1)
    assert [e["procedure"] for e in panel.entries] == ["freq-current", "memristor-cycles"]
    qtbot.mouseClick(panel.buttons["Run"], Qt.LeftButton)
    assert panel.handle is not None, panel.status.text()
    qtbot.waitUntil(lambda: panel.status.text().startswith("queue completed"),
                    timeout=60000)
    assert panel.statuses() == ["completed"] * 3  # two gate voltages, then the cycles
    assert sorted(p.name for p in (tmp_path / "night").glob("*.h5")) == [
        "001_freq-current.h5", "002_freq-current.h5", "003_memristor-cycles.h5"]
    reloaded = type(panel)(lab)
    reloaded.load(panel.path)
    assert reloaded.entries == panel.entries


def test_monitor_snapshot_is_a_run_file(window, qtbot, tmp_path):
    from gui.runreader import read_run

    window.monitor.out = tmp_path / "snapshots"
    window.monitor.boxes["points"].setValue(2001)
    window.monitor.boxes["averages"].setValue(5)
    window.monitor.start.setChecked(True)
    qtbot.waitUntil(lambda: window.monitor.sweeps >= 2, timeout=30000)
    window.monitor.start.setChecked(False)
    path = window.monitor.snapshot()
    data = read_run(path)
    assert data.points == 1 and data.status == "completed"
    assert len(data.latest["trace"]) == 2001
    assert data.info["procedure"] == "monitor-snapshot"


def test_monitor_background_is_taken_only_without_current(window, qtbot, lab):
    monitor, panel = window.monitor, window.station_panel
    monitor.boxes["points"].setValue(2001)
    monitor.boxes["averages"].setValue(5)
    monitor.start.setChecked(True)
    monitor.take_background.setChecked(True)  # I_SHNO is at zero
    qtbot.waitUntil(lambda: monitor.background is not None, timeout=30000)
    seen = monitor.sweeps
    qtbot.waitUntil(lambda: monitor.sweeps >= seen + 1, timeout=30000)
    assert "against the background" in monitor.status.text()
    panel.entries["shno_source"].setValue(0.2e-3)
    panel.set_output("shno_source")
    qtbot.waitUntil(lambda: last_commands(lab.station.sim)["shno_source"][0] == pytest.approx(
        0.2e-3), timeout=20000)
    monitor.take_background.setChecked(True)  # with current in the stripe: refused
    qtbot.waitUntil(lambda: monitor.background is None, timeout=30000)
    assert "background refused: set I_SHNO to 0" in monitor.status.text()
    monitor.start.setChecked(False)
    qtbot.waitUntil(window.worker.idle, timeout=10000)


def test_an_uncaught_error_shows_a_dialog_and_ramps_down(window, qtbot, lab, monkeypatch):
    import sys

    from PyQt5.QtWidgets import QMessageBox

    from gui.app import install_error_dialog

    panel = window.station_panel
    panel.entries["shno_source"].setValue(0.2e-3)
    panel.set_output("shno_source")
    qtbot.waitUntil(lambda: last_commands(lab.station.sim)["shno_source"][0] == pytest.approx(
        0.2e-3), timeout=20000)
    qtbot.waitUntil(window.worker.idle, timeout=10000)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_error_dialog(window)
    try:
        raise RuntimeError("a bug in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "a bug in a slot" in boxes[0].text()
    qtbot.waitUntil(lambda: outputs_at_zero_by_log(lab.station.sim), timeout=20000)
    qtbot.waitUntil(lambda: any("ramped down after the error" in m
                                for m in window.log_panel.text_lines()), timeout=10000)


def test_queue_panel_resumes_an_interrupted_queue(sim_window, qtbot):
    panel = sim_window.queue_panel
    # 401 steps: long enough to be running when the click lands (the worker can keep the
    # GIL for tens of ms before the test thread sees the second row)
    panel.add("freq-current", {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 4e-6,
                               "points": 2001})
    panel.add("memristor-cycles", {"cycles": 1, "v_step": 0.5})
    handle = panel.run()
    qtbot.waitUntil(lambda: handle.current is not None and handle.current.rows >= 2,
                    timeout=30000)
    qtbot.mouseClick(panel.buttons["Abort queue"], Qt.LeftButton)  # as a crash would
    qtbot.waitUntil(lambda: panel.status.text().startswith("queue stopped"), timeout=30000)
    assert panel.statuses()[0] == "aborted"
    panel.resume.setChecked(True)
    qtbot.mouseClick(panel.buttons["Run"], Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text().startswith("queue completed"),
                    timeout=60000)
    assert panel.statuses() == ["completed", "completed"]
