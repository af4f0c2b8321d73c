"""The window on a lab in a process of its own (what `labctl gui --sim` opens): a run started
from the form shows live from its file, aborts, and leaves the outputs at zero; closing the
window during a run ramps down; the lab process ending unexpectedly is said."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from PyQt5.QtCore import Qt

from labctl.lab import RemoteLab
from labctl.runfile import read_info
from labctl.testing import reading_at_zero

SMALL_FC = {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 50e-6, "points": 2001}


@pytest.fixture
def remote(write_station):
    lab = RemoteLab(write_station(("realtime_factor = 0.0", "realtime_factor = 0.02")))
    yield lab
    lab.close()


@pytest.fixture
def window(window_on, remote):
    return window_on(remote)


def start(window, qtbot) -> None:
    window.launcher.procedure.setCurrentText("freq-current")
    window.launcher.form.set_values(SMALL_FC)
    qtbot.waitUntil(window.launcher.start_button.isEnabled, timeout=5000)
    qtbot.mouseClick(window.launcher.start_button, Qt.LeftButton)


def test_a_run_shows_live_from_its_file_and_aborts_with_outputs_reading_at_zero(window, qtbot,
                                                                         remote):
    start(window, qtbot)
    live = window.tabs.live
    qtbot.waitUntil(lambda: live.data is not None and live.data.maps["trace"].rows >= 3,
                    timeout=30000)
    assert live.data.info["path"] in window.tabs._live_paths()  # read from the file
    trace = live.data.latest["trace"]
    assert trace.shape == (2001,) and np.isfinite(trace).all()  # whole spectra, not events
    qtbot.waitUntil(lambda: live.plots[0].tiles[0].image is not None, timeout=5000)
    assert not window.launcher.start_button.isEnabled()  # the lab process's run owns it
    assert not window.station_panel.set_buttons["shno_source"].isEnabled()
    qtbot.mouseClick(window.launcher.abort_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.data.status != "running", timeout=30000)
    handle = window.launcher.handle
    assert handle.wait(10) and live.data.status == handle.status == "aborted"
    assert "aborted from the GUI" in live.data.reason
    assert not window.tabs.live_files  # the file is let go
    info = read_info(handle.path)
    assert live.data.points == info["rows"]["point"] >= 3  # every row written is shown
    assert live.data.maps["trace"].rows == info["rows"]["point"]
    assert reading_at_zero(remote.read_station())
    qtbot.waitUntil(window.launcher.start_button.isEnabled, timeout=5000)


def test_closing_the_window_during_a_run_ramps_down_in_the_lab_process(window, qtbot, remote):
    start(window, qtbot)
    qtbot.waitUntil(lambda: remote.owner == "run" and window.tabs.live.data is not None
                    and window.tabs.live.data.points >= 2, timeout=30000)
    window.ask = lambda question: True  # "A run is in progress. Abort it ...?" Yes
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60000)
    handle = window.launcher.handle
    assert handle.status == "aborted" and "GUI window was closed" in handle.reason
    assert reading_at_zero(remote.read_station())


def test_the_lab_process_ending_unexpectedly_is_told_and_the_window_closes(window, qtbot,
                                                                           remote):
    os.kill(remote.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: "ended unexpectedly" in window.last_message, timeout=30000)
    assert "labctl safe" in window.last_message
    qtbot.waitUntil(lambda: "station: idle" in window.station_panel.owner.text(),
                    timeout=5000)
    window.close()  # nothing to ask or ramp down: the lab is gone
    assert not window.isVisible()


def test_pause_and_continue_from_the_window_reach_the_run_in_the_lab_process(window, qtbot,
                                                                           remote):
    start(window, qtbot)
    handle = window.launcher.handle
    qtbot.waitUntil(lambda: handle.rows >= 2, timeout=30000)
    try:
        qtbot.mouseClick(window.launcher.pause_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: handle.state == "paused", timeout=30000)
        qtbot.wait(1000)  # the point in progress when the pause came is completed
        rows = handle.rows
        qtbot.wait(1500)  # at realtime_factor 0.02 a point takes ~0.2 s: none may come now
        assert handle.rows == rows and handle.state == "paused"
        assert window.launcher.pause_button.text() == "Continue"
        qtbot.mouseClick(window.launcher.pause_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: handle.rows > rows, timeout=30000)
    finally:
        handle.abort("test over")  # never leave the window closing on a run (it would ask)
    assert handle.wait(60) and handle.status == "aborted"


def test_manual_ramps_and_ramp_everything_down_go_through_the_lab_process(window, qtbot,
                                                                          remote):
    panel = window.station_panel
    for role, value in (("shno_source", 1.0e-3), ("gate", 0.5), ("field", 0.1)):
        panel.entries[role].setValue(value)
        assert panel.set_buttons[role].isEnabled()
        qtbot.mouseClick(panel.set_buttons[role], Qt.LeftButton)
        qtbot.waitUntil(lambda: " at " in panel.message.text(), timeout=60000)
    reading = remote.read_station()  # read from the instruments by the lab process
    assert reading.i_shno == pytest.approx(1.0e-3) and reading.shno_output
    assert reading.v_m == pytest.approx(0.5) and reading.gate_output
    assert reading.field == pytest.approx(0.1, abs=5e-3)
    panel.entries["shno_source"].setValue(1.0)  # beyond the limit: refused here, not sent
    assert not panel.set_buttons["shno_source"].isEnabled()
    panel.set_output("shno_source")
    assert "refused" in panel.message.text()
    assert remote.read_station().i_shno == pytest.approx(1.0e-3)
    qtbot.mouseClick(panel.down, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.message.text() == "every output ramped to zero",
                    timeout=60000)
    assert reading_at_zero(remote.read_station())


def test_the_lab_process_dying_during_a_run_is_told_and_the_run_not_shown_as_going_on(
        window, qtbot, remote):
    start(window, qtbot)
    live = window.tabs.live
    qtbot.waitUntil(lambda: live.data is not None and live.data.points >= 2, timeout=30000)
    os.kill(remote.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: "ended unexpectedly" in window.last_message, timeout=30000)
    qtbot.waitUntil(lambda: live.data.status == "lost", timeout=5000)
    assert "ended unexpectedly" in live.data.reason and not window.tabs.live_files
    assert "lost" in live.heading.text() and "ended unexpectedly" in live.heading.text()
    launcher = window.launcher
    assert not launcher.pause_button.isEnabled() and not launcher.abort_button.isEnabled()
    assert not launcher.start_button.isEnabled()  # the lab is gone: nothing can start
    assert "lab is closed" in launcher.reason.text()
    qtbot.wait(1500)  # timers keep running: no uncaught error from a call to the dead lab
    window.close()
    assert not window.isVisible()
