"""Read a run file into a RunData block by block; follow a file that is still being written.

Each :meth:`RunReader.poll` opens the file read-only (through SWMR while its writer runs),
reads the complete rows it has not read yet in blocks of ``BLOCK`` rows, and closes it again:
a reader never keeps the writer's file open between polls, and memory stays bounded because
every block goes straight into the decimated map and rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from gui.rundata import RunData
from labctl.errors import RunFileError
from labctl.runlayout import RUNNING
from labctl.runreader import (
    attr_int,
    attr_json,
    attr_status,
    attr_text,
    open_run,
    read_rows,
    read_schema,
    stream_rows,
)

BLOCK = 128  # rows per read: 5 MB of 10,001-point float32 traces

INFO_TEXT = ("procedure", "reason", "started", "finished", "sample", "device",
             "operator", "comment", "run_id")


def read_header(f: h5py.File, path: Path) -> dict[str, Any]:
    """The run's description without its data (what the browser's table shows)."""
    info: dict[str, Any] = {key: attr_text(f, key) for key in INFO_TEXT}
    info["status"] = attr_status(f)
    planned = attr_int(f, "planned_points", -1)
    info.update(path=str(path), planned=planned if planned > 0 else None,
                parameters=attr_json(f, "parameters", {}) or {},
                results=attr_json(f, "results", {}) or {})
    return info


class HeldFile:
    """A run file held open between polls, its datasets looked up once: a poll of a live run
    then costs the reads of its new rows, not 30 lookups of h5py objects (half of it)."""

    def __init__(self, f: h5py.File):
        self.file = f
        self._objects: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self._objects:
            self._objects[name] = self.file.get(name, default)
        return self._objects[name]

    def __getitem__(self, name: str) -> Any:
        obj = self.get(name)
        if obj is None:
            raise KeyError(name)
        return obj

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __getattr__(self, name: str) -> Any:  # attrs, swmr_mode, filename ...
        return getattr(self.file, name)

    def refresh(self) -> None:
        """What the file's writer has added since (SWMR): shapes, chunk indexes."""
        for obj in self._objects.values():
            if isinstance(obj, h5py.Dataset):
                obj.refresh()

    def close(self) -> None:
        self._objects.clear()
        self.file.close()


class RunReader:
    """Incremental reader of one run file; ``data`` fills as :meth:`poll` finds new rows.

    Given the ``data`` of a live run (made from its started event), only rows are read: its
    status and log come from its events. With ``keep_open`` the file stays open between polls
    (SWMR: each poll reads only what is new), until :meth:`close`: for a run of this GUI's lab,
    read at every refresh.
    """

    def __init__(self, path: str | Path, data: RunData | None = None, keep_open: bool = False):
        self.path = Path(path)
        self.data = data
        self.from_events = data is not None
        self.read_rows: dict[str, int] = {s.name: 0 for s in data.schema.streams} if data else {}
        self.log_read = 0
        self.finished = False
        self.keep_open = keep_open
        self._file: HeldFile | None = None

    def poll(self, max_rows: int | None = None) -> bool:
        """Read what is new; True if anything was. A file its writer is closing right now is
        left for the next poll (only the first poll raises RunFileError)."""
        try:
            f = self._file or open_run(self.path)
            if self.keep_open and self._file is None:
                f = HeldFile(f)
        except RunFileError:
            if self.data is None:
                raise
            return False
        try:
            if self.data is None:
                self.data = RunData(read_schema(f), read_header(f, self.path))
                self.read_rows = {s.name: 0 for s in self.data.schema.streams}
            changed = self._read_rows(f, max_rows)
            if not self.from_events:
                changed |= self._read_log(f) | self._read_status(f)
        except BaseException as err:
            self._file = None
            f.close()
            if self.keep_open and self.data is not None and isinstance(
                    err, OSError | KeyError | RunFileError):
                return False  # a file held open went wrong: opened afresh at the next poll
            raise
        if self.keep_open:
            self._file = f
        else:
            f.close()
        return changed

    def close(self) -> None:
        """Let go of a file held open (the next poll, if any, opens it again)."""
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def _read_status(self, f: h5py.File) -> bool:
        status = attr_status(f)
        if status == RUNNING:
            return False
        data = self.data
        data.status, data.reason = status, attr_text(f, "reason")
        data.results = attr_json(f, "results", {}) or {}
        data.info.update(read_header(f, self.path))
        data.version += 1
        self.finished = True
        return True

    def _read_rows(self, f: h5py.File, max_rows: int | None) -> bool:
        changed = False
        if isinstance(f, HeldFile):
            f.refresh()
        complete = stream_rows(f, self.data.schema, self.read_rows)
        for stream in self.data.schema.streams:
            n = complete[stream.name]
            if max_rows is not None:
                n = min(n, self.read_rows[stream.name] + max_rows)
            names = [q.name for q in stream.quantities]
            for start in range(self.read_rows[stream.name], n, BLOCK):
                stop = min(n, start + BLOCK)
                block = {name: read_rows(f, name, start, stop) for name in names}
                self.data.add_block(stream.name, start, block, stop - start)
                self.read_rows[stream.name] = stop
                changed = True
        return changed

    def _read_log(self, f: h5py.File) -> bool:
        if "log/line" not in f:
            return False
        lines = f["log/line"]
        n = lines.shape[0]
        for raw in lines[self.log_read:n]:
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            parts = text.split(" ", 2)
            level, message = (parts[1].lower(), parts[2]) if len(parts) == 3 else ("info", text)
            self.data.log.append((level, message))
        changed = n > self.log_read
        self.log_read = n
        return changed


def read_summary(path: str | Path) -> dict[str, Any]:
    """The browser's line for a run: its header and the number of complete points."""
    with open_run(path) as f:
        info = read_header(f, Path(path))
        schema = read_schema(f)
        info["points"] = stream_rows(f, schema)[schema.main.name]
    return info


def read_run(path: str | Path) -> RunData:
    """A whole run file as RunData (bounded memory whatever its length)."""
    reader = RunReader(path)
    reader.poll()
    return reader.data
