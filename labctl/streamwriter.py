"""Appending rows to one stream of a run file: data first, then the mark that it is complete.

A spectrum row is one chunk, written once into a chunk allocated in advance; scalars and
small arrays (fitted peaks, the row time) share 64-row chunks rewritten whole from a
one-chunk buffer. Memory does not grow with the run, and no row changes the file's metadata.
"""

from __future__ import annotations

import time
from typing import Any

import h5py
import numpy as np

from labctl.diskspace import row_bytes
from labctl.runlayout import SCALAR_CHUNK, grown, is_small
from labctl.schema import FILL, Schema, Stream


class StreamWriter:
    """Appends rows to the datasets of one stream."""

    def __init__(self, f: h5py.File, stream: Stream, schema: Schema, done: int):
        self.stream = stream
        self.coord = f[stream.name]
        self.n = done
        self.capacity = self.coord.shape[0]
        self.row_bytes = row_bytes(schema, stream)
        # resolved once: h5py's high-level lookups are slow. Large arrays (spectra) are one
        # chunk per row; small quantities (scalars, fitted peaks, the row time) share chunks
        self.arrays = [(q.name, f[q.name], schema.shape(q), np.dtype(q.dtype))
                       for q in stream.quantities if not is_small(schema, q)]
        # what a row writes, ready: dataset id, chunk offset after the row index, dtype
        self._array_writes = [(name, ds.id, (0,) * len(shape), shape, dtype)
                              for name, ds, shape, dtype in self.arrays]
        self._fill_rows: dict[str, np.ndarray] = {}
        small = [(q.name, f[q.name]) for q in stream.stored if is_small(schema, q)]
        self.names = {q.name for q in stream.quantities}
        self.time_name = stream.row_time.name
        start = (done // SCALAR_CHUNK) * SCALAR_CHUNK
        self.scalars = [(name, ds.id, self._buffer(ds, start)) for name, ds in small]
        self._scalar_writes = [(name, dsid, buf, (0,) * (buf.ndim - 1))
                               for name, dsid, buf in self.scalars if name != self.time_name]
        self._time_write = next(((dsid, buf) for name, dsid, buf in self.scalars
                                 if name == self.time_name), None)
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
        self.capacity = grown(self.capacity)
        self.coord.resize(self.capacity, axis=0)
        for _, ds, _, _ in self.arrays:
            ds.resize(self.capacity, axis=0)
        for name, _, _ in self.scalars:
            self.coord.file[name].resize(self.capacity, axis=0)
        # the new chunks are allocated now (early), their index entries in HDF5's metadata
        # cache: on disk before any row is written into them
        self.coord.file.flush()

    def check(self, values: dict[str, Any]) -> None:
        """Refuse a row that does not fit the schema, before anything of it is written."""
        if not values.keys() <= self.names:
            extra = sorted(values.keys() - self.names)
            raise ValueError(f"stream {self.stream.name!r}: unknown quantities {extra}")
        for name, _, shape, _ in self.arrays:
            v = values.get(name)
            if v is not None and np.shape(v) != shape:
                raise ValueError(f"{name}: shape {np.shape(v)}, schema says {shape}")

    def append(self, values: dict[str, Any]) -> int:
        i = self.n
        if i >= self.capacity:
            self._grow()
        for name, dsid, zeros, shape, dtype in self._array_writes:
            v = values.get(name)
            if v is None:  # the fill value stands for "not measured" (chunks are not pre-filled)
                arr = self._fill_rows.get(name)
                if arr is None:
                    arr = self._fill_rows[name] = np.full(shape, FILL[dtype.name], dtype)
            else:
                arr = np.ascontiguousarray(v, dtype=dtype)
            dsid.write_direct_chunk((i, *zeros), arr)
        c0 = (i // SCALAR_CHUNK) * SCALAR_CHUNK
        j = i - c0
        if j == 0 and i > 0:
            for _, _, buf in self.scalars:
                buf[:] = FILL[str(buf.dtype)]
            self.coord_buffer[:] = -1
        for name, dsid, buf, zeros in self._scalar_writes:
            v = values.get(name)
            if v is not None:
                buf[j] = v
                dsid.write_direct_chunk((c0, *zeros), buf)
        if self._time_write is not None:  # when the row was written
            dsid, buf = self._time_write
            buf[j] = time.time()
            dsid.write_direct_chunk((c0,), buf)
        return i

    def mark_complete(self, i: int) -> None:
        """Write row ``i``'s coordinate, the mark that the row is complete.

        Every chunk a row writes was allocated (and its index entry flushed) before: when the
        file was made or when :meth:`_grow` added rows. A row's writes therefore change no
        metadata and reach the file at once, in program order, data before this mark; the
        caller's flush after the mark is what makes the row visible to SWMR readers.
        """
        j = i % SCALAR_CHUNK
        self.coord_buffer[j] = i
        self.coord.id.write_direct_chunk((i - j,), self.coord_buffer)
        self.n = i + 1

    def trim(self) -> None:
        """Shrink the datasets to the complete rows (their chunk buffers are already on disk)."""
        for name in [self.stream.name, *(q.name for q in self.stream.stored)]:
            self.coord.file[name].resize(self.n, axis=0)
