"""The HDF5 run file: one file per run, every point flushed as measured, readable while written.

Layout (netCDF-compatible, so ``xarray.open_dataset(path, engine="h5netcdf")`` opens it):
- one dimension per stream (``point``, ``cycle`` ...): an int64 coordinate holding the index of
  each complete row (-1 where not yet written, so a killed run shows exactly what finished);
- one dimension per axis (``frequency`` ...): the values, stored once;
- one dataset per quantity, chunked along its stream, with ``units`` and ``long_name``;
- root attributes: ``schema_version``, procedure, parameters, station, instruments, versions,
  times, ``status`` and ``reason`` (plain strings and JSON, never pickle);
- group ``log``: the run log, one fixed-width UTF-8 line per entry.

Writing uses SWMR and direct chunk writes: a spectrum row is one chunk, scalars live in small
chunks rewritten whole from a one-chunk buffer, so memory does not grow with the run.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.errors import RunFileError
from labctl.schema import FILL, Quantity, Schema, Stream

SCHEMA_VERSION = 1
SCALAR_CHUNK = 64  # rows per chunk of a small quantity (rewritten whole on every point)
SMALL = 64  # values per row up to which a quantity is buffered in SCALAR_CHUNK-row chunks
GROW = 4096  # rows added to a stream's datasets when they are full
LOG_WIDTH = 400  # bytes per log line
RUNNING, COMPLETED, ABORTED, FAILED = "running", "completed", "aborted", "failed"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _StreamWriter:
    """Appends rows to the datasets of one stream."""

    def __init__(self, f: h5py.File, stream: Stream, schema: Schema, done: int):
        self.stream = stream
        self.coord = f[stream.name]
        self.n = done
        self.capacity = self.coord.shape[0]
        # resolved once: h5py's high-level lookups are slow. Large arrays (spectra) are one
        # chunk per row; small quantities (scalars, fitted peaks) share buffered chunks
        self.arrays = [(q.name, f[q.name], schema.shape(q)) for q in stream.quantities
                       if not _is_small(schema, q)]
        scalars = [(q.name, f[q.name]) for q in stream.quantities if _is_small(schema, q)]
        self.names = {q.name for q in stream.quantities}
        start = (done // SCALAR_CHUNK) * SCALAR_CHUNK
        self.scalars = [(name, ds.id, self._buffer(ds, start)) for name, ds in scalars]
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

    def append(self, values: dict[str, Any]) -> int:
        if not values.keys() <= self.names:
            extra = sorted(values.keys() - self.names)
            raise ValueError(f"stream {self.stream.name!r}: unknown quantities {extra}")
        i = self.n
        if i >= self.capacity:
            self._grow()
        for name, ds, shape in self.arrays:
            v = values.get(name)
            if v is None:
                continue  # the fill value stands for "not measured"
            arr = np.ascontiguousarray(v, dtype=ds.dtype)
            if arr.shape != shape:
                raise ValueError(f"{name}: shape {arr.shape}, schema says {shape}")
            ds.id.write_direct_chunk((i,) + (0,) * len(shape), arr)
        c0 = (i // SCALAR_CHUNK) * SCALAR_CHUNK
        j = i - c0
        if j == 0 and i > 0:
            for _, _, buf in self.scalars:
                buf[:] = FILL[str(buf.dtype)]
            self.coord_buffer[:] = -1
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


def _is_small(schema: Schema, q: Quantity) -> bool:
    return int(np.prod(schema.shape(q), dtype=np.int64)) <= SMALL


def _create_layout(f: h5py.File, schema: Schema) -> None:
    for axis in schema.axes:
        ds = f.create_dataset(axis.name, data=np.asarray(axis.values))
        ds.attrs["units"] = axis.unit
        ds.attrs["long_name"] = axis.description or axis.name
        ds.make_scale(axis.name)
    for stream in schema.streams:
        coord = f.create_dataset(stream.name, shape=(GROW,), maxshape=(None,), dtype="int64",
                                 chunks=(SCALAR_CHUNK,), fillvalue=-1)
        coord.attrs["long_name"] = stream.description or f"index of the {stream.name}"
        coord.make_scale(stream.name)
        for q in stream.quantities:
            shape = schema.shape(q)
            chunks = (SCALAR_CHUNK, *shape) if _is_small(schema, q) else (1, *shape)
            fill = FILL[q.dtype]
            ds = f.create_dataset(q.name, shape=(GROW, *shape), maxshape=(None, *shape),
                                  dtype=q.dtype, chunks=chunks, fillvalue=fill)
            ds.attrs["units"] = q.unit
            ds.attrs["long_name"] = q.description or q.name
            ds.attrs["_FillValue"] = np.array(fill, dtype=q.dtype)
            ds.dims[0].attach_scale(coord)
            for k, dim in enumerate(q.dims, start=1):
                ds.dims[k].attach_scale(f[dim])
    log = f.create_group("log")
    lines = log.create_dataset("line", shape=(0,), maxshape=(None,), chunks=(64,),
                               dtype=h5py.string_dtype("utf-8", LOG_WIDTH))
    lines.attrs["long_name"] = "run log: ISO time, level, message"


class RunFile:
    """Writer of one run file. Create with :meth:`create` or reopen with :meth:`resume`."""

    def __init__(self, path: Path, f: h5py.File, schema: Schema, done: dict[str, int]):
        self.path = path
        self._f = f
        self.schema = schema
        self._writers = {s.name: _StreamWriter(f, s, schema, done.get(s.name, 0))
                         for s in schema.streams}
        self._log = f["log/line"]
        self.closed = False

    @classmethod
    def create(cls, path: str | Path, schema: Schema, metadata: dict[str, Any]) -> RunFile:
        """Create the file with its layout and metadata; from here on every row is flushed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise RunFileError(f"run file '{path}' already exists; refusing to overwrite")
        f = h5py.File(path, "w", libver="latest")
        try:
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["schema"] = json.dumps(schema.to_json())
            f.attrs["status"] = RUNNING
            f.attrs["reason"] = ""
            f.attrs["started"] = now_iso()
            f.attrs["finished"] = ""
            f.attrs["results"] = "{}"
            f.attrs["resumed"] = 0
            for key, value in metadata.items():
                f.attrs[key] = value if isinstance(value, str | int | float) else json.dumps(value)
            _create_layout(f, schema)
            f.swmr_mode = True
        except Exception:
            f.close()
            raise
        return cls(path, f, schema, {})

    @classmethod
    def resume(cls, path: str | Path, schema: Schema) -> RunFile:
        """Reopen an unfinished run for writing after its last complete row.

        A killed SWMR writer leaves the file marked as open, which HDF5 will not reopen for
        writing; the file is therefore rebuilt (complete rows only) next to itself and
        atomically put in its place.
        """
        path = Path(path)
        info = read_info(path)
        if info["status"] == COMPLETED:
            raise RunFileError(f"run file '{path}': run already completed, nothing to resume")
        tmp = path.with_name(path.name + ".resume-tmp")
        if tmp.exists():
            tmp.unlink()
        with open_run(path) as src, h5py.File(tmp, "w", libver="latest") as dst:
            for key, value in src.attrs.items():
                if key not in ("DIMENSION_LIST", "REFERENCE_LIST"):
                    dst.attrs[key] = value
            _create_layout(dst, schema)
            done = {}
            for stream in schema.streams:
                n = complete_rows(src[stream.name])
                done[stream.name] = n
                names = [stream.name] + [q.name for q in stream.quantities]
                for name in names:
                    size = max(GROW, -(-n // GROW) * GROW)
                    dst[name].resize(size, axis=0)
                    if n:
                        dst[name][:n] = src[name][:n]
            old = src["log/line"][:]
            dst["log/line"].resize(len(old), axis=0)
            dst["log/line"][:] = old
            dst.attrs["status"] = RUNNING
            dst.attrs["resumed"] = int(src.attrs.get("resumed", 0)) + 1
        os.replace(tmp, path)
        f = h5py.File(path, "r+", libver="latest")
        f.swmr_mode = True
        return cls(path, f, schema, done)

    def rows(self, stream: str | None = None) -> int:
        return self._writers[stream or self.schema.main.name].n

    def append(self, values: dict[str, Any], stream: str | None = None) -> int:
        """Write one row of ``stream`` (default: the main stream) and flush it to disk."""
        writer = self._writers[stream or self.schema.main.name]
        i = writer.append(values)
        self._f.flush()  # the data first ...
        writer.mark_complete(i)
        self._f.flush()  # ... then the mark that the row is complete
        return i

    def log(self, level: str, message: str) -> None:
        line = f"{now_iso()} {level.upper()} {message}".encode()[:LOG_WIDTH]
        n = self._log.shape[0]
        self._log.resize(n + 1, axis=0)
        self._log[n] = line.decode(errors="ignore")
        self._f.flush()

    def read(self, name: str, stream: str | None = None) -> np.ndarray:
        """The complete rows written so far of quantity ``name`` (for resuming procedures)."""
        n = self.rows(stream)
        return self._f[name][:n]

    def close(self, status: str, reason: str = "", results: dict | None = None) -> None:
        """Trim datasets to the rows written, record status, reason and results, close."""
        if self.closed:
            return
        counts = {name: w.n for name, w in self._writers.items()}
        self._f.flush()
        self._f.close()
        self.closed = True
        with h5py.File(self.path, "r+") as f:
            for stream in self.schema.streams:
                n = counts[stream.name]
                for name in [stream.name] + [q.name for q in stream.quantities]:
                    f[name].resize(n, axis=0)
            f.attrs["status"] = status
            f.attrs["reason"] = reason
            f.attrs["finished"] = now_iso()
            f.attrs["results"] = json.dumps(results or {}, default=_json_default)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


# ---- reading -----------------------------------------------------------------------------


def open_run(path: str | Path) -> h5py.File:
    """Open a run file read-only, whether finished, running, or left by a killed process."""
    p = Path(path)
    if not p.is_file():
        raise RunFileError(f"run file '{p}': no such file")
    try:
        f = h5py.File(p, "r")
    except OSError as err:
        if "already open for write" not in str(err):
            raise RunFileError(f"run file '{p}': not a readable HDF5 run file "
                               f"({_first_line(err)})") from None
        # still being written, or its writer was killed: only a SWMR reader may open it,
        # and HDF5's SWMR reader retries forever on a truncated file, so check that first
        _check_complete_superblock(p)
        try:
            f = h5py.File(p, "r", libver="latest", swmr=True)
        except OSError as err2:
            raise RunFileError(f"run file '{p}': not a readable HDF5 run file "
                               f"({_first_line(err2)})") from None
    version = f.attrs.get("schema_version")
    if version is None or "status" not in f.attrs:
        f.close()
        raise RunFileError(f"run file '{p}': not a labctl run file (no schema_version)")
    if int(version) > SCHEMA_VERSION:
        f.close()
        raise RunFileError(
            f"run file '{p}': schema_version {int(version)} is newer than this labctl reads "
            f"({SCHEMA_VERSION}); upgrade labctl")
    return f


def _check_complete_superblock(p: Path) -> None:
    """Refuse a file shorter than the end-of-file its (version 2/3) superblock records."""
    with open(p, "rb") as fh:
        head = fh.read(48)
    if head[:8] != b"\x89HDF\r\n\x1a\n" or len(head) < 12 or head[8] not in (2, 3):
        return
    size_of_offsets = head[9]
    start = 12 + 2 * size_of_offsets  # after base address and extension address
    stored_eof = int.from_bytes(head[start:start + size_of_offsets], "little")
    actual = p.stat().st_size
    if actual < stored_eof:
        raise RunFileError(f"run file '{p}': truncated ({actual} of {stored_eof} bytes)")


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def complete_rows(coord: h5py.Dataset) -> int:
    """Number of leading complete rows (coordinate == its index)."""
    idx = coord[:]
    ok = idx == np.arange(len(idx))
    return int(len(idx) if ok.all() else np.argmin(ok))


def attr_text(f: h5py.File, key: str, default: str = "") -> str:
    value = f.attrs.get(key, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def attr_json(f: h5py.File, key: str, default: Any = None) -> Any:
    """A JSON attribute decoded with json.loads only (a hostile file cannot run code)."""
    text = attr_text(f, key, "")
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


def read_info(path: str | Path) -> dict[str, Any]:
    """What a run is, without loading its data."""
    t0 = time.perf_counter()
    with open_run(path) as f:
        schema = attr_json(f, "schema", {}) or {}
        streams = {}
        for s in schema.get("streams", []):
            name = s.get("name")
            if isinstance(name, str) and name in f:
                streams[name] = complete_rows(f[name])
        info = {
            "path": str(path),
            "procedure": attr_text(f, "procedure"),
            "parameters": attr_json(f, "parameters", {}),
            "status": attr_text(f, "status"),
            "reason": attr_text(f, "reason"),
            "started": attr_text(f, "started"),
            "finished": attr_text(f, "finished"),
            "planned_points": int(f.attrs.get("planned_points", -1)),
            "rows": streams,
            "instruments": attr_json(f, "instruments", {}),
            "results": attr_json(f, "results", {}),
            "software_version": attr_text(f, "software_version"),
            "resumed": int(f.attrs.get("resumed", 0)),
            "schema": schema,
        }
    info["read_seconds"] = time.perf_counter() - t0
    return info

