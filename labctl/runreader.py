"""Reading run files, which are untrusted input: every attribute and dataset is checked.

A run file may come from a killed process, another lab or a hostile sender. Reading one never
runs code (JSON, never pickle or eval), never follows a link out of the file, never allocates
more than a bounded amount of memory per read, and turns every defect into one RunFileError
line that names the file and what is wrong.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.errors import RunFileError
from labctl.runlayout import READABLE_VERSIONS, SCHEMA_VERSION, STATUSES
from labctl.schema import Schema, schema_from_json

MAX_ATTR_BYTES = 4 << 20  # a metadata attribute larger than this is refused
MAX_LINKS = 100_000  # objects a run file may hold (a few dozen in practice)
MAX_AXIS = 10_000_000  # values of one axis
MAX_ROWS = 1 << 40  # rows of one stream
BLOCK_BYTES = 8 << 20  # at most this much is read at once
MAX_LOG_LINES = 100_000  # log lines read at most


def open_run(path: str | Path) -> h5py.File:
    """Open a run file read-only, whether finished, running, or left by a killed process."""
    p = Path(path)
    if not p.is_file():
        raise RunFileError(f"run file '{p}': no such file")
    # HDF5's SWMR reader retries forever on a truncated file: refuse one first
    _check_complete_superblock(p)
    try:
        f = _OwnView(p)
    except OSError as err:
        if "already open for write" not in str(err):
            raise RunFileError(f"run file '{p}': not a readable HDF5 run file "
                               f"({_first_line(err)})") from None
        try:  # marked as being written (see superblock.py): only a SWMR reader may open it
            f = h5py.File(p, "r", libver="latest", swmr=True)
        except OSError as err2:
            raise RunFileError(f"run file '{p}': not a readable HDF5 run file "
                               f"({_first_line(err2)})") from None
    try:
        _check_links(f, p)
        if "status" not in f.attrs or "schema_version" not in f.attrs:
            raise RunFileError(f"run file '{p}': not a labctl run file (no schema_version)")
        version = attr_int(f, "schema_version")
        if version > SCHEMA_VERSION:
            raise RunFileError(
                f"run file '{p}': schema_version {version} is newer than this labctl reads "
                f"({SCHEMA_VERSION}); upgrade labctl")
        if version not in READABLE_VERSIONS:
            raise RunFileError(f"run file '{p}': schema_version {version} is not one this "
                               f"labctl reads ({', '.join(map(str, READABLE_VERSIONS))})")
    except BaseException:
        f.close()
        raise
    return f


class _OwnView(h5py.File):
    """A read-only view of a file through its own Python file object.

    HDF5 shares one cache among all the handles of a file in a process, so a handle opened
    while another is held (a GUI following a run) would see what the held one cached: a
    status still ``running``, rows not yet complete. Through a file object of its own, each
    view reads the file afresh, and it never conflicts with handles the user opened with
    other flags (plain h5py, xarray) in the same process.
    """

    def __init__(self, path: Path):
        fileobj = open(path, "rb")  # noqa: SIM115 - closed with the view
        try:
            super().__init__(fileobj, "r")
        except BaseException:
            fileobj.close()
            raise
        self._fileobj = fileobj

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._fileobj.close()


def _check_links(f: h5py.File, p: Path) -> None:
    """Refuse anything that points out of the file: links other than hard ones, data stored
    in external or virtual sources. Soft links are refused too (labctl writes none), which
    also rules out link loops."""
    count = 0

    def visit(name: str, link) -> str | None:  # a value stops the visit (never raise in it)
        nonlocal count
        count += 1
        if count > MAX_LINKS:
            return f"more than {MAX_LINKS} objects"
        if not isinstance(link, h5py.HardLink):
            kind = "external link" if isinstance(link, h5py.ExternalLink) else "soft link"
            return f"'{name}' is a {kind}; run files hold only their own data"
        return None

    try:
        problem = f.visititems_links(visit)
        if problem:
            raise RunFileError(f"run file '{p}': {problem}")
        problem = f.visititems(lambda name, obj: name if isinstance(obj, h5py.Dataset) and (
            obj.is_virtual or obj.external) else None)
        if problem:
            raise RunFileError(f"run file '{p}': dataset '{problem}' keeps its data outside "
                               "the file")
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise RunFileError(f"run file '{p}': unreadable structure ({_first_line(err)})"
                           ) from None


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


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _where(f: h5py.File) -> str:
    return f"run file '{f.filename}'"


def _attr(f: h5py.File, key: str) -> Any:
    try:
        attr = h5py.h5a.open(f.id, key.encode())
        if attr.get_storage_size() > MAX_ATTR_BYTES or attr.shape not in ((), (1,), None):
            raise RunFileError(f"{_where(f)}: attribute '{key}' is not a short scalar")
        return f.attrs[key]
    except (OSError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise RunFileError(f"{_where(f)}: attribute '{key}' unreadable ({_first_line(err)})"
                           ) from None


def attr_text(f: h5py.File, key: str, default: str = "") -> str:
    """A text attribute; RunFileError if it is not text (or not UTF-8)."""
    if key not in f.attrs:
        return default
    value = _attr(f, key)
    if isinstance(value, np.ndarray) and value.shape == (1,):
        value = value[0]
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise RunFileError(f"{_where(f)}: attribute '{key}' is not UTF-8 text") from None
    if isinstance(value, str):
        return value
    raise RunFileError(f"{_where(f)}: attribute '{key}' = {str(value)[:60]!r}: not text")


def attr_int(f: h5py.File, key: str, default: int | None = None) -> int:
    """An integer attribute (an int stored as text or float is refused)."""
    if key not in f.attrs:
        if default is None:
            raise RunFileError(f"{_where(f)}: attribute '{key}' missing")
        return default
    value = _attr(f, key)
    if isinstance(value, np.ndarray) and value.shape == (1,):
        value = value[0]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise RunFileError(f"{_where(f)}: attribute '{key}' = {str(value)[:60]!r}: "
                           "not an integer")
    return int(value)


def attr_json(f: h5py.File, key: str, default: Any = None) -> Any:
    """A JSON attribute decoded with json.loads only (a hostile file cannot run code).

    Text that is not JSON gives ``default``: the value is only ever shown, never executed.
    """
    try:
        text = attr_text(f, key, "")
    except RunFileError:
        return default
    if not text:
        return default
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return default


def attr_status(f: h5py.File) -> str:
    status = attr_text(f, "status")
    if status not in STATUSES:
        raise RunFileError(f"{_where(f)}: status = {status[:60]!r}: not one of "
                           f"{', '.join(STATUSES)}")
    return status


def coordinate(f: h5py.File, name: str) -> h5py.Dataset:
    """A stream's row-index coordinate, checked to be a 1-D integer dataset."""
    obj = f.get(name)
    if not isinstance(obj, h5py.Dataset) or obj.ndim != 1 or obj.dtype.kind not in "iu":
        raise RunFileError(f"{_where(f)}: '{name}' is not a row index (1-D integers)")
    if obj.shape[0] > MAX_ROWS:
        raise RunFileError(f"{_where(f)}: '{name}' has {obj.shape[0]} rows, too many")
    return obj


