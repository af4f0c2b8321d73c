"""Exclusive locks across processes: one owner of a station, one writer of a run or queue file.

A lock is an ``flock`` on a small lock file, so the operating system releases it when the
holding process dies (kill -9 included): a crash never leaves a station or a file locked.
The holder writes its PID, host and command line into the lock file, so a refused process
can say who holds it. Locks are not re-entrant: a second acquisition of the same key, even
in the same process, is refused (within a process, the Lab is the one owner).

HDF5 itself ``flock``s the run files it opens, so a run file is never its own lock file: its
lock is a separate ``<file>.lock`` (see :func:`file_lock`). The holder removes the lock file
when it releases the lock, so a folder of finished runs holds no lock files; a taker checks
that the file it locked is still the one at the path (a releaser may have just removed it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from labctl.errors import UserInputError


class LockHeld(UserInputError):
    """Another process (or another owner in this one) holds the lock: one line, exit 2."""


def lock_dir() -> Path:
    """Where station locks live: ``$LABCTL_LOCK_DIR``, else a per-user folder in /tmp."""
    env = os.environ.get("LABCTL_LOCK_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"labctl-locks-{os.getuid()}"


class ExclusiveLock:
    """A non-blocking exclusive lock on ``path``; ``what`` names it in the refusal."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> ExclusiveLock:
        """Take the lock or raise :class:`LockHeld` naming the holder; returns self."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockHeld(f"{self.what} is in use by {self.holder()}") from None
            except OSError:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # locked a file its holder removed on release: take the new one
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "command": " ".join(sys.argv)[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                os.unlink(self.path)  # removed while still locked: a taker re-checks the path
        except OSError:
            pass  # a lock file that cannot be removed is harmless: the next holder reuses it
        finally:
            os.close(fd)  # closing drops the flock

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it ("another process" if unreadable)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"
        command = str(info.get("command", "")).strip()
        return f"process {pid}" + (f" ({command})" if command else "") + \
            (f" on {info['host']}" if info.get("host") else "")

    def __enter__(self) -> ExclusiveLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):  # a forgotten lock must not outlive its owner object
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev)


def station_lock(key: str, name: str) -> ExclusiveLock:
    """The lock of the station identified by ``key`` (e.g. its file and VISA addresses)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return ExclusiveLock(lock_dir() / f"station-{digest}.lock", f"station '{name}'")


def file_lock(path: str | Path, what: str | None = None) -> ExclusiveLock:
    """The writer's lock of a run or queue-state file: ``<path>.lock`` next to it."""
    path = Path(path)
    return ExclusiveLock(path.with_name(path.name + ".lock"), what or f"file '{path}'")
