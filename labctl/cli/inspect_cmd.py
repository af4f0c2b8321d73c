"""Text the command line prints about runs and stations."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from labctl.duration import format_duration
from labctl.events import FINISHED, LOG, POINT, STARTED, RunEvent
from labctl.runreader import read_info


def read_run(path: Path) -> dict[str, Any]:
    """:func:`read_info` and what the table of runs shows besides: sample, the station's kind
    and the time the run took on the station's clock."""
    from labctl.runner import station_seconds
    from labctl.runreader import attr_json, attr_text, log_lines, open_run

    info = read_info(path)
    with open_run(path) as f:
        station = attr_json(f, "station", {})
        info.update(sample=attr_text(f, "sample"), station_seconds=station_seconds(log_lines(f)),
                    simulated=isinstance(station, dict) and station.get("simulated") is True,
                    **{key: attr_text(f, key) for key in ("device", "operator", "comment")},
                    **{key: _units(attr_json(f, key, {}))
                       for key in ("parameter_units", "result_units")})
    return info


def _units(value) -> dict[str, str]:
    """A units table from a file (anything else: none)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def shown(value, unit: str) -> str:
    """A value as a physicist reads it: 2.2 mA, [10.2 GHz, 10.3 GHz]; JSON for the rest."""
    from labctl.units import format_value

    if isinstance(value, list) and unit:
        return "[" + ", ".join(shown(v, unit) for v in value) + "]"
    if isinstance(value, int | float) and not isinstance(value, bool) and unit:
        return format_value(value, unit)
    return value if isinstance(value, str) else json.dumps(value)


def duration(info: dict) -> str:
    """How long the run took: on its station's clock if the file records it (a simulated
    station's own time), else from its start and finish."""
    wall = _wall_seconds(info)
    clock = info.get("station_seconds")
    if clock is None:
        return "unknown (not finished)" if wall is None else format_duration(wall)
    if info.get("simulated"):
        shown = format_duration(clock) + " simulated"
        return shown + (f" ({format_duration(wall)} wall)" if wall is not None else "")
    return format_duration(clock)


def _wall_seconds(info: dict) -> float | None:
    try:
        start = datetime.fromisoformat(info["started"])
        end = datetime.fromisoformat(info["finished"])
    except (KeyError, TypeError, ValueError):
        return None
    return (end - start).total_seconds()


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
        f"duration     {duration(info)}",
        f"resumed      {info['resumed']} time(s)",
        f"software     labctl {info['software_version']}",
    ]
    units = info.get("parameter_units") or {}
    for key, value in (info["parameters"] or {}).items():
        lines.append(f"parameter    {key} = {shown(value, units.get(key, ''))}")
    for key in ("comment", "operator", "device", "sample"):  # after the procedure's line
        if info.get(key):
            lines.insert(2, f"{key:<12} {info[key]}")
    for role, idn in (info["instruments"] or {}).items():
        lines.append(f"instrument   {role}: {idn}")
    units = info.get("result_units") or {}
    for key, value in (info["results"] or {}).items():
        lines.append(f"result       {key} = {shown(value, units.get(key, ''))}")
    return "\n".join(lines)


def run_files(folder: Path) -> list[Path]:
    """Every run file in ``folder`` and its subfolders."""
    return sorted(p for p in folder.rglob("*.h5") if p.is_file())


def runs_table(folder: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """One line per run in ``folder``, by start time; unreadable files are listed as such."""
    from labctl.errors import LabctlError

    infos, lines = [], []
    rows = [("started", "procedure", "status", "points", "sample", "duration", "key results",
             "file")]
    found = []
    for path in run_files(folder):
        name = str(path.relative_to(folder))
        try:
            info = read_run(path)
        except (LabctlError, OSError, ValueError, KeyError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            found.append(("", ("-", "-", "unreadable", "-", "-", "-",
                               _cut(first.removeprefix(f"run file '{path}': ")), name)))
            infos.append({"path": str(path), "status": "unreadable", "reason": first})
            continue
        infos.append(info)
        main = next(iter(info["rows"].values()), 0)
        planned = info["planned_points"]
        points = f"{main}/{planned}" if planned > 0 else str(main)
        found.append((info["started"], (
            info["started"][:19].replace("T", " "), info["procedure"], info["status"], points,
            info.get("sample") or "-", duration(info), key_results(info), name)))
    found.sort(key=lambda item: (item[0] == "", item[0]))
    rows.extend(row for _, row in found)
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return lines, infos


def key_results(info: dict, width: int = 70) -> str:
    """The run's main findings in words, as its procedure says them, cut to ``width``."""
    results = info.get("results") or {}
    if not results:
        return "-"
    try:
        from labctl.registry import procedure_class

        proc = procedure_class(info["procedure"])(**info["parameters"])
        text = "; ".join(proc.summarize(results)[:2])
    except Exception:  # a file from another version: its results as they are
        text = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                         for k, v in list(results.items())[:3])
    return _cut(" ".join(text.split()), width)


def _cut(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


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
