"""The HDF5 run file: one file per run, every point flushed as measured, readable while written.

The layout is in :mod:`labctl.runlayout`, rows are appended by :mod:`labctl.streamwriter`,
reading is :mod:`labctl.runreader`. The writer holds one SWMR session from creation to close:
chunks are allocated in advance, so a row changes no metadata; the outcome (status, reason,
results) is rewritten in place in attributes made with the file; the superblock's "open for
writing" mark is cleared after every flush. So a kill -9 at any instant, the close included,
leaves a file that every HDF5 tool opens, and a reader holding the file never stops the close.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.diskspace import DiskFull, DiskWatch
from labctl.errors import RunFileError
from labctl.locks import file_lock
from labctl.runlayout import (  # noqa: F401  (ABORTED ... now_iso: re-exported)
    ABORTED,
    COMPLETED,
    FAILED,
    LIBVER,
    LINKS,
    LOG_WIDTH,
    OUTCOME,
    RUNNING,
    SCHEMA_VERSION,
    capacity,
    create_layout,
    create_outcome,
    grown,
    new_attrs,
    now_iso,
    write_outcome,
)
from labctl.runreader import (  # noqa: F401  (re-exported)
    attr_int,
    attr_json,
    attr_status,
    attr_text,
    block_rows,
    complete_rows,
    log_lines,
    open_run,
    read_info,
    read_rows,
    read_schema,
    stream_rows,
)
from labctl.schema import Schema
from labctl.streamwriter import StreamWriter
from labctl.superblock import clear_write_flags

COPY_ROWS = 256  # rows copied at a time when a resume rebuilds the file
MAX_LOG_LINES = 1_000_000  # log lines a resume carries over


class RunFile:
    """Writer of one run file. Create with :meth:`create` or reopen with :meth:`resume`.

    The writer holds the file's lock (``<file>.lock``) from creation or resume to close, so a
    second writer of the same file is refused with one line.
    """

    def __init__(self, path: Path, f: h5py.File, fd: int, schema: Schema,
                 done: dict[str, int], lock):
        self.path = path
        self._f = f
        self._fd = fd  # our own descriptor of the file, for its superblock flags
        self._lock = lock
        self.schema = schema
        self._writers = {s.name: StreamWriter(f, s, schema, done.get(s.name, 0))
                         for s in schema.streams}
        self._log = f["log/line"]
        self._log_n = len(log_lines(f))
        self._watch = DiskWatch(path.parent, max(w.row_bytes for w in self._writers.values()))
        self.closed = False
        self.broken = ""  # the first write that failed: nothing more is written after it

    @classmethod
    def create(cls, path: str | Path, schema: Schema, metadata: dict[str, Any]) -> RunFile:
        """Create the file with its layout and metadata; from here on every row is flushed.

        The file is made under a private temporary name and appears under ``path`` only once
        complete and in SWMR mode (a kill during creation leaves no half-made run file), by a
        hard link that fails if ``path`` exists: a file another process made a moment ago is
        never truncated. Rows are allocated for the planned points (``planned_points``).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        planned = metadata.get("planned_points")
        rows = {schema.main.name: planned if isinstance(planned, int) else 0}

        def build(f: h5py.File) -> dict[str, int]:
            _write_header(f, schema, metadata, rows)
            return {}

        def publish(tmp: Path) -> None:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise RunFileError(f"run file '{path}' already exists; refusing to overwrite"
                                   ) from None

        if path.exists():
            raise RunFileError(f"run file '{path}' already exists; refusing to overwrite")
        return cls._made_aside(path, schema, "create", build, publish)

    @classmethod
    def resume(cls, path: str | Path, schema: Schema) -> RunFile:
        """Reopen an unfinished run for writing after its last complete row.

        The file is rebuilt (complete rows only) in a private temporary file next to it, which
        enters SWMR and then atomically takes the file's place: a kill at any instant leaves
        either the old file or the rebuilt one, and readers holding the old one are never
        disturbed. (HDF5 would not reopen in place a file a killed writer left marked open.)
        """
        path = Path(path)

        def publish(tmp: Path) -> None:
            if path.is_file():  # the run file keeps its permissions
                os.chmod(tmp, path.stat().st_mode & 0o777)
            _fsync(tmp)
            os.replace(tmp, path)

        return cls._made_aside(path, schema, "resume", lambda f: _rebuild(path, f, schema),
                               publish)

    @classmethod
    def _made_aside(cls, path: Path, schema: Schema, what: str, build, publish) -> RunFile:
        """Lock ``path``, build its new content in a private file, enter SWMR, publish it."""
        lock = _writer_lock(path)
        tmp, f, fd = None, None, None
        try:
            _remove_stale(path)
            tmp, f = _private_file(path, what)
            done = build(f)
            f.swmr_mode = True
            f.flush()
            fd = os.open(tmp, os.O_RDWR)
            clear_write_flags(fd)
            publish(tmp)
            return cls(path, f, fd, schema, done, lock)
        except BaseException as err:
            for close in (f.close if f else None, (lambda: os.close(fd)) if fd else None):
                if close is not None:
                    close()
            lock.release()
            if isinstance(err, OSError):
                raise DiskFull(f"run file '{path}': cannot {what} it: {err.strerror or err}"
                               ) from None
            raise
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)  # published by then (or never to be)

    def _flush(self) -> None:
        """Flush to disk; then clear the superblock's "open for writing" mark that HDF5 writes
        whenever the file grows, so that any HDF5 reader can open the file (superblock.py)."""
        self._f.flush()
        clear_write_flags(self._fd)

    def rows(self, stream: str | None = None) -> int:
        return self._writers[stream or self.schema.main.name].n

    def append(self, values: dict[str, Any], stream: str | None = None) -> int:
        """Write one row of ``stream`` (default: the main stream) and flush it to disk."""
        writer = self._writers[stream or self.schema.main.name]
        writer.check(values)
        if self.broken:
            raise DiskFull(self.broken)
        try:
            self._watch.wrote(writer.row_bytes)
            # the data, then the mark that the row is complete, then one flush (which also
            # clears the flags): no metadata changes in between (see StreamWriter.mark_complete)
            i = writer.append(values)
            writer.mark_complete(i)
            self._flush()
        except DiskFull:  # stopped in time: the file is intact, its log and close still work
            raise
        except (OSError, RuntimeError) as err:  # a full disk, an I/O error
            self.broken = f"writing the run file failed: {_os_reason(err)}"
            raise DiskFull(self.broken) from None
        return i

    def log(self, level: str, message: str) -> None:
        """Add a line to the run log (skipped once a write has failed: the rows come first)."""
        if self.broken or self.closed:
            return
        line = f"{now_iso()} {level.upper()} {message}".encode()[:LOG_WIDTH]
        try:
            n = self._log_n
            if n >= self._log.shape[0]:
                self._log.resize(grown(n), axis=0)
            self._log[n] = line.decode(errors="ignore")
            self._log_n = n + 1
            self._flush()
        except (OSError, RuntimeError) as err:
            self.broken = f"writing the run log failed: {_os_reason(err)}"

    def read(self, name: str, stream: str | None = None) -> np.ndarray:
        """The complete rows written so far of quantity ``name`` (for resuming procedures)."""
        n = self.rows(stream)
        return self._f[name][:n]

    def close(self, status: str, reason: str = "", results: dict | None = None) -> str:
        """Trim to the complete rows, record status, reason and results, close; never raises.

        Everything happens in the SWMR session, in an order that a kill at any instant leaves
        consistent: rows trimmed, then the outcome, and the status last, so a file that says
        ``completed`` has all of it. Returns '' or why the file could not record the outcome
        (a full disk): its rows are still readable and ``labctl resume`` finishes it.
        """
        if self.closed:
            return ""
        self.closed = True
        problem = ""
        try:
            for w in self._writers.values():
                w.trim()
            self._log.resize(self._log_n, axis=0)
            self._flush()
            text = json.dumps(results or {}, default=_json_default, allow_nan=True)
            if len(text.encode()) > OUTCOME["results"]:
                text = json.dumps({"error": f"results of {len(text)} characters exceed the "
                                            f"{OUTCOME['results']}-byte limit"})
            write_outcome(self._f, "results", text)
            write_outcome(self._f, "reason", reason)
            write_outcome(self._f, "finished", now_iso())
            self._flush()
            write_outcome(self._f, "status", status)
            self._flush()
        except (OSError, RuntimeError, ValueError) as err:
            problem = f"run file '{self.path}' could not record '{status}': {_os_reason(err)}"
        try:
            self._f.close()
        except (OSError, RuntimeError) as err:
            problem = problem or f"run file '{self.path}': close failed: {_os_reason(err)}"
        finally:
            os.close(self._fd)
            self._lock.release()
        return problem


