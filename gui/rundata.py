"""What the plots of one run show, held in bounded memory (no Qt here).

A 100,000-point run of 10,001-point spectra is 4 GB: the display cannot keep it. Traces go into
a :class:`SpectrumMap` of at most ``MAX_ROWS`` × ``MAX_COLUMNS`` cells (frequency bins keep
their maximum, so a narrow line is never lost; past ``MAX_ROWS`` pairs of rows merge the same
way), and the small quantities of each stream into :class:`Rows` that keep every other row once
they are full. Only the latest trace is kept whole. Live events (:meth:`RunData.feed`) and block
reads of a file (:mod:`gui.runreader`) fill the same structures.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from gui.plotdefs import is_trace, swept_quantity
from labctl.schema import FILL, Schema, Stream

MAX_ROWS = 2048  # map rows (current steps) before pairs merge
MAX_COLUMNS = 2048  # map columns (frequency bins)
ROW_CAPACITY = 16384  # rows of small quantities per stream before every other one is dropped
LOG_LINES = 2000


class Rows:
    """The small quantities (scalars, fitted peaks) of one stream, decimated past capacity."""

    def __init__(self, stream: Stream, schema: Schema, capacity: int = ROW_CAPACITY):
        self.stream = stream.name
        self.capacity = capacity
        self.stride = 1  # a row is kept when its index is a multiple of this
        self.n = 0  # rows held
        self.received = 0  # rows seen (last index + 1)
        self.index = np.zeros(capacity, dtype=np.int64)
        self.data: dict[str, np.ndarray] = {}
        for q in stream.quantities:
            if is_trace(schema, q):
                continue
            fill = FILL[q.dtype]
            self.data[q.name] = np.full((capacity, *schema.shape(q)), fill, dtype=q.dtype)

    def __len__(self) -> int:
        return self.n

    def column(self, name: str) -> np.ndarray:
        return self.data[name][: self.n]

    def indices(self) -> np.ndarray:
        return self.index[: self.n]

    def _halve(self) -> None:
        keep = np.flatnonzero(self.index[: self.n] % (2 * self.stride) == 0)
        for arr in (self.index, *self.data.values()):
            arr[: keep.size] = arr[keep]
        self.n = keep.size
        self.stride *= 2

    def add_block(self, start: int, values: dict[str, Any], count: int) -> None:
        """Rows ``start`` .. ``start + count - 1``; ``values`` holds arrays of ``count`` rows."""
        idx = np.arange(start, start + count)
        self.received = max(self.received, start + count)
        while True:
            keep = np.flatnonzero(idx % self.stride == 0)
            if self.n + keep.size <= self.capacity:
                break
            self._halve()
        if not keep.size:
            return
        end = self.n + keep.size
        self.index[self.n:end] = idx[keep]
        for name, arr in self.data.items():
            v = values.get(name)
            if v is not None:
                arr[self.n:end] = np.asarray(v)[keep]
        self.n = end

    def add(self, index: int, values: dict[str, Any]) -> None:
        """One row (the live path)."""
        self.received = max(self.received, index + 1)
        if index % self.stride:
            return
        if self.n == self.capacity:
            self._halve()
            if index % self.stride:
                return
        n = self.n
        self.index[n] = index
        for name, arr in self.data.items():
            v = values.get(name)
            if v is not None:
                arr[n] = v
        self.n = n + 1


class SpectrumMap:
    """Traces stacked row by row into a bounded image (rows: points, columns: frequency bins)."""

    def __init__(self, axis: np.ndarray, max_rows: int = MAX_ROWS,
                 max_columns: int = MAX_COLUMNS):
        n = len(axis)
        self.axis = np.asarray(axis, dtype=float)
        self.bin = max(1, math.ceil(n / max_columns))
        self.columns = math.ceil(n / self.bin)
        self.image = np.full((max_rows, self.columns), np.nan, dtype=np.float32)
        self.rows_per = 1  # points merged into one image row
        self.merges = 0  # times pairs of rows were merged (every image row changed)
        self.points = 0  # points added
        self.x_first = math.nan  # swept value of the first and of the latest point
        self.x_last = math.nan
        self._dx = math.nan
        self.uniform = True  # swept values step evenly: the image spans x_first..x_last

    @property
    def rows(self) -> int:
        """Image rows in use."""
        return -(-self.points // self.rows_per)

    def view(self) -> np.ndarray:
        return self.image[: self.rows]

    def bin_axis(self) -> np.ndarray:
        """The axis value at the start of each column."""
        return self.axis[:: self.bin]

    def decimate(self, traces: np.ndarray) -> np.ndarray:
        """(m, n) traces to (m, columns): the maximum of each bin (peaks survive)."""
        traces = np.asarray(traces, dtype=np.float32)
        m, n = traces.shape
        full, b = n // self.bin, self.bin
        out = np.empty((m, self.columns), np.float32)
        # a maximum over strided views: 15x faster than reshape(...).max(axis=2), whose
        # innermost loop runs over only ``bin`` values; the last, partial bin on its own
        # (padding the traces to whole bins would copy them all)
        head = out[:, :full]
        np.copyto(head, traces[:, 0:full * b:b])
        for k in range(1, b):
            np.maximum(head, traces[:, k:full * b:b], out=head)
        if full < self.columns:
            out[:, full] = traces[:, full * b:].max(axis=1)
        return out

    def _merge_pairs(self) -> None:
        rows = self.rows
        half = -(-rows // 2)
        merged = np.fmax(self.image[0:rows:2], np.vstack(
            [self.image[1:rows:2], np.full((half - rows // 2, self.columns), np.nan,
                                           np.float32)]))
        self.image[:half] = merged
        self.image[half:] = np.nan
        self.rows_per *= 2
        self.merges += 1

    def _track_x(self, x: np.ndarray) -> None:
        i0 = self.points
        if i0 == 0:
            self.x_first = float(x[0])
        k = np.arange(i0, i0 + x.size)
        if math.isnan(self._dx):
            later = np.flatnonzero(k > 0)
            if later.size:
                j = int(later[0])
                self._dx = float(x[j] - self.x_first) / int(k[j])
        if self.uniform and not math.isnan(self._dx):
            expect = self.x_first + k * self._dx
            if self._dx == 0 or np.any(np.abs(x - expect) > 1e-3 * abs(self._dx)):
                self.uniform = False
        self.x_last = float(x[-1])

    def add_block(self, x: np.ndarray, traces: np.ndarray) -> None:
        """Points with swept values ``x`` (m,) and traces (m, n)."""
        x = np.asarray(x, dtype=float).reshape(-1)
        if not x.size:
            return
        self._track_x(x)
        dec = self.decimate(np.atleast_2d(traces))
        first = self.points
        last = first + x.size - 1
        while last // self.rows_per >= self.image.shape[0]:
            self._merge_pairs()
        per = self.rows_per
        if per > 1:  # points that share an image row keep their maximum
            lead = first % per  # the block's place in its first image row
            rows = -(-(lead + x.size) // per)
            whole = np.empty((rows * per, self.columns), np.float32)
            whole[:lead] = whole[lead + x.size:] = np.nan
            whole[lead:lead + x.size] = dec
            # (a reduceat over the points runs its inner loop along them: 20x slower)
            dec = np.fmax.reduce(whole.reshape(rows, per, self.columns), axis=1)
        target = self.image[first // per:last // per + 1]
        np.fmax(target, dec, out=target)
        self.points = last + 1

    def add(self, x: float, trace: np.ndarray) -> None:
        """One point (the live path: a few µs for a 10,001-point trace)."""
        i = self.points
        if i == 0:
            self.x_first = x
        elif i == 1:
            self._dx = x - self.x_first
        if self.uniform and i > 0:
            dx = self._dx
            if dx == 0 or abs(x - (self.x_first + i * dx)) > 1e-3 * abs(dx):
                self.uniform = False
        self.x_last = x
        if i // self.rows_per >= self.image.shape[0]:
            self._merge_pairs()
        row = self.decimate(np.asarray(trace)[None])[0]
        target = self.image[i // self.rows_per]
        if i % self.rows_per:
            np.fmax(target, row, out=target)
        else:
            target[:] = row
        self.points = i + 1

    def value_at(self, row: int, column: int) -> float:
        if 0 <= row < self.rows and 0 <= column < self.columns:
            return float(self.image[row, column])
        return math.nan


class RunData:
    """Everything the plots of one run need, fed by run events or block reads of its file."""

    def __init__(self, schema: Schema, info: dict[str, Any] | None = None):
        self.schema = schema
        self.info = dict(info or {})
        self.planned = self.info.get("planned")
        self.status = "running"
        self.reason = ""
        self.results: dict[str, Any] = {}
        self.progress: dict[str, Any] = {}  # the latest progress event's data
        self.log: deque[tuple[str, str]] = deque(maxlen=LOG_LINES)
        self.rows = {s.name: Rows(s, schema) for s in schema.streams}
        swept = swept_quantity(schema)
        self.swept = swept.name if swept else ""
        self.maps = {q.name: SpectrumMap(schema.axis(q.dims[0]).values)
                     for q in schema.main.quantities if is_trace(schema, q)}
        self.latest: dict[str, Any] = {}  # the newest row of each stream, traces included
        self.version = 0  # bumped on every change: views redraw only when it moved

    @property
    def points(self) -> int:
        return self.rows[self.schema.main.name].received

    @classmethod
    def from_started(cls, data: dict[str, Any]) -> RunData:
        return cls(data["schema"], data)

    def add_point(self, index: int, values: dict[str, Any]) -> None:
        self.rows[self.schema.main.name].add(index, values)
        x = values.get(self.swept, index)
        for name, m in self.maps.items():
            if values.get(name) is not None:
                m.add(float(x), values[name])
        self.latest.update(values)
        self.version += 1

    def add_points(self, points: list[tuple[int, dict[str, Any]]]) -> None:
        """Consecutive points (one refresh's worth of live events) at once: the map takes
        their traces in one block, which costs a fraction of taking them one by one."""
        start, n = (points[0][0], len(points)) if points else (0, 0)
        names = points[-1][1].keys() if points else ()
        columns = {name: [values.get(name) for _, values in points] for name in names}
        if (n < 2 or points[-1][0] != start + n - 1 or any(len(v) != len(names) for _, v in points)
                or any(v is None for c in columns.values() for v in c)):
            for index, values in points:  # not one block (gaps, None, differing keys)
                self.add_point(index, values)
            return
        self.add_block(self.schema.main.name, start,
                       {name: np.asarray(c) for name, c in columns.items()}, len(points))
        self.latest.update(points[-1][1])

    def add_row(self, stream: str, index: int, values: dict[str, Any]) -> None:
        self.rows[stream].add(index, values)
        self.latest.update(values)
        self.version += 1

    def add_block(self, stream: str, start: int, values: dict[str, np.ndarray],
                  count: int) -> None:
        """``count`` rows of ``stream`` read from a file at once."""
        self.rows[stream].add_block(start, values, count)
        if stream == self.schema.main.name:
            x = values.get(self.swept, np.arange(start, start + count))
            for name, m in self.maps.items():
                if name in values:
                    m.add_block(x, values[name])
        if count:
            self.latest.update({k: v[-1] for k, v in values.items()})
        self.version += 1

    def feed(self, event) -> None:
        """Take one run event (point, row, progress, log, results, finished; started is the
        caller's: it creates the RunData)."""
        kind, data = event.kind, event.data
        if kind == "point":
            self.add_point(data["index"], data["values"])
            if data.get("planned"):
                self.planned = data["planned"]
        elif kind == "row":
            self.add_row(data["stream"], data["index"], data["values"])
        elif kind == "progress":
            self.progress = data
        elif kind == "log":
            self.log.append((data["level"], data["message"]))
        elif kind == "results":
            self.results.update(data["values"])
            self.version += 1
        elif kind == "finished":
            self.status, self.reason = data["status"], data["reason"]
            self.version += 1
