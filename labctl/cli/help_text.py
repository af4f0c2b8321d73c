"""Help the command prints: a procedure's parameters in engineering units, with the limits
of the station in use; options shown without type tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from typer.core import TyperArgument, TyperGroup

from labctl.units import format_value

if TYPE_CHECKING:
    from labctl.config import StationConfig
    from labctl.procedure import Parameter, Procedure

UNITS_HELP = ("values take units with SI prefixes (2.2mA, 500 uA, 10.5GHz, 650mT, 10 kOhm) or "
              "are bare SI numbers (A, V, T, Hz, s); lists as [0, -1] or [0 V, -500 mV]")


class Group(TyperGroup):
    """Typer's group, whose commands show no type tags (``<bool>``, ``<path>``) in their help:
    a flag says what it does, and an option's metavar (FILE, NAME=VALUE) what it takes."""

    def get_params(self, ctx):
        return _untyped(super().get_params(ctx))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None and not isinstance(command, TyperGroup):
            _untyped(command.get_params(ctx))
        return command


# what an option without a metavar of its own takes, by its Python type
METAVARS = {"Path": "PATH", "str": "TEXT", "int": "N", "float": "NUMBER"}


def _untyped(params: list) -> list:
    for p in params:
        if isinstance(p, TyperArgument):
            # an argument shows its name (its metavar) and its help, not its Python type
            p.display_type_rich = lambda ctx: None
        elif p.metavar is None:
            p.metavar = "" if getattr(p, "is_flag", False) else \
                METAVARS.get(p.bare_type(), p.name.upper())
    return params


def _number(value, unit: str) -> str:
    return format_value(value, unit) if isinstance(value, float) else str(value)


def _range(p: Parameter, config: StationConfig | None) -> str:
    if p.choices:
        return " | ".join(p.choices)
    if p.kind not in (float, int, list):
        return ""
    low, high = p.bounds(config)
    if low is None and high is None:
        return ""
    low_text = "" if low is None else _number(float(low) if p.kind is not int else int(low),
                                                p.unit)
    high_text = "" if high is None else _number(
        float(high) if p.kind is not int else int(high), p.unit)
    return f"{low_text} … {high_text}".strip()


def _default(p: Parameter) -> str:
    if p.kind is list:
        items = [_number(float(v), p.unit) if isinstance(v, int | float) else str(v)
                 for v in p.default]
        return "[" + ", ".join(items) + "]"
    if p.kind is bool:
        return "true" if p.default else "false"
    return _number(p.default, p.unit)


def procedure_help(cls: type[Procedure], config: StationConfig | None = None) -> str:
    """The parameters of ``cls``: default, allowed range (that of ``config``'s station when
    given) and what each does."""
    lines = [f"labctl run {cls.name} [--sim | --station FILE] [--set NAME=VALUE ...] "
             "[--dry-run] [--out DIR] [--sample S --device D --operator O --comment C]",
             "", cls.title, "", f"Parameters (--set NAME=VALUE; {UNITS_HELP}).",
             "Range: the parameter's own, within the limits of "
             + (f"the {config.source or config.name}" if config is not None else
                "the station in use (give --sim or --station FILE to see them)") + "."]
    rows = [("name", "default", "range", "")]
    for p in cls.parameters:
        bound = ""
        if p.station is not None:
            bound = f" (station's {p.station.what})"
        rows.append((p.name, _default(p), _range(p, config) + bound, p.description))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths))
                     + f"  {r[3]}".rstrip())
    return "\n".join(lines)


def version_callback(value: bool) -> None:
    """``labctl --version``."""
    if value:
        from labctl import __version__

        typer.echo(f"labctl {__version__}")
        raise typer.Exit(0)