def _write_header(f: h5py.File, schema: Schema, metadata: dict[str, Any],
                  rows: dict[str, int]) -> None:
    for key in metadata:
        if key in OUTCOME or key in ("schema", "schema_version", "resumed"):
            raise ValueError(f"metadata key {key!r} is reserved by the run file")
    # in this order (the outcome's fixed-size attributes before the metadata): the file's
    # layout is the one it always had
    new_attrs(f, {"schema_version": SCHEMA_VERSION, "schema": json.dumps(schema.to_json()),
                  "started": now_iso(), "resumed": 0})
    create_outcome(f)
    for key, value in metadata.items():
        value = value if isinstance(value, str | int | float) else \
            json.dumps(value, default=_json_default)
        if key == "started":  # given by the caller: replaces the time of creation
            f.attrs[key] = value
        else:
            new_attrs(f, {key: value})
    create_layout(f, schema, rows)


def _writer_lock(path: Path):
    """The run file's exclusive writer lock (LockHeld, one line, if another writer has it)."""
    try:
        return file_lock(path, f"run file '{path}'").acquire()
    except OSError as err:
        raise RunFileError(f"run file '{path}': cannot write in '{path.parent}': "
                           f"{err.strerror or err}") from None


def _private_file(path: Path, what: str) -> tuple[Path, h5py.File]:
    """A new HDF5 file with a unique hidden name next to ``path`` (never shared with another
    writer). Created exclusively, never truncated: ext4 writes a file truncated to zero back
    to disk in full when it is closed (80 MB for 2000 spectra, a close 10x slower)."""
    while True:
        tmp = path.with_name(f".{path.name}.{what}-{secrets.token_hex(4)}")
        try:
            return tmp, h5py.File(tmp, "x", libver=LIBVER)
        except FileExistsError:
            continue


