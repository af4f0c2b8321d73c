"""Which plots show a run, chosen from its schema (no Qt here: the GUI and `labctl plot` share it).

A new procedure gets sensible plots without GUI code: arrays over a long axis (a spectrum over
frequency) give the latest trace and a growing map; scalars are shown against the swept
quantity (the first scalar of the main stream). Quantities the experiment's analyses produce
(fitted peaks, memristor cycles, the Kittel line, gate states) add their own plots.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.schema import Quantity, Schema, Stream

SPECTRUM, MAP, SCALARS, PEAKS, THRESHOLD, LOOPS, CYCLES, KITTEL, SYNC_MAP = (
    "spectrum", "map", "scalars", "peaks", "threshold", "loops", "cycles", "kittel", "sync-map")
LABEL_CHARS = 28  # longer descriptions make unreadable axis labels: the name is shown instead
LONG_AXIS = 64  # an array over more points than this is a trace (spectrum), not a few values


@dataclass(frozen=True)
class PlotDef:
    """One plot: its kind, title and the quantities it shows."""

    kind: str
    title: str
    x: str = ""  # quantity on the horizontal axis (main stream, unless ``stream`` says)
    y: tuple[str, ...] = ()
    stream: str = ""
    axis: str = ""  # the array axis of a trace or map (e.g. "frequency")


def is_trace(schema: Schema, q: Quantity) -> bool:
    return len(q.dims) == 1 and len(schema.axis(q.dims[0]).values) > LONG_AXIS


def scalars(stream: Stream) -> list[Quantity]:
    return [q for q in stream.quantities if not q.dims]


def swept_quantity(schema: Schema) -> Quantity | None:
    """The quantity a run sweeps: the main stream's ``swept`` if the procedure declares it.
    Otherwise: oscillator procedures sweep I_SHNO or the field, so the first
    scalar in A or T of a run with traces; otherwise the first scalar of the main stream
    (procedures declare the setpoint first: pulse, time, cycle)."""
    found = scalars(schema.main)
    if schema.main.swept:  # declared by the procedure
        return next(q for q in found if q.name == schema.main.swept)
    if any(is_trace(schema, q) for q in schema.main.quantities):
        for q in found:
            if q.unit in ("A", "T"):
                return q
    return found[0] if found else None


def _names(stream: Stream) -> set[str]:
    return {q.name for q in stream.quantities}


def plots_for(schema: Schema) -> list[PlotDef]:
    """The plots of a run with this schema, most telling first."""
    main = schema.main
    names = _names(main)
    swept = swept_quantity(schema)
    x = swept.name if swept else ""
    out: list[PlotDef] = []
    # excess_power (the analysis' coarse band power) is a summary of the trace, not one
    traces = [q for q in main.quantities if is_trace(schema, q) and q.name != "excess_power"]
    for q in traces:
        axis = q.dims[0]
        out.append(PlotDef(MAP, f"{q.description or q.name} map", x, (q.name,), axis=axis))
        out.append(PlotDef(SPECTRUM, q.description or q.name, axis, (q.name,), axis=axis))
    if "peak_frequency" in names:
        out.append(PlotDef(PEAKS, "fitted peaks", x,
                           ("peak_frequency", "peak_fwhm", "peak_power")))
    if {"total_power", "n_lines"} <= names and swept is not None and swept.unit == "A":
        out.append(PlotDef(THRESHOLD, "threshold: line power vs I", x, ("total_power",)))
    if {"voltage", "current", "cycle_index"} <= names:
        out.append(PlotDef(LOOPS, "I-V loops", "voltage", ("current",)))
    for stream in schema.streams:
        if {"r_hrs", "r_lrs"} <= _names(stream):
            out.append(PlotDef(CYCLES, "R_HRS and R_LRS per cycle", stream.name,
                               ("r_hrs", "r_lrs"), stream=stream.name))
    if "strongest_frequency" in names and swept is not None and swept.unit == "T":
        b = "field_measured" if "field_measured" in names else x
        out.append(PlotDef(KITTEL, "f vs B, Kittel fit", b, ("strongest_frequency",)))
    if {"state", "n_lines", "current"} <= names:
        out.append(PlotDef(SYNC_MAP, "sync map: lines per gate state", "current",
                           ("n_lines",)))
    others = [q for q in scalars(main) if q.name != x]
    if swept is not None:
        # the most telling first: a resistance (memristor runs), a current, another float
        others.sort(key=lambda q: (q.unit != "ohm", q.unit != "A", q.dtype != "float64"))
        y = tuple(q.name for q in others) or (x,)
        # a counter (cycle, pulse) repeats over many rows: the rows' order reads better
        # and a swept value that loops (memristor I-V cycles, drawn by the loops plot) too
        x_shown = "point" if swept.dtype.startswith("int") or "cycle_index" in names else x
        out.append(PlotDef(SCALARS, f"{y[0]} vs {x_shown}", x_shown, y))
    return out


def label(q: Quantity | None, fallback: str = "") -> tuple[str, str]:
    """(axis label, unit) for a quantity; pyqtgraph adds the SI prefix to the unit."""
    if q is None:
        return fallback, ""
    unit = {"ohm": "Ω", "deg": "°"}.get(q.unit, q.unit)
    # a description that is a note, not a name ("V/I (NaN at I = 0)"), gives way to the name
    short = q.description and len(q.description) <= LABEL_CHARS and "(" not in q.description
    text = q.description if short else q.name
    return text, unit


def quantity(schema: Schema, name: str) -> Quantity | None:
    for stream in schema.streams:
        for q in stream.quantities:
            if q.name == name:
                return q
    return None
