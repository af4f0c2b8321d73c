"""Data schema of a run, declared before the first point: names, shapes, dtypes, units."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DTYPES = {"float64", "float32", "int64", "int32", "int8"}
FILL = {"float64": np.nan, "float32": np.nan, "int64": -1, "int32": -1, "int8": -1}
# CF time units, so that xarray decodes the row times to datetime64
ROW_TIME_UNITS = "seconds since 1970-01-01 00:00:00"


@dataclass(frozen=True)
class Axis:
    """A coordinate stored once (e.g. the frequency axis of every spectrum)."""

    name: str
    values: np.ndarray
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Quantity:
    """One recorded quantity of a stream; ``dims`` names an Axis for each array dimension."""

    name: str
    unit: str = ""
    dtype: str = "float64"
    dims: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"quantity {self.name}: dtype {self.dtype!r} not in {sorted(DTYPES)}")


@dataclass(frozen=True)
class Stream:
    """Quantities that grow together along one dimension (``point``, ``cycle``, ...).

    ``swept`` names the scalar quantity that labels the rows (``current`` in a sweep of
    I_SHNO): readers make it a coordinate of the stream's dimension.
    """

    name: str
    quantities: tuple[Quantity, ...]
    description: str = ""
    swept: str = ""

    @property
    def row_time(self) -> Quantity:
        """The time each row was written, recorded by the run file for every stream."""
        return Quantity(f"{self.name}_time", ROW_TIME_UNITS, "float64", (),
                        f"time the {self.name} row was written (UTC)")

    @property
    def stored(self) -> tuple[Quantity, ...]:
        """Every dataset of the stream in a run file: its quantities and the row time."""
        return (*self.quantities, self.row_time)


@dataclass(frozen=True)
class Schema:
    streams: tuple[Stream, ...]
    axes: tuple[Axis, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not self.streams:
            raise ValueError("schema: needs at least one stream")
        names = [s.name for s in self.streams] + [a.name for a in self.axes]
        qnames = [q.name for s in self.streams for q in s.stored]
        if len(set(names + qnames)) != len(names) + len(qnames):
            raise ValueError("schema: stream, axis, quantity and row-time names must all be "
                             "distinct")
        axes = {a.name for a in self.axes}
        for s in self.streams:
            for q in s.quantities:
                missing = [d for d in q.dims if d not in axes]
                if missing:
                    raise ValueError(f"quantity {q.name}: no axis named {missing[0]!r}")
            if s.swept and not any(q.name == s.swept and not q.dims for q in s.quantities):
                raise ValueError(f"stream {s.name}: swept {s.swept!r} is not one of its scalar "
                                 "quantities")

    @property
    def main(self) -> Stream:
        return self.streams[0]

    def stream(self, name: str) -> Stream:
        for s in self.streams:
            if s.name == name:
                return s
        raise KeyError(name)

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise KeyError(name)

    def shape(self, q: Quantity) -> tuple[int, ...]:
        return tuple(len(self.axis(d).values) for d in q.dims)

    def to_json(self) -> dict:
        return {
            "streams": [{"name": s.name, "description": s.description, "swept": s.swept,
                         "quantities": [{"name": q.name, "unit": q.unit, "dtype": q.dtype,
                                         "dims": list(q.dims), "description": q.description}
                                        for q in s.quantities]} for s in self.streams],
            "axes": [{"name": a.name, "unit": a.unit, "description": a.description,
                      "length": len(a.values)} for a in self.axes],
        }


def schema_from_json(data: Any, axis_values: dict[str, np.ndarray]) -> Schema:
    """Rebuild a Schema from its JSON form and the stored axis values (for replay and resume).

    The JSON comes from a file, so it is untrusted: every field is type-checked and every name
    must be a plain identifier (a name is also an HDF5 path: ``../x`` or ``log/line`` must not
    pass). ValueError names what is wrong.
    """
    data = _table(data, "schema")
    axes = []
    for a in _list(data.get("axes", []), "schema axes"):
        a = _table(a, "axis")
        name = _name(a.get("name"), "axis")
        if name not in axis_values:
            raise ValueError(f"axis {name!r} has no stored values")
        axes.append(Axis(name, axis_values[name], _text(a.get("unit", ""), name),
                         _text(a.get("description", ""), name)))
    streams = []
    for st in _list(data.get("streams"), "schema streams"):
        st = _table(st, "stream")
        sname = _name(st.get("name"), "stream")
        quantities = []
        for q in _list(st.get("quantities"), f"stream {sname} quantities"):
            q = _table(q, f"quantity of stream {sname}")
            qname = _name(q.get("name"), "quantity")
            dtype = q.get("dtype", "float64")
            if dtype not in DTYPES:
                raise ValueError(f"quantity {qname}: dtype {dtype!r} not in {sorted(DTYPES)}")
            dims = tuple(_name(d, f"dimension of {qname}")
                         for d in _list(q.get("dims", []), f"dims of {qname}", limit=8))
            quantities.append(Quantity(qname, _text(q.get("unit", ""), qname), dtype, dims,
                                       _text(q.get("description", ""), qname)))
        swept = st.get("swept", "") or ""
        streams.append(Stream(sname, tuple(quantities), _text(st.get("description", ""), sname),
                              _name(swept, "swept quantity") if swept else ""))
    return Schema(streams=tuple(streams), axes=tuple(axes))


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_ITEMS = 256  # streams, axes or quantities a stored schema may declare


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{what} name {str(value)[:80]!r} is not a plain identifier")
    return value


def _text(value: Any, what: str, limit: int = 1000) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what}: unit or description {str(value)[:80]!r} is not a short text")
    return value


def _table(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a table")
    return value


def _list(value: Any, what: str, limit: int = MAX_ITEMS) -> list:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"{what}: not a list of at most {limit} items")
    return value
