"""Free space for run files: checked before a run from its schema, watched while it runs.

A run that would fill the disk is refused before any instrument is opened; a disk that fills
during a run (another process, a longer run than planned) stops the run *before* a write
fails, with every row written so far intact, and enough room left to close the file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from labctl.errors import LabctlError, UserInputError
from labctl.runlayout import SCALAR_CHUNK
from labctl.schema import Schema, Stream

OVERHEAD = 256 << 10  # bytes: layout, metadata, log, chunk indexes of a small run
RESERVE_MIN = 256 << 10  # bytes a run leaves free: room to close the file and grow its log
WATCH_INTERVAL = 0.1  # s: the longest time between two looks at the free space


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


def check_output(path: str | Path, schema: Schema, planned: int | None, *,
                 resume: bool = False) -> None:
    """UserInputError, before anything is opened, if the run file cannot be written at
    ``path``: its folder is a file or not writable, or the disk has no room for the run
    (a resume also needs room for the copy it rebuilds)."""
    path = Path(path)
    need = estimate_bytes(schema, planned) + RESERVE_MIN
    if resume and path.is_file():
        need += path.stat().st_size
    check_folder(path.parent, need, f"{planned or 'unknown'} points")


def check_folder(folder: Path, need: int, what: str) -> None:
    """UserInputError if ``folder`` (made when needed) cannot take ``need`` bytes of ``what``."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UserInputError(f"output folder '{folder}': '{existing}' is a file, not a folder")
    try:  # a probe, not os.access: root passes any permission check, not a read-only mount
        fd, probe = tempfile.mkstemp(prefix=".labctl-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserInputError(f"output folder '{folder}': cannot write in '{existing}': "
                             f"{err.strerror or err}") from None
    free = free_bytes(existing)
    if free < need:
        raise UserInputError(f"output folder '{folder}': {_mb(free)} free, {what} need about "
                             f"{_mb(need)}; free some space or choose another folder")


class DiskWatch:
    """Looks at the free space as a run writes: another process may fill the disk too.

    It stops the run while the reserve still holds the row, the log and the close, so the
    file never meets a failed write. It looks again after WATCH_INTERVAL, or sooner once the
    run itself has written a quarter of what was free (every row, near a full disk).
    """

    def __init__(self, folder: Path, largest_row: int):
        self.folder = folder
        self.reserve = max(RESERVE_MIN, 4 * largest_row)
        self._budget = 0  # bytes the run may write before the next look
        self._next = 0.0  # monotonic time of the next look

    def wrote(self, nbytes: int) -> None:
        """Before writing ``nbytes``: DiskFull if that would eat into the reserve."""
        self._budget -= nbytes
        now = time.monotonic()
        if self._budget > 0 and now < self._next:
            return
        st = os.statvfs(self.folder)
        free = st.f_bavail * st.f_frsize
        if free < self.reserve + nbytes:
            raise DiskFull(f"disk nearly full: {_mb(free)} left in '{self.folder}'; the run "
                           f"stopped before its file could be damaged")
        self._budget = (free - self.reserve) // 4
        self._next = now + WATCH_INTERVAL


def _mb(nbytes: int) -> str:
    if nbytes < 1e6:
        return f"{nbytes / 1e3:.0f} kB"
    return f"{nbytes / 1e6:.1f} MB" if nbytes < 10e9 else f"{nbytes / 1e9:.1f} GB"
