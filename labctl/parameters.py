"""Procedure parameters: typed, with units and limits; bounds bound to the station file.

A parameter that drives an output declares which station limit bounds it
(:data:`SHNO_CURRENT`, :data:`FIELD`, :data:`GATE_VOLTAGE`, ...) instead of repeating a number
from the station file: its own range is then the hard ceiling no station file may exceed
(labctl.config), and :meth:`StationLimit.check` holds each value to the open station's limit
before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labctl.config import (
    CEILING_FIELD,
    CEILING_GATE_COMPLIANCE,
    CEILING_GATE_VOLTAGE,
    CEILING_SHNO_CURRENT,
    GateLimits,
    StationConfig,
)
from labctl.errors import LimitError, UserInputError
from labctl.units import format_value, parse_list, parse_value

MAGNITUDE, RANGE, POSITIVE, MAXIMUM = "magnitude", "range", "positive", "maximum"


@dataclass(frozen=True)
class StationLimit:
    """What bounds a parameter in the station file; ``low``/``high``: the hard ceilings.

    ``kind``: magnitude (|v| <= limit), range (low <= v <= high), positive (0 < v <= limit)
    or maximum (v <= limit); ``limit`` reads the limit (or the (low, high) range) of a
    station configuration.
    """

    what: str
    limit: Callable[[StationConfig], Any]
    low: float
    high: float
    kind: str = MAGNITUDE

    def check(self, name: str, value: float, unit: str, config: StationConfig) -> None:
        """LimitError naming the parameter, its value and the station's limit."""
        limit = self.limit(config)
        if self.kind == RANGE:
            low, high = limit
            if not low <= value <= high:
                raise LimitError(f"parameter {name} = {format_value(value, unit)}: outside the "
                                 f"station's {self.what} [{format_value(low, unit)}, "
                                 f"{format_value(high, unit)}]")
            return
        bad = {MAGNITUDE: abs(value) > limit, POSITIVE: not 0 < value <= limit,
               MAXIMUM: value > limit}[self.kind]
        if bad:
            raise LimitError(f"parameter {name} = {format_value(value, unit)}: beyond the "
                             f"station's {self.what} of {format_value(limit, unit)}")


    def bounds(self, config: StationConfig) -> tuple[float, float]:
        """The interval this limit allows on the station of ``config`` (within the ceilings)."""
        limit = self.limit(config)
        low, high = {MAGNITUDE: lambda: (-limit, limit), RANGE: lambda: limit,
                     POSITIVE: lambda: (0.0, limit), MAXIMUM: lambda: (self.low, limit)}[
            self.kind]()
        return max(low, self.low), min(high, self.high)


SHNO_CURRENT = StationLimit("max |I_SHNO|", lambda c: c.shno_source.limits.max_current,
                            -CEILING_SHNO_CURRENT, CEILING_SHNO_CURRENT)
FIELD = StationLimit("max |B|", lambda c: c.field.limits.max_field, -CEILING_FIELD,
                     CEILING_FIELD)
GATE_VOLTAGE = StationLimit(
    "V_M range", lambda c: (c.gate.limits.min_voltage, c.gate.limits.max_voltage),
    -CEILING_GATE_VOLTAGE, CEILING_GATE_VOLTAGE, RANGE)
GATE_COMPLIANCE = StationLimit("max gate compliance", lambda c: c.gate.limits.max_compliance,
                               1e-9, CEILING_GATE_COMPLIANCE, POSITIVE)
ANALYZER_FREQUENCY = StationLimit(
    "analyzer range",
    lambda c: (c.spectrum.limits.min_frequency, c.spectrum.limits.max_frequency),
    0.0, 110e9, RANGE)
ANALYZER_POINTS = StationLimit("max analyzer points",
                               lambda c: c.spectrum.limits.max_points, 2, 1_000_001, MAXIMUM)


