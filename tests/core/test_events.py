"""Events: a client that shows where things are now needs only the latest of each."""

from __future__ import annotations

from labctl.events import OUTPUT, POINT, PROGRESS, ROW, RunEvent, latest_only, station_event


def step(role, level, done=False):
    return station_event("output", role=role, level=level, target=1.0, unit="A", done=done)


def test_a_ramp_shows_only_where_it_is_now_however_many_steps_one_refresh_takes_in():
    events = [step("shno_source", 0.1), RunEvent("point", "r", {"index": 0}),
              step("gate", 0.5), step("shno_source", 0.2), station_event("owner", owner="run"),
              step("shno_source", 0.3, done=True), step("field", 0.1)]
    kept = latest_only(events)
    assert [(e.kind, e.data.get("role"), e.data.get("level")) for e in kept] == [
        ("point", None, None), ("output", "gate", 0.5), ("owner", None, None),
        ("output", "shno_source", 0.3), ("output", "field", 0.1)]


def test_points_rows_and_progress_keep_the_latest_of_each_run_and_stream_in_order():
    def point(run, i):
        return RunEvent("point", run, {"index": i})

    def row(run, stream, i):
        return RunEvent("row", run, {"stream": stream, "index": i})

    events = [RunEvent("started", "a"), point("a", 0), row("a", "bg", 0), point("a", 1),
              RunEvent("progress", "a", {"done": 2}), row("a", "cycle", 0), point("b", 0),
              row("a", "bg", 1), RunEvent("log", "a", {"message": "x"}), point("a", 2),
              RunEvent("progress", "a", {"done": 3}), RunEvent("finished", "a")]
    kept = latest_only(events, (OUTPUT, POINT, ROW, PROGRESS))
    assert [(e.kind, e.run_id, e.data.get("stream"), e.data.get("index", e.data.get("done")))
            for e in kept] == [
        ("started", "a", None, None), ("row", "a", "cycle", 0), ("point", "b", None, 0),
        ("row", "a", "bg", 1), ("log", "a", None, None), ("point", "a", None, 2),
        ("progress", "a", None, 3), ("finished", "a", None, None)]
