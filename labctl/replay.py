"""Replay: a recorded run file becomes the same event stream as a live run.

Every plot and script that subscribes to a live run works unchanged on a replayed one. Rows
are read in blocks, so replaying a long run does not load it whole.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labctl.errors import RunFileError
from labctl.events import FINISHED, LOG, POINT, RESULTS, ROW, STARTED, EventBus, RunEvent
from labctl.runfile import attr_json, attr_text, complete_rows, open_run
from labctl.schema import Schema, schema_from_json

BLOCK = 256  # rows read at a time


def _schema(f) -> Schema:
    data = attr_json(f, "schema", None)
    if not isinstance(data, dict):
        raise RunFileError(f"run file '{f.filename}': schema attribute missing or unreadable")
    try:
        axes = {a["name"]: f[a["name"]][:] for a in data.get("axes", [])}
        return schema_from_json(data, axes)
    except (KeyError, TypeError, ValueError) as err:
        raise RunFileError(f"run file '{f.filename}': schema does not match its data ({err})"
                           ) from None


def replay(path: str | Path, bus: EventBus, speed: float | None = None,
           stop: threading.Event | None = None) -> dict[str, Any]:
    """Publish the events of a recorded run on ``bus``; return the finished event's data.

    ``speed`` None replays as fast as possible; otherwise ``speed`` rows per second.
    """
    with open_run(path) as f:
        schema = _schema(f)
        run_id = attr_text(f, "run_id", "replay")
        planned = int(f.attrs.get("planned_points", -1))
        main = schema.main
        n_main = complete_rows(f[main.name])
        bus.publish(RunEvent(STARTED, run_id, {
            "path": str(path), "procedure": attr_text(f, "procedure"),
            "parameters": attr_json(f, "parameters", {}), "schema": schema,
            "planned": planned if planned > 0 else None, "start": 0, "replay": True}))
        for line in f["log/line"][:] if "log/line" in f else []:
            text = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
            parts = text.split(" ", 2)
            level, message = (parts[1].lower(), parts[2]) if len(parts) == 3 else ("info", text)
            bus.publish(RunEvent(LOG, run_id, {"level": level, "message": message,
                                               "replay": True}))
        _emit_stream(f, main, n_main, bus, run_id, POINT, planned, speed, stop)
        for stream in schema.streams[1:]:
            n = complete_rows(f[stream.name])
            _emit_stream(f, stream, n, bus, run_id, ROW, planned, None, stop)
        results = attr_json(f, "results", {})
        if results:
            bus.publish(RunEvent(RESULTS, run_id, {"values": results}))
        status = attr_text(f, "status")
        if status == "running":
            status_note = "did not finish (the process ended without closing the file)"
        else:
            status_note = attr_text(f, "reason")
        finished = {"status": status, "reason": status_note, "path": str(path), "rows": n_main,
                    "replay": True}
        bus.publish(RunEvent(FINISHED, run_id, finished))
        return finished


def _emit_stream(f, stream, n, bus, run_id, kind, planned, speed, stop) -> None:
    names = [q.name for q in stream.quantities]
    t0 = time.perf_counter()
    for block_start in range(0, n, BLOCK):
        block_stop = min(n, block_start + BLOCK)
        block = {name: f[name][block_start:block_stop] for name in names}
        for k in range(block_stop - block_start):
            if stop is not None and stop.is_set():
                return
            i = block_start + k
            values = {name: block[name][k] for name in names}
            if kind == POINT:
                data = {"index": i, "values": values, "planned": planned}
            else:
                data = {"stream": stream.name, "index": i, "values": values}
            bus.publish(RunEvent(kind, run_id, data))
            if speed:
                delay = t0 + (i + 1) / speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
