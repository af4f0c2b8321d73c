"""The GUI as a process: `labctl gui --sim` on a real X server (Xvfb), SIGTERM / Ctrl-C during a
run (abort, ramp down, close), and its lab process never outliving it nor holding the station."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gui.app import install_signal_handlers
from gui.window import MainWindow
from labctl.lab import open_lab
from labctl.testing import outputs_at_zero, outputs_at_zero_by_log, sim_station


def _wait_for_line(proc, text: str, timeout: float) -> str:
    """Read stderr lines until one contains ``text``."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no {text!r} within {timeout} s; stderr: {''.join(seen)}")


@pytest.mark.system
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed (apt-get install "
                    "xvfb; .ci/run does)")
def test_labctl_gui_sim_on_a_virtual_display(tmp_path):
    # -displayfd: Xvfb picks a free display and writes its number once it accepts clients
    # (a fixed one collides with another test run on the machine; a sleep races a slow start)
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        display = f":{xvfb.stdout.readline().strip()}"
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        env.update(DISPLAY=display, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
        gui = subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "gui", "--sim"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            line = _wait_for_line(gui, "window open", 60)
            assert "simulated probe station" in line and "platform xcb" in line
            time.sleep(2.0)  # the window runs: read-backs, timers
            assert gui.poll() is None
            gui.send_signal(signal.SIGTERM)
            assert gui.wait(60) == 0
            rest = gui.stderr.read()
            assert "Traceback" not in rest, rest
        finally:
            gui.kill()
    finally:
        xvfb.terminate()
        xvfb.wait(10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_run_aborts_ramps_down_and_closes(qtbot, tmp_path, signum):
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with open_lab(config=sim_station(realtime_factor=0.02)) as lab:
        window = MainWindow(lab)
        qtbot.addWidget(window)
        window.show()
        window.ask = lambda q: pytest.fail("a signal must not ask")
        try:
            window.signal_timer = install_signal_handlers(window)
            handle = lab.start("freq-current", {"i_step": 50e-6, "points": 2001},
                               out=tmp_path)
            qtbot.waitUntil(lambda: handle.rows >= 2, timeout=30000)
            os.kill(os.getpid(), signum)
            qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        assert handle.status == "aborted" and signal.Signals(signum).name in handle.reason
        assert outputs_at_zero_by_log(lab.station.sim) and outputs_at_zero(lab.station)


def _start_gui(tmp_path) -> subprocess.Popen:
    """`labctl gui --sim` offscreen, in a process group of its own as a terminal's foreground
    job is, with Ctrl-C's default action (a shell's background job ignores SIGINT)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "gui", "--sim"], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _ended(pid: int, timeout: float) -> bool:
    """True once process ``pid`` is gone (or a zombie: it ran to its end)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def _station_free() -> bool:
    with open_lab(sim=True):
        return True


@pytest.mark.system
@pytest.mark.parametrize("how", ["kill -9 of the GUI", "Ctrl-C in its terminal"])
def test_the_lab_process_ends_with_the_gui_and_lets_go_of_the_station(tmp_path, how):
    gui = _start_gui(tmp_path)
    try:
        line = _wait_for_line(gui, "window open", 60)
        lab_pid = int(re.search(r"lab process (\d+)", line).group(1))
        assert _children(gui.pid) == [lab_pid]
        if how.startswith("kill"):
            gui.kill()  # no handler, no atexit: only the lab process can make it safe
            assert gui.wait(30) == -signal.SIGKILL
        else:
            os.killpg(gui.pid, signal.SIGINT)  # the terminal signals its foreground group
            assert gui.wait(60) == 0
        assert _ended(lab_pid, 60), "the lab process outlived the GUI"
        rest = gui.stderr.read()
    finally:
        gui.kill()
    assert "Traceback" not in rest, rest
    if how.startswith("kill"):
        assert "the GUI process ended: aborting, ramping down, closing the lab" in rest
    assert _station_free()


@pytest.mark.system
def test_ctrl_c_while_the_station_opens_leaves_no_lab_process(tmp_path):
    gui = _start_gui(tmp_path)
    try:
        end = time.monotonic() + 60
        while not _children(gui.pid) and time.monotonic() < end:
            time.sleep(0.01)
        (lab_pid,) = _children(gui.pid)  # started, the station not open yet (takes ~1 s)
        os.killpg(gui.pid, signal.SIGINT)
        assert gui.wait(60) != 0
        assert _ended(lab_pid, 60), "the lab process outlived the GUI"
        rest = gui.stderr.read()
    finally:
        gui.kill()
    assert "window open" not in rest and "Traceback" not in rest, rest
    assert _station_free()
