"""Quantities with units at the edges: ``2.2mA``, ``500 uA``, ``10.5GHz``, ``650mT`` -> SI.

Parsing is pint's (imported on first use: it costs ~0.3 s, and most commands never parse a
unit). Bare numbers stay SI. A value whose unit does not match the parameter's ("2 V" for a
current) is a UserInputError naming the parameter. Formatting picks an engineering prefix.
"""

from __future__ import annotations

import math
import re
from functools import cache

from labctl.errors import UserInputError

# parameter units pint can check, by the spelling labctl uses
_PINT_UNITS = {"A": "A", "V": "V", "T": "T", "Hz": "Hz", "s": "s", "ohm": "ohm",
               "A/s": "A/s", "T/s": "T/s", "W": "W"}
_BARE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
             (1e-9, "n"), (1e-12, "p"))
_DISPLAY = {"ohm": "Ω"}


@cache
def _registry():
    import pint

    ureg = pint.UnitRegistry()
    # spellings a physicist types that pint does not know
    ureg.define("Ohm = ohm")
    ureg.define("kOhm = kiloohm")
    ureg.define("MOhm = megaohm")
    ureg.define("GOhm = gigaohm")
    return ureg


def parse_value(text: str, unit: str, name: str) -> float:
    """``text`` (bare SI number or number with unit) as a float in ``unit``; SI result."""
    if _BARE.match(text):
        return float(text)
    target = _PINT_UNITS.get(unit)
    stripped = text.strip()
    if target is None:
        # no checkable unit (dBm, counts): accept the parameter's own unit spelled out
        if unit and stripped.endswith(unit) and _BARE.match(stripped[: -len(unit)]):
            return float(stripped[: -len(unit)])
        expected = f" in {unit}" if unit else ""
        raise UserInputError(f"parameter {name} = {text!r}: not a number{expected}")
    if "," in stripped:  # pint would read "2,2 mA" as 22 mA
        raise UserInputError(f"parameter {name} = {text!r}: write the decimal point as '.'")
    import pint

    ureg = _registry()
    try:
        q = ureg.Quantity(stripped.replace("μ", "µ"))
    except Exception:  # pint's parser raises many kinds ("1/0 A", "-", "3 apples")
        raise UserInputError(f"parameter {name} = {text!r}: not a quantity "
                             f"(e.g. 1.5 m{unit} or a bare number in {unit})") from None
    if isinstance(q, int | float):
        return float(q)
    if q.dimensionless:
        return float(q.to("dimensionless").magnitude)
    try:
        return float(q.to(target).magnitude)
    except pint.errors.DimensionalityError:
        raise UserInputError(f"parameter {name} = {text!r}: {q.units:~P} is not a unit of "
                             f"{unit} ({_what(unit)})") from None


def parse_list(text: str, unit: str, name: str) -> list[float]:
    """``[0, -1 V]``, ``0,-1`` or ``0;-1``: a list of values in ``unit``."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    items = [x for x in re.split(r"[,;]", body) if x.strip()]
    if not items:
        raise UserInputError(f"parameter {name} = {text!r}: needs a list of numbers")
    return [parse_value(x, unit, name) for x in items]


def format_value(value: float, unit: str = "", digits: int = 4) -> str:
    """``0.0022, "A"`` -> ``2.2 mA``; plain ``%g`` for units without prefixes."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit not in _PINT_UNITS or value == 0 or not math.isfinite(value):
        # a count is shown whole (50001 points, not 5e+04)
        whole = math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15
        text = str(int(value)) if whole else f"{value:.{digits}g}"
        return f"{text} {unit}".rstrip()
    shown = _DISPLAY.get(unit, unit)
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale * 0.9995:
            return f"{value / scale:.{digits}g} {prefix}{shown}"
    return f"{value:.{digits}g} {shown}"


def _what(unit: str) -> str:
    return {"A": "a current", "V": "a voltage", "T": "a field", "Hz": "a frequency",
            "s": "a time", "ohm": "a resistance"}.get(unit, "the parameter's unit")
