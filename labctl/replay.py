"""Replay: a recorded run file becomes the same event stream as a live run.

Every plot and script that subscribes to a live run works unchanged on a replayed one. Rows
are read in blocks, so replaying a long run does not load it whole.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labctl.events import FINISHED, LOG, POINT, RESULTS, ROW, STARTED, EventBus, RunEvent
from labctl.runreader import (
    attr_int,
    attr_json,
    attr_status,
    attr_text,
    block_rows,
    log_lines,
    open_run,
    read_rows,
    read_schema,
    stream_rows,
)

BLOCK = 256  # rows read at a time


def replay(path: str | Path, bus: EventBus, speed: float | None = None,
           stop: threading.Event | None = None) -> dict[str, Any]:
    """Publish the events of a recorded run on ``bus``; return the finished event's data.

    ``speed`` None replays as fast as possible; otherwise ``speed`` rows per second.
    """
    with open_run(path) as f:
        schema = read_schema(f)
        run_id = attr_text(f, "run_id", "replay")
        planned = attr_int(f, "planned_points", -1)
        status = attr_status(f)
        main = schema.main
        rows = stream_rows(f, schema)
        n_main = rows[main.name]
        bus.publish(RunEvent(STARTED, run_id, {
            "path": str(path), "procedure": attr_text(f, "procedure"),
            "parameters": attr_json(f, "parameters", {}), "schema": schema,
            "planned": planned if planned > 0 else None, "start": 0, "replay": True}))
        for line in log_lines(f):
            text = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
            parts = text.split(" ", 2)
            level, message = (parts[1].lower(), parts[2]) if len(parts) == 3 else ("info", text)
            bus.publish(RunEvent(LOG, run_id, {"level": level, "message": message,
                                               "replay": True}))
        _emit_stream(f, main, n_main, bus, run_id, POINT, planned, speed, stop)
        for stream in schema.streams[1:]:
            n = rows[stream.name]
            _emit_stream(f, stream, n, bus, run_id, ROW, planned, None, stop)
        results = attr_json(f, "results", {})
        if results:
            bus.publish(RunEvent(RESULTS, run_id, {"values": results}))
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
    block = block_rows(f, names, BLOCK)
    for block_start in range(0, n, block):
        block_stop = min(n, block_start + block)
        rows = {name: read_rows(f, name, block_start, block_stop) for name in names}
        for k in range(block_stop - block_start):
            if stop is not None and stop.is_set():
                return
            i = block_start + k
            values = {name: rows[name][k] for name in names}
            if kind == POINT:
                data = {"index": i, "values": values, "planned": planned}
            else:
                data = {"stream": stream.name, "index": i, "values": values}
            bus.publish(RunEvent(kind, run_id, data))
            if speed:
                delay = t0 + (i + 1) / speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
