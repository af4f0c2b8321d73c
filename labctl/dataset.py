"""``load_run``: a run file as an xarray Dataset, whether finished, running or killed.

Named dimensions (one per stream and per axis), the swept quantity and the row times as
coordinates of their stream (so ``ds.trace.plot(x="current", y="frequency")`` works), units
and descriptions in each variable's attributes, the run's metadata and results in the
dataset's attributes. Only complete rows are returned. xarray's own
``open_dataset(path, engine="h5netcdf")`` opens finished runs too, but not a file still
being written (or left by a killed writer), which only a SWMR reader may open.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labctl.runreader import (
    attr_int,
    attr_json,
    attr_status,
    attr_text,
    open_run,
    read_rows,
    read_schema,
    stream_rows,
)

if TYPE_CHECKING:
    import xarray as xr

TEXT_ATTRS = ("procedure", "run_id", "reason", "started", "finished", "software_version",
              "host", "sample", "device", "operator", "comment")
JSON_ATTRS = ("parameters", "results", "instruments", "station", "parameter_units",
              "result_units")


def load_run(path: str | Path) -> xr.Dataset:
    """The complete rows of a run file as an ``xarray.Dataset`` (data loaded into memory)."""
    import xarray as xr

    with open_run(path) as f:
        schema = read_schema(f)
        rows = stream_rows(f, schema)  # the marks first: the data read next covers them
        coords: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for axis in schema.axes:
            coords[axis.name] = (axis.name, np.asarray(axis.values),
                                 _attrs(axis.unit, axis.description or axis.name))
        for stream in schema.streams:
            n = rows[stream.name]
            coords[stream.name] = (stream.name, np.arange(n),
                                   {"long_name": stream.description or stream.name})
            for q in stream.stored:
                if q.name not in f:
                    continue  # row times of a file written before labctl recorded them
                values = read_rows(f, q.name, 0, n)
                if q.name == stream.row_time.name:  # the row time: seconds since 1970 -> datetime64
                    coords[q.name] = (stream.name, _datetimes(values),
                                      {"long_name": q.description})
                    continue
                var = ((stream.name, *q.dims), values, _attrs(q.unit, q.description or q.name))
                (coords if q.name == stream.swept else data)[q.name] = var
        attrs: dict[str, Any] = {"path": str(path), "status": attr_status(f),
                                 "schema_version": attr_int(f, "schema_version"),
                                 "planned_points": attr_int(f, "planned_points", -1),
                                 "resumed": attr_int(f, "resumed", 0)}
        for key in TEXT_ATTRS:
            attrs[key] = attr_text(f, key, "")
        for key in JSON_ATTRS:
            attrs[key] = attr_json(f, key, {})
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _attrs(unit: str, description: str) -> dict[str, str]:
    return {"units": unit, "long_name": description} if unit else {"long_name": description}


def _datetimes(seconds: np.ndarray) -> np.ndarray:
    ns = np.round(np.asarray(seconds, dtype=np.float64) * 1e9)
    out = np.full(ns.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = np.isfinite(ns)
    out[ok] = ns[ok].astype(np.int64).astype("datetime64[ns]")
    return out
