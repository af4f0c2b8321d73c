"""The HDF5 run file: one file per run, every point flushed as measured, readable while written.

The layout is in :mod:`labctl.runlayout`, reading in :mod:`labctl.runreader`. Writing uses
SWMR from creation to close, and nothing else: a spectrum row is one chunk, scalars live in
small chunks rewritten whole from a one-chunk buffer (memory does not grow with the run), and
the outcome (status, reason, results) is rewritten in place in attributes allocated when the
file was made. So a kill -9 at any instant, the close included, leaves a file that SWMR
ordering keeps readable, and a reader holding the file open never stops the close.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.diskspace import DiskFull, DiskWatch, row_bytes
from labctl.errors import RunFileError
from labctl.locks import file_lock
from labctl.runlayout import (  # noqa: F401  (re-exported: the run file's public names)
    ABORTED,
    COMPLETED,
    FAILED,
    GROW,
    LIBVER,
    LINKS,
    LOG_WIDTH,
    OUTCOME,
    RUNNING,
    SCALAR_CHUNK,
    SCHEMA_VERSION,
    create_layout,
    create_outcome,
    is_small,
    now_iso,
    write_outcome,
)
from labctl.runreader import (  # noqa: F401  (re-exported)
    attr_int,
    attr_json,
    attr_status,
    attr_text,
    complete_rows,
    open_run,
    read_info,
    read_rows,
    read_schema,
    stream_rows,
)
from labctl.schema import FILL, Schema, Stream

COPY_ROWS = 256  # rows copied at a time when a resume rebuilds the file
MAX_LOG_LINES = 1_000_000  # log lines a resume carries over


class _StreamWriter:
    """Appends rows to the datasets of one stream."""

    def __init__(self, f: h5py.File, stream: Stream, schema: Schema, done: int):
        self.stream = stream
        self.coord = f[stream.name]
        self.n = done
        self.capacity = self.coord.shape[0]
        self.row_bytes = row_bytes(schema, stream)
        # resolved once: h5py's high-level lookups are slow. Large arrays (spectra) are one
        # chunk per row; small quantities (scalars, fitted peaks, the row time) share chunks
        self.arrays = [(q.name, f[q.name], schema.shape(q)) for q in stream.quantities
                       if not is_small(schema, q)]
        small = [(q.name, f[q.name]) for q in stream.stored if is_small(schema, q)]
        self.names = {q.name for q in stream.quantities}
        self.time_name = stream.row_time.name
        start = (done // SCALAR_CHUNK) * SCALAR_CHUNK
        self.scalars = [(name, ds.id, self._buffer(ds, start)) for name, ds in small]
        self.coord_buffer = self._buffer(self.coord, start)

    def _buffer(self, ds: h5py.Dataset, start: int) -> np.ndarray:
        """The chunk being filled, as in the file (a resume may start inside a chunk)."""
        fill = FILL[str(ds.dtype)]
        buf = np.full((SCALAR_CHUNK, *ds.shape[1:]), fill, dtype=ds.dtype)
        if self.n > start:
            stop = min(start + SCALAR_CHUNK, self.capacity)
            buf[: stop - start] = ds[start:stop]
            buf[self.n - start:] = fill
        return buf

    def _grow(self) -> None:
        self.capacity += GROW
        self.coord.resize(self.capacity, axis=0)
        for _, ds, _ in self.arrays:
            ds.resize(self.capacity, axis=0)
        for name, _, _ in self.scalars:
            self.coord.file[name].resize(self.capacity, axis=0)

    def check(self, values: dict[str, Any]) -> None:
        """Refuse a row that does not fit the schema, before anything of it is written."""
        if not values.keys() <= self.names:
            extra = sorted(values.keys() - self.names)
            raise ValueError(f"stream {self.stream.name!r}: unknown quantities {extra}")
        for name, _, shape in self.arrays:
            v = values.get(name)
            if v is not None and np.shape(v) != shape:
                raise ValueError(f"{name}: shape {np.shape(v)}, schema says {shape}")

    def append(self, values: dict[str, Any]) -> int:
        i = self.n
        if i >= self.capacity:
            self._grow()
        for name, ds, shape in self.arrays:
            v = values.get(name)
            if v is None:
                continue  # the fill value stands for "not measured"
            arr = np.ascontiguousarray(v, dtype=ds.dtype)
            ds.id.write_direct_chunk((i,) + (0,) * len(shape), arr)
        c0 = (i // SCALAR_CHUNK) * SCALAR_CHUNK
        j = i - c0
        if j == 0 and i > 0:
            for _, _, buf in self.scalars:
                buf[:] = FILL[str(buf.dtype)]
            self.coord_buffer[:] = -1
        values = {**values, self.time_name: time.time()}
        for name, dsid, buf in self.scalars:
            v = values.get(name)
            if v is not None:
                buf[j] = v
                dsid.write_direct_chunk((c0,) + (0,) * (buf.ndim - 1), buf)
        return i

    def mark_complete(self, i: int) -> None:
        """Write row ``i``'s coordinate, the mark that the row is complete.

        Call it only after the row's data has been flushed: a rewritten chunk reaches the file
        at once, but the index entry of a newly allocated one (a spectrum row) waits in HDF5's
        metadata cache until the flush, so a mark written earlier could outlive its data.
        """
        j = i % SCALAR_CHUNK
        self.coord_buffer[j] = i
        self.coord.id.write_direct_chunk((i - j,), self.coord_buffer)
        self.n = i + 1

    def trim(self) -> None:
        """Shrink the datasets to the complete rows (their chunk buffers are already on disk)."""
        for name in [self.stream.name, *(q.name for q in self.stream.stored)]:
            self.coord.file[name].resize(self.n, axis=0)


class RunFile:
    """Writer of one run file. Create with :meth:`create` or reopen with :meth:`resume`.

    The writer holds the file's lock (``<file>.lock``) from creation or resume to close, so a
    second writer of the same file is refused with one line.
    """

    def __init__(self, path: Path, f: h5py.File, schema: Schema, done: dict[str, int], lock):
        self.path = path
        self._f = f
        self._lock = lock
        self.schema = schema
        self._writers = {s.name: _StreamWriter(f, s, schema, done.get(s.name, 0))
                         for s in schema.streams}
        self._log = f["log/line"]
        self._watch = DiskWatch(path.parent, max(w.row_bytes for w in self._writers.values()))
        self.closed = False
        self.broken = ""  # the first write that failed: nothing more is written after it

    @classmethod
    def create(cls, path: str | Path, schema: Schema, metadata: dict[str, Any]) -> RunFile:
        """Create the file with its layout and metadata; from here on every row is flushed.

        The file is created exclusively: a file that exists, even one another process made a
        moment ago, is never truncated.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _writer_lock(path)
        try:
            try:
                f = h5py.File(path, "x", libver=LIBVER)
            except FileExistsError:
                raise RunFileError(f"run file '{path}' already exists; refusing to overwrite"
                                   ) from None
            except OSError as err:
                raise DiskFull(f"run file '{path}': cannot create: {err.strerror or err}"
                               ) from None
            try:
                _write_header(f, schema, metadata)
                f.swmr_mode = True
            except Exception as err:
                f.close()
                path.unlink(missing_ok=True)  # ours, made a moment ago, never a valid run
                if isinstance(err, OSError):
                    raise DiskFull(f"run file '{path}': cannot create: {err}") from None
                raise
        except BaseException:
            lock.release()
            raise
        return cls(path, f, schema, {}, lock)

    @classmethod
    def resume(cls, path: str | Path, schema: Schema) -> RunFile:
        """Reopen an unfinished run for writing after its last complete row.

        HDF5 will not reopen a file a killed SWMR writer left marked as open, so the file is
        rebuilt (complete rows only) in a private temporary file next to it, which enters SWMR
        and then atomically takes the file's place: a kill at any instant leaves either the
        old file or the rebuilt one, and readers holding the old one are never disturbed.
        """
        path = Path(path)
        lock = _writer_lock(path)
        tmp = None
        try:
            for stale in path.parent.glob(f".{path.name}.resume-*"):  # left by a killed resume
                stale.unlink(missing_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.resume-", dir=path.parent)
            os.close(fd)
            tmp = Path(name)
            if path.is_file():  # mkstemp makes it private; the run file keeps its permissions
                os.chmod(tmp, path.stat().st_mode & 0o777)
            dst = h5py.File(tmp, "w", libver=LIBVER)
            try:
                done = _rebuild(path, dst, schema)
                dst.swmr_mode = True
                dst.flush()
                _fsync(tmp)
                os.replace(tmp, path)
                tmp = None
            except BaseException:
                dst.close()
                raise
        except OSError as err:
            lock.release()
            raise DiskFull(f"run file '{path}': cannot rebuild it to resume: "
                           f"{err.strerror or err}") from None
        except BaseException:
            lock.release()
            raise
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        return cls(path, dst, schema, done, lock)

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
            i = writer.append(values)
            self._f.flush()  # the data first ...
            writer.mark_complete(i)
            self._f.flush()  # ... then the mark that the row is complete
        except DiskFull as err:
            self.broken = str(err)
            raise
        except (OSError, RuntimeError) as err:  # a full disk, an I/O error
            self.broken = f"writing the run file failed: {_first_line(err)}"
            raise DiskFull(self.broken) from None
        return i

    def log(self, level: str, message: str) -> None:
        """Add a line to the run log (skipped once a write has failed: the rows come first)."""
        if self.broken or self.closed:
            return
        line = f"{now_iso()} {level.upper()} {message}".encode()[:LOG_WIDTH]
        try:
            n = self._log.shape[0]
            self._log.resize(n + 1, axis=0)
            self._log[n] = line.decode(errors="ignore")
            self._f.flush()
        except (OSError, RuntimeError) as err:
            self.broken = f"writing the run log failed: {_first_line(err)}"

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
            self._f.flush()
            text = json.dumps(results or {}, default=_json_default, allow_nan=True)
            if len(text.encode()) > OUTCOME["results"]:
                text = json.dumps({"error": f"results of {len(text)} characters exceed the "
                                            f"{OUTCOME['results']}-byte limit"})
            write_outcome(self._f, "results", text)
            write_outcome(self._f, "reason", reason)
            write_outcome(self._f, "finished", now_iso())
            self._f.flush()
            write_outcome(self._f, "status", status)
            self._f.flush()
        except (OSError, RuntimeError, ValueError) as err:
            problem = f"run file '{self.path}' could not record '{status}': {_first_line(err)}"
        try:
            self._f.close()
        except (OSError, RuntimeError) as err:
            problem = problem or f"run file '{self.path}': close failed: {_first_line(err)}"
        finally:
            self._lock.release()
        return problem


def _write_header(f: h5py.File, schema: Schema, metadata: dict[str, Any]) -> None:
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["schema"] = json.dumps(schema.to_json())
    f.attrs["started"] = now_iso()
    f.attrs["resumed"] = 0
    create_outcome(f)
    for key, value in metadata.items():
        if key in OUTCOME or key in ("schema", "schema_version", "resumed"):
            raise ValueError(f"metadata key {key!r} is reserved by the run file")
        f.attrs[key] = value if isinstance(value, str | int | float) else \
            json.dumps(value, default=_json_default)
    create_layout(f, schema)


def _writer_lock(path: Path):
    """The run file's exclusive writer lock (LockHeld, one line, if another writer has it)."""
    try:
        return file_lock(path, f"run file '{path}'").acquire()
    except OSError as err:
        raise RunFileError(f"run file '{path}': cannot write in '{path.parent}': "
                           f"{err.strerror or err}") from None


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
        create_layout(dst, schema)
        done = stream_rows(src, schema)
        for stream in schema.streams:
            n = done[stream.name]
            for q in [stream.name, *(q.name for q in stream.stored)]:
                dst[q].resize(max(GROW, -(-n // GROW) * GROW), axis=0)
                if q not in src:
                    continue  # the row times of a file written before they existed
                for a in range(0, n, COPY_ROWS):
                    b = min(n, a + COPY_ROWS)
                    dst[q][a:b] = read_rows(src, q, a, b)
        old = src.get("log/line")
        if isinstance(old, h5py.Dataset) and old.ndim == 1 and old.dtype.kind in "SO":
            n = min(old.shape[0], MAX_LOG_LINES)
            dst["log/line"].resize(n, axis=0)
            for a in range(0, n, 4096):
                lines = old[a:min(n, a + 4096)]
                dst["log/line"][a:a + len(lines)] = [
                    (x if isinstance(x, bytes) else str(x).encode())[:LOG_WIDTH] for x in lines]
    return done


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)