def complete_rows(coord: h5py.Dataset, known: int = 0) -> int:
    """Number of leading complete rows (coordinate == its index), read in bounded blocks;
    the first ``known`` rows are known to be complete (a reader following a file)."""
    coord.refresh()  # a held reader's cached view may be older than the file
    n = coord.shape[0]
    block = max(1, BLOCK_BYTES // 8)
    for start in range(min(known, n), n, block):
        idx = coord[start:start + block]
        ok = idx == np.arange(start, start + len(idx))
        if not ok.all():
            return start + int(np.argmin(ok))
    return n


def read_schema(f: h5py.File) -> Schema:
    """The run's schema, checked against the datasets it names (shapes, dtypes, dims)."""
    data = attr_json(f, "schema", None)
    if not isinstance(data, dict):
        raise RunFileError(f"{_where(f)}: schema attribute missing or unreadable")
    try:
        axes = {}
        for a in data.get("axes", []) if isinstance(data.get("axes", []), list) else []:
            name = a.get("name") if isinstance(a, dict) else None
            ds = f.get(name) if isinstance(name, str) and "/" not in name else None
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] > MAX_AXIS:
                raise ValueError(f"axis {str(name)[:40]!r} is not a 1-D dataset of at most "
                                 f"{MAX_AXIS} values")
            axes[name] = ds[:]
        schema = schema_from_json(data, axes)
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as err:
        raise RunFileError(f"{_where(f)}: schema does not match its data ({err})") from None
    check_layout(f, schema)
    return schema


