"""Free space for run files: checked before a run from its schema, watched while it runs.

A run that would fill the disk is refused before any instrument is opened; a disk that fills
during a run (another process, a longer run than planned) stops the run *before* a write
fails, with every row written so far intact, and enough room left to close the file.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from labctl.errors import LabctlError, UserInputError
from labctl.runlayout import SCALAR_CHUNK
from labctl.schema import Schema, Stream

OVERHEAD = 1 << 20  # bytes: layout, metadata, log, chunk indexes of a small run
RESERVE_MIN = 1 << 20  # bytes a run leaves free: room to close the file and write its log
WATCH_INTERVAL = 0.5  # s between looks at the free space (others may fill the disk too)


class DiskFull(LabctlError):
    """The disk is (nearly) full or a write failed: the run ends failed, its rows intact."""


def row_bytes(schema: Schema, stream: Stream) -> int:
    """Bytes one row of ``stream`` takes in the file (its datasets and its row index)."""
    size = 8
    for q in stream.stored:
        size += int(np.prod(schema.shape(q), dtype=np.int64)) * np.dtype(q.dtype).itemsize
    return size


def estimate_bytes(schema: Schema, planned: int | None) -> int:
    """Bytes a run of ``planned`` main-stream rows needs (other streams: a chunk of rows)."""
    rows = max(planned or 0, 1)
    main = row_bytes(schema, schema.main) * rows
    others = sum(row_bytes(schema, s) * SCALAR_CHUNK for s in schema.streams[1:])
    axes = sum(np.asarray(a.values).nbytes for a in schema.axes)
    return int(main * 1.05) + others + axes + OVERHEAD


def free_bytes(folder: Path) -> int:
    """Free bytes where ``folder`` (or its nearest existing parent) lives."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_free_space(path: str | Path, schema: Schema, planned: int | None) -> None:
    """UserInputError (before anything is opened) if the run cannot fit next to ``path``."""
    folder = Path(path).parent
    need = estimate_bytes(schema, planned) + RESERVE_MIN
    free = free_bytes(folder)
    if free < need:
        raise UserInputError(f"output folder '{folder}': {_mb(free)} free, the run needs about "
                             f"{_mb(need)} ({planned or 'unknown'} points); free some space "
                             "or choose another --out")


class DiskWatch:
    """Looks at the free space often enough that the run's own writes never fill the disk."""

    def __init__(self, folder: Path, largest_row: int):
        self.folder = folder
        self.reserve = max(RESERVE_MIN, 16 * largest_row)
        self._since = 0
        self._last = 0.0

    def wrote(self, nbytes: int) -> None:
        """Account for ``nbytes`` about to be written; DiskFull if the reserve is reached."""
        self._since += nbytes
        now = time.monotonic()
        if self._since < self.reserve // 4 and now - self._last < WATCH_INTERVAL:
            return
        self._since, self._last = 0, now
        st = os.statvfs(self.folder)
        free = st.f_bavail * st.f_frsize
        if free < self.reserve:
            raise DiskFull(f"disk nearly full: {_mb(free)} left in '{self.folder}'; the run "
                           f"stopped before its file could be damaged")


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes < 10e9 else f"{nbytes / 1e9:.1f} GB"
