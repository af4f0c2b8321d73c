"""Text the command line prints about runs and stations."""

from __future__ import annotations

import json
from datetime import datetime

from tqdm import tqdm

from labctl.events import FINISHED, LOG, POINT, STARTED, RunEvent


def _duration(info: dict) -> str:
    try:
        start = datetime.fromisoformat(info["started"])
        end = datetime.fromisoformat(info["finished"])
    except (KeyError, ValueError):
        return "unknown (not finished)"
    return f"{(end - start).total_seconds():.1f} s"


def describe(info: dict) -> str:
    status = info["status"]
    if status == "running":
        status = "running or did not finish (no clean close recorded)"
    planned = info["planned_points"]
    rows = ", ".join(f"{n} {name}" for name, n in info["rows"].items())
    lines = [
        f"run file     {info['path']}",
        f"procedure    {info['procedure']}",
        f"status       {status}" + (f" - {info['reason']}" if info["reason"] else ""),
        f"rows         {rows}" + (f" of {planned} planned" if planned > 0 else ""),
        f"started      {info['started']}",
        f"duration     {_duration(info)}",
        f"resumed      {info['resumed']} time(s)",
        f"software     labctl {info['software_version']}",
        "parameters   " + json.dumps(info["parameters"]),
    ]
    for role, idn in (info["instruments"] or {}).items():
        lines.append(f"instrument   {role}: {idn}")
    for key, value in (info["results"] or {}).items():
        lines.append(f"result       {key} = {value}")
    return "\n".join(lines)


class ReplayPrinter:
    """Progress bar and log lines while a run replays."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None

    def __call__(self, event: RunEvent) -> None:
        if event.kind == STARTED:
            self.bar = tqdm(total=event.data["planned"], desc=f"replay {event.data['procedure']}",
                            unit="pt", disable=not self.enabled)
        elif event.kind == POINT and self.bar is not None:
            self.bar.update(1)
        elif event.kind == LOG and self.enabled and self.bar is not None:
            self.bar.write(f"log: {event.data['level']}: {event.data['message']}")
        elif event.kind == FINISHED and self.bar is not None:
            self.bar.close()