def check_layout(f: h5py.File, schema: Schema) -> None:
    """Every stream and quantity of ``schema`` is a dataset of the declared shape and dtype."""
    for stream in schema.streams:
        n = coordinate(f, stream.name).shape[0]
        stored = stream.stored if stream.row_time.name in f else stream.quantities
        for q in stored:
            ds = f.get(q.name)
            want = (schema.shape(q), np.dtype(q.dtype))
            if not isinstance(ds, h5py.Dataset):
                raise RunFileError(f"{_where(f)}: quantity '{q.name}' missing or not a "
                                   "dataset")
            if ds.shape[1:] != want[0] or ds.dtype != want[1] or ds.shape[0] < min(n, 1):
                raise RunFileError(
                    f"{_where(f)}: '{q.name}' is {ds.dtype}{list(ds.shape)}, the schema says "
                    f"{want[1]}[rows, {', '.join(map(str, want[0]))}]".replace(", ]", "]"))


def stream_rows(f: h5py.File, schema: Schema, known: dict[str, int] | None = None
                ) -> dict[str, int]:
    """Complete rows of each stream (a row is complete in all of its datasets); ``known``:
    rows of each stream known to be complete already."""
    rows = {}
    for stream in schema.streams:
        n = complete_rows(coordinate(f, stream.name), (known or {}).get(stream.name, 0))
        for q in stream.quantities:
            n = min(n, f[q.name].shape[0])
        rows[stream.name] = n
    return rows


def block_rows(f: h5py.File, names: list[str], most: int) -> int:
    """Rows of datasets ``names`` to read at once: at most ``most``, and BLOCK_BYTES in all."""
    row = sum(int(np.prod(f[name].shape[1:], dtype=np.int64)) * f[name].dtype.itemsize
              for name in names)
    return max(1, min(most, BLOCK_BYTES // max(row, 1)))


def read_rows(f: h5py.File, name: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a dataset, fresh from disk even through a held handle.

    A reader keeps a dataset's chunks and index in its cache: refreshed here, after the
    coordinate was read, it covers at least the rows the coordinate marks complete.
    """
    ds = f[name]
    ds.refresh()
    return ds[start:stop]


def log_lines(f: h5py.File, limit: int = MAX_LOG_LINES) -> list[bytes]:
    """The run log's lines (UTF-8 bytes): up to the first empty one, at most ``limit``."""
    ds = f.get("log/line")
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype.kind != "S" or \
            ds.dtype.itemsize > 4096:
        return []
    out: list[bytes] = []
    step = 4096
    for start in range(0, min(ds.shape[0], limit), step):
        for line in ds[start:min(start + step, limit)]:
            if not line:
                return out
            out.append(bytes(line))
    return out


def read_info(path: str | Path) -> dict[str, Any]:
    """What a run is, without loading its data."""
    t0 = time.perf_counter()
    with open_run(path) as f:
        schema = read_schema(f)
        info = {
            "path": str(path),
            "procedure": attr_text(f, "procedure"),
            "parameters": attr_json(f, "parameters", {}),
            "status": attr_status(f),
            "reason": attr_text(f, "reason"),
            "started": attr_text(f, "started"),
            "finished": attr_text(f, "finished"),
            "planned_points": attr_int(f, "planned_points", -1),
            "rows": stream_rows(f, schema),
            "instruments": attr_json(f, "instruments", {}),
            "results": attr_json(f, "results", {}),
            "software_version": attr_text(f, "software_version"),
            "resumed": attr_int(f, "resumed", 0),
            "schema_version": attr_int(f, "schema_version"),
            "schema": schema.to_json(),
        }
    info["read_seconds"] = time.perf_counter() - t0
    return info
