"""The GUI as a process: `labctl gui --sim` on a real X server (Xvfb), and SIGTERM / Ctrl-C
during a run (abort, ramp down, close)."""

from __future__ import annotations

import os
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
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=display, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    try:
        time.sleep(1.0)
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
