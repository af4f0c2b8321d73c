"""The run browser: a table of runs; show, replay, compare, and follow a run another process
writes, in the window (offscreen) without any station."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PyQt5.QtCore import Qt

from gui.runview import RunView
from gui.window import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow(None)
    qtbot.addWidget(w)
    w.show()
    return w


def test_table_lists_every_run_of_a_folder(window, runs_of_every_procedure):
    folder = runs_of_every_procedure["freq-current"].parent
    window.open_paths([folder])
    table = window.browser.table
    assert table.rowCount() == len(runs_of_every_procedure)
    procs = {table.item(r, 0).text() for r in range(table.rowCount())}
    assert procs == set(runs_of_every_procedure)
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "freq-current")
    cells = [table.item(row, c).text() for c in range(table.columnCount())]
    assert cells[1] == "completed" and cells[3] == "17"
    assert "I_th" in cells[5] and "full sync" in cells[5]
    assert window.lab is None  # browser only: nothing can reach an instrument


def test_show_replay_and_compare(window, qtbot, runs_of_every_procedure):
    fc, sm = runs_of_every_procedure["freq-current"], runs_of_every_procedure["sync-map"]
    window.browser.add_paths([fc, sm])
    window.browser.select(fc)
    qtbot.mouseClick(window.browser.buttons["Show"], Qt.LeftButton)
    shown = window.tabs.current_view()
    assert shown.data.points == 17 and shown.data.status == "completed"
    assert shown.data.maps["trace"].rows == 17
    assert [p.defn.kind for p in shown.plots][:2] == ["map", "spectrum"]

    window.browser.speed.setCurrentText("10 points/s")
    qtbot.mouseClick(window.browser.buttons["Replay"], Qt.LeftButton)
    qtbot.waitUntil(lambda: window.tabs.current_view() is not shown, timeout=5000)
    replayed = window.tabs.current_view()
    seen = []
    qtbot.waitUntil(lambda: seen.append(replayed.data.points) or
                    replayed.data.status == "completed", timeout=10000)
    assert replayed.data.points == 17
    assert any(0 < n < 17 for n in seen)  # point by point, not all at once
    assert replayed.data.results["threshold_current"] == pytest.approx(
        shown.data.results["threshold_current"])

    window.browser.select(fc, sm)
    qtbot.mouseClick(window.browser.buttons["Compare"], Qt.LeftButton)
    split = window.tabs.currentWidget()
    a, b = split.views
    assert isinstance(a, RunView) and {a.data.info["procedure"], b.data.info["procedure"]} == {
        "freq-current", "sync-map"}


def test_damaged_file_is_one_line_not_a_crash(window, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    window.browser.add_paths([bad])
    assert window.browser.table.item(0, 1).text() == "unreadable"
    window.browser.select(bad)
    window.browser.buttons["Show"].click()
    assert "not a readable HDF5 run file" in window.last_message


@pytest.mark.system
def test_follow_a_run_written_by_another_process(window, qtbot, tmp_path, write_station):
    station = write_station(("realtime_factor = 0.0", "realtime_factor = 0.05"))
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "labctl.cli.main", "run", "freq-current", "--station",
         str(station), "--out", str(out), "--quiet", "--set", "i_start=0.8e-3",
         "--set", "i_stop=2.0e-3", "--set", "i_step=40e-6", "--set", "points=2001",
         "--set", "settle=2"],  # 0.1 s of real time per point: seen while it runs
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        qtbot.waitUntil(lambda: any(out.glob("*.h5")) if out.exists() else False,
                        timeout=30000)
        path = next(out.glob("*.h5"))
        qtbot.waitUntil(lambda: window.browser.add_paths([path]) or
                        window.browser.table.item(0, 1).text().startswith("running"),
                        timeout=10000)
        window.browser.select(path)
        window.browser.buttons["Follow"].click()
        view = window.tabs.current_view()
        seen = []
        qtbot.waitUntil(lambda: seen.append((view.data.status, view.data.points)) or
                        view.data.status != "running", timeout=60000)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        proc.kill()
    assert view.data.status == "completed" and view.data.points == 31
    assert view.data.maps["trace"].rows == 31
    assert any(status == "running" and 0 < n < 31 for status, n in seen), seen  # followed live
    assert "completed" in view.heading.text()


def test_the_layout_is_remembered(qtbot):
    first = MainWindow(None)
    qtbot.addWidget(first)
    first.show()
    first.docks["log"].hide()
    first.resize(1234, 777)
    first.set_theme("dark")
    first.close()
    second = MainWindow(None)
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["log"].isVisible() and second.docks["runs"].isVisible()
    assert (second.width(), second.height()) == (1234, 777)
    from PyQt5.QtCore import QSettings

    assert QSettings().value("theme") == "dark"
    second.set_theme("light")
