"""Data schema of a run, declared before the first point: names, shapes, dtypes, units."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DTYPES = {"float64", "float32", "int64", "int32", "int8"}
FILL = {"float64": np.nan, "float32": np.nan, "int64": -1, "int32": -1, "int8": -1}


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
    """Quantities that grow together along one dimension (``point``, ``cycle``, ...)."""

    name: str
    quantities: tuple[Quantity, ...]
    description: str = ""


@dataclass(frozen=True)
class Schema:
    streams: tuple[Stream, ...]
    axes: tuple[Axis, ...] = field(default_factory=tuple)

    def __post_init__(self):
        names = [s.name for s in self.streams] + [a.name for a in self.axes]
        qnames = [q.name for s in self.streams for q in s.quantities]
        if len(set(names + qnames)) != len(names) + len(qnames):
            raise ValueError("schema: stream, axis and quantity names must all be distinct")
        axes = {a.name for a in self.axes}
        for s in self.streams:
            for q in s.quantities:
                missing = [d for d in q.dims if d not in axes]
                if missing:
                    raise ValueError(f"quantity {q.name}: no axis named {missing[0]!r}")

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
            "streams": [{"name": s.name, "description": s.description,
                         "quantities": [{"name": q.name, "unit": q.unit, "dtype": q.dtype,
                                         "dims": list(q.dims), "description": q.description}
                                        for q in s.quantities]} for s in self.streams],
            "axes": [{"name": a.name, "unit": a.unit, "description": a.description,
                      "length": len(a.values)} for a in self.axes],
        }


def schema_from_json(data: dict, axis_values: dict[str, np.ndarray]) -> Schema:
    """Rebuild a Schema from its JSON form and the stored axis values (for replay and resume)."""
    axes = tuple(Axis(a["name"], axis_values[a["name"]], a.get("unit", ""),
                      a.get("description", "")) for a in data.get("axes", []))
    streams = tuple(
        Stream(s["name"], tuple(Quantity(q["name"], q.get("unit", ""), q.get("dtype", "float64"),
                                         tuple(q.get("dims", [])), q.get("description", ""))
                                for q in s["quantities"]), s.get("description", ""))
        for s in data.get("streams", []))
    return Schema(streams=streams, axes=axes)
