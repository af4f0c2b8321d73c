"""What the plots hold stays bounded however long a run is, and keeps what matters."""

from __future__ import annotations

import numpy as np
import pytest

from gui.rundata import Rows, SpectrumMap
from labctl.schema import Axis, Quantity, Schema, Stream


def test_map_merges_rows_and_bins_but_keeps_a_narrow_line():
    axis = np.linspace(8e9, 12e9, 10001)
    m = SpectrumMap(axis, max_rows=64, max_columns=500)
    assert m.bin == 21 and m.columns == 477  # 10001 points in bins of 21
    line = 6000  # one frequency point only, 30 dB over the floor
    for i in range(1000):
        trace = np.full(10001, -80.0, np.float32)
        if i == 777:
            trace[line] = -50.0
        m.add(1e-3 + i * 1e-6, trace)
    assert m.points == 1000
    assert m.rows_per == 16 and m.rows == 63  # merged four times, never past 64 rows
    assert m.image.shape == (64, 477)  # the image never grew
    assert m.value_at(777 // 16, line // 21) == -50.0  # the line survived every merge
    assert np.nanmax(np.delete(m.view(), 777 // 16, axis=0)) == -80.0
    assert m.uniform and m.x_first == 1e-3 and np.isclose(m.x_last, 1e-3 + 999e-6)


@pytest.mark.parametrize("n, columns, size", [(300, 64, 77), (1001, 125, 13)])
def test_map_block_reads_equal_point_by_point(n, columns, size):
    axis = np.linspace(0, 1, n)
    rng = np.random.default_rng(3)
    traces = rng.normal(-80, 3, (500, n)).astype(np.float32)
    x = np.linspace(0.5, 0.8, 500)
    one, block = SpectrumMap(axis, 32, columns), SpectrumMap(axis, 32, columns)
    for xi, t in zip(x, traces):
        one.add(xi, t)
    for start in range(0, 500, size):  # blocks that straddle rows of 16 merged points
        block.add_block(x[start:start + size], traces[start:start + size])
    assert np.array_equal(one.view(), block.view(), equal_nan=True)
    assert (one.rows_per, one.rows) == (block.rows_per, block.rows) == (16, 32)


def test_the_last_partial_frequency_bin_keeps_its_maximum():
    m = SpectrumMap(np.linspace(0, 1, 1001), max_columns=125)
    assert (m.bin, m.columns) == (9, 112)  # 111 bins of 9 points, the last of 2
    traces = np.random.default_rng(4).normal(size=(5, 1001)).astype(np.float32)
    assert np.array_equal(m.decimate(traces)[:, -1], traces[:, 999:].max(axis=1))


def test_map_notices_a_sweep_that_is_not_even():
    m = SpectrumMap(np.linspace(0, 1, 100))
    for x in (1.0, 2.0, 3.0, 1.0, 2.0):  # a second sweep of the same currents (sync-map)
        m.add(x, np.zeros(100))
    assert not m.uniform


def _stream():
    schema = Schema(streams=(Stream("point", (
        Quantity("current", "A"), Quantity("trace", "dBm", "float32", ("frequency",)),
        Quantity("peaks", "Hz", dims=("slot",)), Quantity("n", "", "int64"))),),
        axes=(Axis("frequency", np.arange(1000.0), "Hz"), Axis("slot", np.arange(4), "")))
    return schema.main, schema


def test_rows_keep_every_other_row_past_capacity():
    stream, schema = _stream()
    rows = Rows(stream, schema, capacity=100)
    assert set(rows.data) == {"current", "peaks", "n"}  # the trace is not kept per row
    for i in range(1000):
        rows.add(i, {"current": i * 1e-6, "peaks": np.full(4, float(i)), "n": i,
                     "trace": np.zeros(1000)})
    assert rows.received == 1000
    assert len(rows) <= 100 and rows.stride == 16
    idx = rows.indices()
    assert idx[0] == 0 and np.all(np.diff(idx) == 16) and idx[-1] >= 1000 - 16
    assert np.array_equal(rows.column("n"), idx)
    assert np.array_equal(rows.column("peaks")[:, 2], idx.astype(float))


def test_a_refresh_worth_of_live_points_taken_at_once_equals_one_by_one():
    from gui.rundata import RunData

    stream, schema = _stream()
    rng = np.random.default_rng(5)
    points = [(i, {"current": 1e-3 + i * 1e-6, "n": i, "peaks": rng.normal(size=4),
                   "trace": rng.normal(-80, 3, 1000).astype(np.float32)}) for i in range(700)]
    points[650][1]["peaks"] = None  # a quantity left unmeasured: that batch goes point by point
    one, batched = RunData(schema), RunData(schema)
    for index, values in points:
        one.add_point(index, values)
    for start, size in zip(range(0, 700, 37), [3, 37, 1, 77, 40] * 40):
        batched.add_points(points[start:start + 37][:size])
        for index, values in points[start:start + 37][size:]:
            batched.add_point(index, values)
    a, b = one.maps["trace"], batched.maps["trace"]
    assert (a.points, a.rows_per, a.rows) == (b.points, b.rows_per, b.rows) == (700, 1, 700)
    assert np.array_equal(a.view(), b.view(), equal_nan=True)
    for name in ("current", "n", "peaks"):
        assert np.array_equal(one.rows["point"].column(name), batched.rows["point"].column(name),
                              equal_nan=True)
    assert batched.latest["n"] == 699 and batched.points == 700