@dataclass(frozen=True)
class Parameter:
    """A typed procedure parameter; values are SI (A, V, T, Hz, s).

    With ``station`` the parameter is bounded by that station limit; minimum and maximum
    default to its hard ceilings.
    """

    name: str
    default: Any
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    kind: type = float  # float, int, str, bool, or list (of floats)
    choices: tuple = ()
    station: StationLimit | None = None

    def __post_init__(self):
        if self.station is not None:  # frozen: set once, here
            if self.minimum is None:
                object.__setattr__(self, "minimum", self.station.low)
            if self.maximum is None:
                object.__setattr__(self, "maximum", self.station.high)

    def bounds(self, config: StationConfig | None = None) -> tuple[float | None, float | None]:
        """(minimum, maximum) of a value, on the station of ``config`` if given."""
        low, high = self.minimum, self.maximum
        if self.station is not None and config is not None:
            s_low, s_high = self.station.bounds(config)
            low = s_low if low is None else max(low, s_low)
            high = s_high if high is None else min(high, s_high)
        return low, high

    def check_station(self, value: Any, config: StationConfig) -> None:
        """Hold ``value`` (each element of a list) to the station's limit, if it has one."""
        if self.station is None:
            return
        for v in value if isinstance(value, list) else [value]:
            self.station.check(self.name, v, self.unit, config)

    def parse(self, text: str) -> Any:
        """Turn command-line text into a value of this parameter's kind.

        Numbers may carry a unit with an SI prefix ("2.2 mA", "650 mT"); bare numbers are SI.
        """
        if self.kind is float:
            return parse_value(text, self.unit, self.name)
        if self.kind is list:
            return parse_list(text, self.unit, self.name)
        try:
            if self.kind is bool:
                low = text.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(text)
                return low in ("1", "true", "yes", "on")
            if self.kind is int:
                f = float(text)
                if not f.is_integer():
                    raise ValueError(text)
                return int(f)
            return self.kind(text)
        except ValueError:
            raise UserInputError(
                f"parameter {self.name} = {text!r}: not a valid {self.kind.__name__}") from None

    def validate(self, value: Any) -> Any:
        """Check type, range and choices; return the value in its kind.

        Text is parsed first, so every surface (script, queue file, form) takes "2.2 mA".
        """
        if isinstance(value, str) and self.kind is not str:
            value = self.parse(value)
        if self.kind is list:
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, list | tuple) or not value:
                raise UserInputError(f"parameter {self.name} = {value!r}: needs a list of numbers")
            return [self._check_number(self._list_item(v)) for v in value]
        if self.kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return self._check_number(float(value))
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool):
            return int(self._check_number(value))
        if self.kind is str and isinstance(value, str):
            if self.choices and value not in self.choices:
                raise UserInputError(
                    f"parameter {self.name} = {value!r}: must be one of {', '.join(self.choices)}")
            return value
        if self.kind is bool and isinstance(value, bool):
            return value
        raise UserInputError(
            f"parameter {self.name} = {value!r}: must be a {self.kind.__name__}")

    def _list_item(self, v: Any) -> float:
        if isinstance(v, str):
            return parse_value(v, self.unit, self.name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise UserInputError(f"parameter {self.name}: {v!r} is not a number")
        return float(v)

    def _check_number(self, v: float) -> float:
        if not math.isfinite(v):
            raise UserInputError(f"parameter {self.name} = {v}: not a finite number")
        shown = f"parameter {self.name} = {format_value(v, self.unit)}"
        if self.minimum is not None and v < self.minimum:
            raise UserInputError(
                f"{shown}: below the minimum {format_value(self.minimum, self.unit)}")
        if self.maximum is not None and v > self.maximum:
            raise UserInputError(
                f"{shown}: above the maximum {format_value(self.maximum, self.unit)}")
        return v




def check_gate_values(limits: GateLimits, voltages: dict[str, float],
                      compliances: dict[str, float]) -> None:
    """LimitError naming the parameter if a level or compliance is beyond the station's gate."""
    for name, v in voltages.items():
        if not limits.min_voltage <= v <= limits.max_voltage:
            raise LimitError(f"parameter {name} = {format_value(v, 'V')}: outside the station's "
                             f"V_M range [{format_value(limits.min_voltage, 'V')}, "
                             f"{format_value(limits.max_voltage, 'V')}]")
    for name, amps in compliances.items():
        if not 0 < amps <= limits.max_compliance:
            raise LimitError(f"parameter {name} = {format_value(amps, 'A')}: beyond the "
                             f"station's max gate compliance of "
                             f"{format_value(limits.max_compliance, 'A')}")
