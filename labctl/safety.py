"""The one ramp mechanism every output change goes through (GUI, CLI, procedures, scripts).

A ramp checks the target against the station limits before anything is sent, starts from
a fresh read-back of the instrument (never a cached value), moves in steps no larger than
the limit with a dwell after each, and stops between steps when its stop event is set.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from labctl.clock import Clock
from labctl.errors import InstrumentError, Interrupted, LabctlError, LimitError

RAMP_DOWN_ATTEMPTS = 3  # one try and two retries after a device clear

# relative: ramp steps stay this far under max_step. A ramp starts from a read-back that the
# instrument rounds (a 2450 reports 7 digits: 5e-10 A at 2.3 mA, 5e-5 of a 10 uA step), and
# the first step must not grow past the limit by that rounding.
STEP_MARGIN = 1e-3


@dataclass(frozen=True)
class Range:
    """Allowed interval of a settable quantity, with its name and unit for messages."""

    name: str
    low: float
    high: float
    unit: str

    def check(self, value: float) -> float:
        """Return ``value`` as float, or raise LimitError naming the quantity and limit."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise LimitError(f"{self.name} = {value!r}: not a number") from None
        if not math.isfinite(v):
            raise LimitError(f"{self.name} = {v}: not a finite number")
        if v < self.low or v > self.high:
            raise LimitError(
                f"{self.name} = {v:g} {self.unit}: beyond the station limit "
                f"[{self.low:g}, {self.high:g}] {self.unit}"
            )
        return v


class Ramp:
    """Safe stepwise change of one output.

    ``read`` must query the instrument (fresh read-back); ``write`` sends one level.
    """

    def __init__(self, allowed: Range, read: Callable[[], float], write: Callable[[float], None],
                 max_step: float, dwell: float, clock: Clock,
                 stop: threading.Event | None = None):
        if max_step <= 0:
            raise ValueError("max_step must be positive")
        self.allowed = allowed
        self.read = read
        self.write = write
        self.max_step = max_step
        self.dwell = dwell
        self.clock = clock
        self.stop = stop

    def plan(self, start: float, target: float) -> list[float]:
        """The levels a ramp from ``start`` to ``target`` will write, in order."""
        distance = target - start
        n = max(1, math.ceil(abs(distance) / (self.max_step * (1 - STEP_MARGIN))))
        if distance == 0:
            return []
        return [start + distance * k / n for k in range(1, n)] + [target]

    def to(self, target: float, interruptible: bool = True) -> float:
        """Ramp to ``target``; return the level reached.

        Raises LimitError before sending anything if the target is outside the limits, and
        Interrupted (after the step in progress) if the stop event is set.
        """
        target = self.allowed.check(target)
        stop = self.stop if interruptible else None
        if stop is not None and stop.is_set():
            raise Interrupted(f"{self.allowed.name}: ramp not started, abort requested")
        start = float(self.read())
        for level in self.plan(start, target):
            self.write(level)
            # the dwell is always completed, so a ramp-down that follows an interruption
            # never makes two steps closer in time than the limit allows
            self.clock.sleep(self.dwell)
            if stop is not None and stop.is_set():
                raise Interrupted(
                    f"{self.allowed.name}: ramp interrupted at {level:g} {self.allowed.unit}"
                )
        return target

    def to_zero(self) -> float:
        """Ramp to zero and ignore the stop event: used to make a station safe."""
        return self.to(0.0, interruptible=False)


class OutputNotConfirmed(LabctlError):
    """An output whose zero could not be confirmed by read-back; said in capitals, never hidden."""

    def __init__(self, role: str, instrument: str, last_level: float | None, unit: str,
                 cause: str):
        self.role = role
        self.instrument = instrument
        self.last_level = last_level
        level = "unknown" if last_level is None else f"{last_level:g} {unit}"
        super().__init__(
            f"OUTPUT NOT CONFIRMED AT ZERO: {role} ({instrument}), last known level {level}: "
            f"{cause}; run `labctl safe` once it answers"
        )


class RampDownFault(LabctlError):
    """A ramp-down that reached a confirmed zero only after retrying past a fault."""

    def __init__(self, role: str, faults: list[str], unit: str):
        self.role = role
        self.faults = faults
        super().__init__(
            f"ramp-down met {len(faults)} fault(s) ({'; '.join(faults)}), retried after a "
            f"device clear; output confirmed at 0 {unit} and off"
        )


def ramp_down_with_retries(role: str, instrument: str, once: Callable[[], None],
                           clear: Callable[[], None], clock: Clock, pause: float,
                           last_level: Callable[[], tuple[float | None, str]]) -> list[str]:
    """Run ``once`` (a whole ramp-down from a fresh read-back) until it succeeds.

    An instrument fault (a lost reply, a disconnect) is followed by a device clear, a pause
    and a new try; the faults met are returned. OutputNotConfirmed, naming the last known
    level (``last_level()`` gives it and its unit), when every try failed.
    """
    faults: list[str] = []
    for _ in range(RAMP_DOWN_ATTEMPTS):
        try:
            once()
            return faults
        except InstrumentError as err:
            faults.append(str(err))
            with contextlib.suppress(InstrumentError):
                clear()
            clock.sleep(pause)
    level, unit = last_level()
    raise OutputNotConfirmed(role, instrument, level, unit, faults[-1])
