"""A Qt window receives a run's events in the GUI thread, live or replayed."""

from __future__ import annotations

import threading

from gui.bridge import RunEventBridge
from labctl.config import default_sim_station
from labctl.events import EventBus
from labctl.replay import replay
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent


def test_events_arrive_in_gui_thread(qtbot, tmp_path):
    bridge = RunEventBridge()
    seen = []
    gui_thread = threading.current_thread()
    bridge.event.connect(lambda e: seen.append((e.kind, threading.current_thread())))
    station = open_station(default_sim_station())
    runner = Runner(FreqCurrent(i_start=1e-3, i_stop=1.4e-3, i_step=100e-6, points=1001),
                    station, tmp_path / "run.h5")
    runner.subscribe(bridge)
    runner.start()
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "finished", timeout=20000)
    kinds = [k for k, _ in seen]
    assert kinds[0] == "started" and kinds.count("point") == 5
    assert all(thread is gui_thread for _, thread in seen)

    replayed = []
    bridge.event.disconnect()
    bridge.event.connect(lambda e: replayed.append(e.kind))
    bus = EventBus()
    bus.subscribe(bridge)
    replay(tmp_path / "run.h5", bus)
    qtbot.waitUntil(lambda: bool(replayed) and replayed[-1] == "finished", timeout=5000)
    assert replayed.count("point") == 5

