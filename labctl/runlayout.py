"""The run file's layout on disk, shared by the writer, the resume and the readers.

Layout (netCDF-compatible, so ``xarray.open_dataset(path, engine="h5netcdf")`` opens a
finished run, and HDF5 1.10 tools read every file):
- one dimension per stream (``point``, ``cycle`` ...): an int64 coordinate holding the index of
  each complete row (-1 where not yet written, so a killed run shows exactly what finished);
- one dimension per axis (``frequency`` ...): the values, stored once;
- one dataset per quantity, chunked along its stream, with ``units`` and ``long_name``, and a
  ``<stream>_time`` dataset: when each row was written (CF time units);
- root attributes: ``schema_version``, procedure, parameters, station, instruments, versions,
  ``started`` (plain strings and JSON, never pickle), and the fixed-size attributes of the
  outcome (``status``, ``reason``, ``finished``, ``results``), rewritten in place at the end;
- group ``log``: the run log, one fixed-width UTF-8 line per entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

import h5py
import numpy as np

from labctl.schema import FILL, Quantity, Schema

SCHEMA_VERSION = 2  # 2: fixed-size outcome attributes, row times, swept coordinates
READABLE_VERSIONS = (1, 2)
# SWMR needs the 1.10 file format at least; "latest" under HDF5 2.0 writes dimension-scale
# references that HDF5 1.10 tools (h5dump, MATLAB, Igor, HDFView of today) crash on
LIBVER = ("v110", "v110")
SCALAR_CHUNK = 64  # rows per chunk of a small quantity (rewritten whole on every point)
SMALL = 64  # values per row up to which a quantity is buffered in SCALAR_CHUNK-row chunks
GROW = 4096  # most rows added at once to a stream's datasets when they are full
LOG_WIDTH = 400  # bytes per log line
RUNNING, COMPLETED, ABORTED, FAILED = "running", "completed", "aborted", "failed"
STATUSES = (RUNNING, COMPLETED, ABORTED, FAILED)
# The outcome is written at the end without leaving SWMR, so in place: fixed sizes (bytes),
# allocated when the file is made. A longer reason or result set is cut (and says so).
OUTCOME = {"status": 16, "finished": 40, "reason": 2048, "results": 32768}
LINKS = ("DIMENSION_LIST", "REFERENCE_LIST")  # dimension-scale bookkeeping, never copied


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_small(schema: Schema, q: Quantity) -> bool:
    return int(np.prod(schema.shape(q), dtype=np.int64)) <= SMALL


def fixed_text(text: str, size: int) -> np.ndarray:
    """``text`` as a fixed-size UTF-8 string of ``size`` bytes, cut at a character boundary."""
    data = text.encode("utf-8")
    if len(data) > size:
        data = data[: size - 3].decode("utf-8", errors="ignore").encode("utf-8") + b"..."
    return np.array(data, dtype=h5py.string_dtype("utf-8", size))


def create_outcome(f: h5py.File, status: str = RUNNING) -> None:
    for key, size in OUTCOME.items():
        initial = {"status": status, "results": "{}"}.get(key, "")
        f.attrs.create(key, fixed_text(initial, size))


def write_outcome(f: h5py.File, key: str, text: str) -> None:
    """Rewrite an outcome attribute in place (allowed under SWMR; allocates no file space)."""
    attr = h5py.h5a.open(f.id, key.encode())
    attr.write(fixed_text(text, OUTCOME[key]))


_SCALAR_SPACE = h5py.h5s.create_simple(())
_TEXT = h5py.string_dtype()
_TYPES: dict[str, tuple] = {}  # (file type, memory type) by dtype: ~5 µs each to make


def new_attrs(obj: h5py.HLObject, values: dict) -> None:
    """Create the attributes ``values`` of ``obj`` (none of them exists yet): on disk exactly
    what ``obj.attrs[name] = value`` writes for a str, number or 0-d array, through h5py's
    low-level calls (its high-level path costs ~50 µs per attribute, a file has ~100)."""
    for name, value in values.items():
        text = isinstance(value, str)
        data = np.asarray(value, dtype=_TEXT if text else None)
        if data.ndim or not (text or data.dtype.kind in "biuf"):  # anything else: h5py's way
            obj.attrs[name] = value
            continue
        key = "text" if text else data.dtype.str
        types = _TYPES.get(key)
        if types is None:
            types = _TYPES[key] = (h5py.h5t.py_create(data.dtype, logical=True),
                                   h5py.h5t.py_create(data.dtype))
        attr = h5py.h5a.create(obj.id, name.encode(), types[0], _SCALAR_SPACE)
        attr.write(data, mtype=types[1])


def capacity(rows: int | None) -> int:
    """Rows to allocate for a stream that will hold ``rows`` (a whole number of chunks)."""
    rows = max(int(rows or 0), SCALAR_CHUNK)
    return -(-rows // SCALAR_CHUNK) * SCALAR_CHUNK


def grown(current: int) -> int:
    """The next capacity of a full stream: doubled, by at most GROW rows."""
    return capacity(current + min(max(current, SCALAR_CHUNK), GROW))


def _allocated_now() -> h5py.h5p.PropDCID:
    """Chunks allocated (and filled) when a dataset is made or grown, not when first written:
    appending a row then changes no metadata, so the file on disk is consistent between
    flushes and every HDF5 reader, SWMR or not, can open it while it is written."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def create_layout(f: h5py.File, schema: Schema, rows: dict[str, int] | None = None) -> None:
    """Axes, one dataset per stored quantity with ``rows[stream]`` rows allocated, the log."""
    rows = rows or {}
    for axis in schema.axes:
        ds = f.create_dataset(axis.name, data=np.asarray(axis.values))
        new_attrs(ds, {"units": axis.unit, "long_name": axis.description or axis.name})
        ds.make_scale(axis.name)
    for stream in schema.streams:
        n = capacity(rows.get(stream.name))
        coord = f.create_dataset(stream.name, shape=(n,), maxshape=(None,), dtype="int64",
                                 chunks=(SCALAR_CHUNK,), fillvalue=-1, dcpl=_allocated_now())
        new_attrs(coord, {"long_name": stream.description or f"index of the {stream.name}"})
        coord.make_scale(stream.name)
        # CF auxiliary coordinates: xarray labels the rows with the swept quantity and time
        labels = " ".join(n for n in (stream.swept, stream.row_time.name) if n)
        for q in stream.stored:
            shape = schema.shape(q)
            chunks = (SCALAR_CHUNK, *shape) if is_small(schema, q) else (1, *shape)
            fill = FILL[q.dtype]
            # a large row is written exactly once, so its chunk is never pre-filled (that
            # would write the run twice): a row never written reads as zeros, and only
            # complete rows (coordinate = index) count
            ds = f.create_dataset(q.name, shape=(n, *shape), maxshape=(None, *shape),
                                  dtype=q.dtype, chunks=chunks, fillvalue=fill,
                                  dcpl=_allocated_now(),
                                  fill_time="ifset" if is_small(schema, q) else "never")
            attrs = {"units": q.unit, "long_name": q.description or q.name,
                     "_FillValue": np.array(fill, dtype=q.dtype)}
            own = " ".join(n for n in labels.split() if n != q.name)
            if own:
                attrs["coordinates"] = own
            new_attrs(ds, attrs)
            ds.dims[0].attach_scale(coord)
            for k, dim in enumerate(q.dims, start=1):
                ds.dims[k].attach_scale(f[dim])
    log = f.create_group("log")
    # allocated in advance too, lines filled in place; the first empty line ends the log
    lines = log.create_dataset("line", shape=(capacity(rows.get("log")),), maxshape=(None,),
                               chunks=(SCALAR_CHUNK,), dtype=h5py.string_dtype("utf-8", LOG_WIDTH),
                               dcpl=_allocated_now())
    lines.attrs["long_name"] = "run log: ISO time, level, message"
