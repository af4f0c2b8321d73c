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


def test_a_ramp_shows_only_where_it_is_now_however_many_steps_one_refresh_takes_in():
    from gui.viewer import latest_outputs
    from labctl.events import RunEvent, station_event

    def step(role, level, done=False):
        return station_event("output", role=role, level=level, target=1.0, unit="A", done=done)

    events = [step("shno_source", 0.1), RunEvent("point", "r", {"index": 0}),
              step("gate", 0.5), step("shno_source", 0.2), station_event("owner", owner="run"),
              step("shno_source", 0.3, done=True), step("field", 0.1)]
    kept = latest_outputs(events)
    assert [(e.kind, e.data.get("role"), e.data.get("level")) for e in kept] == [
        ("point", None, None), ("output", "gate", 0.5), ("owner", None, None),
        ("output", "shno_source", 0.3), ("output", "field", 0.1)]