def _remove_stale(path: Path) -> None:
    """Remove what a killed create or resume of ``path`` left (call with the lock held)."""
    for what in ("create", "resume"):
        for stale in path.parent.glob(f".{glob.escape(path.name)}.{what}-*"):
            stale.unlink(missing_ok=True)


def _rebuild(path: Path, dst: h5py.File, schema: Schema) -> dict[str, int]:
    """Copy the run's metadata and its complete rows into ``dst``; rows per stream."""
    with open_run(path) as src:
        if attr_status(src) == COMPLETED:
            raise RunFileError(f"run file '{path}': run already completed, nothing to resume")
        read_schema(src)  # the stored layout is sound before anything is copied
        for key in src.attrs:
            if key in LINKS or key in OUTCOME:
                continue
            value = src.attrs[key]
            if isinstance(value, str | bytes | int | float | np.number | np.bytes_):
                dst.attrs[key] = value
        dst.attrs["schema_version"] = SCHEMA_VERSION
        dst.attrs["schema"] = json.dumps(schema.to_json())
        dst.attrs["resumed"] = attr_int(src, "resumed", 0) + 1
        create_outcome(dst)
        done = stream_rows(src, schema)
        rows = dict(done)
        rows[schema.main.name] = max(done[schema.main.name], attr_int(src, "planned_points", 0))
        create_layout(dst, schema, rows)
        for stream in schema.streams:
            n = done[stream.name]
            for q in [stream.name, *(q.name for q in stream.stored)]:
                if q not in src:
                    continue  # the row times of a file written before they existed
                step = block_rows(src, [q], COPY_ROWS)
                for a in range(0, n, step):
                    b = min(n, a + step)
                    dst[q][a:b] = read_rows(src, q, a, b)
        lines = log_lines(src, MAX_LOG_LINES)
        dst["log/line"].resize(capacity(len(lines)), axis=0)
        for a in range(0, len(lines), 4096):
            dst["log/line"][a:a + len(lines[a:a + 4096])] = lines[a:a + 4096]
    return done


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_reason(err: BaseException) -> str:
    """"No space left on device" rather than HDF5's error stack."""
    code = getattr(err, "errno", None)
    return os.strerror(code) if isinstance(code, int) and code > 0 else _first_line(err)


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)
