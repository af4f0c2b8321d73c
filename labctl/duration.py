"""How long a run will take, before anything is switched on: the station's timing rules and
the plan a procedure describes itself into.

A procedure's :meth:`~labctl.procedure.Procedure.estimate` walks through what its run will do
on a :class:`Plan` (ramps, field setpoints, spectra, readings, waits); the plan follows each
output's level and adds up the time every step takes by the same rules the station obeys:
the station file's step, dwell, ramp rate and settle time, the analyzer's sweep time, the
source meters' integration time. Nothing here talks to an instrument: ``--dry-run`` and the
progress of a run use it alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labctl.config import StationConfig
from labctl.safety import STEP_MARGIN
from labctl.units import format_value

# The analyzer's auto-coupled sweep time (Keysight X-series and R&S FSV manuals: a swept
# measurement must let the RBW and video filters settle, so sweep time ~ k * span / (RBW * VBW),
# and ~ k * span / RBW^2 once the video filter is the wider one), never below the fastest
# sweep of the instrument for the number of trace points.
SWEEP_K = 2.5  # for the Gaussian RBW filters of both analyzers
MIN_SWEEP = 1e-3  # s per 1001 trace points
# One source-meter reading integrates 1 power-line cycle (the default of the 2400/2450/6221
# at 50 Hz mains)
READING_TIME = 1 / 50  # s
# The field role's closed loop (drivers.field.FieldController): after a ramp it waits the
# settle time, then averages this many gaussmeter readings this far apart; one correction
# (a short ramp, settle and readings again) is usual because the pole pieces keep remanence.
FIELD_READINGS = 5
FIELD_READING_INTERVAL = 0.1  # s
FIELD_CORRECTIONS = 1
COIL_DECAY = 0.3  # s: the coil current's decay after the setpoint reached 0 A (L/R)
# The Lake Shore 425 takes at most 30 transactions a second (drivers.lakeshore425.MAX_RATE):
# a field reading is two (UNIT?, RDGFIELD?), the runner's error check of every instrument
# once per row is one, the start of a run (identities, snapshot) four
GAUSSMETER_TRANSACTION = 1 / 30  # s
FIELD_READING = 2
RUN_START = 4

OUTPUTS = ("shno_source", "gate", "field")


def sweep_time(f_start: float, f_stop: float, points: int, rbw: float, vbw: float,
               averages: int = 1, k: float = SWEEP_K) -> float:
    """Duration (s) of ``averages`` sweeps of a swept-tuned analyzer with auto-coupled sweep
    time: k * span / (RBW * min(VBW, RBW)) each, at least MIN_SWEEP per 1001 points."""
    span = abs(float(f_stop) - float(f_start))
    rbw = float(rbw)
    one = max(k * span / (rbw * min(float(vbw), rbw)),
              MIN_SWEEP * max(1.0, int(points) / 1001))
    return max(1, int(averages)) * one


def ramp_steps(distance: float, max_step: float) -> int:
    """Steps of a ramp over ``distance`` (labctl.safety.Ramp: just under ``max_step`` each)."""
    if distance == 0:
        return 0
    return max(1, math.ceil(abs(distance) / (max_step * (1 - STEP_MARGIN))))


def format_duration(seconds: float) -> str:
    """``538.2`` -> ``9 min 0 s``; ``2 h 5 min``; ``0.04 s``."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass
class Plan:
    """What a run will do and how long it will take, on the station of ``config``.

    ``lines``: the plan in words; ``parts``: seconds by kind of work; ``rows``: when each row
    of the main stream is due (s from the start); ``upper``: the seconds are an upper bound,
    the run may end earlier (a write-verify stops at its target).
    """

    config: StationConfig
    lines: list[tuple[str, str]] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)
    rows: list[float] = field(default_factory=list)
    upper: bool = False
    last_gaussmeter: float = -math.inf  # when the gaussmeter was last asked (paced)
    known: bool = True
    levels: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OUTPUTS, 0.0))
    field_on: bool = False

    @property
    def seconds(self) -> float:
        return sum(self.parts.values()) if self.known else math.nan

    # ---- words ------------------------------------------------------------------------------
    def say(self, what: str, text: str) -> None:
        """One line of the plan: ``what`` (field, I_SHNO, spectra...) and how."""
        self.lines.append((what, text))

    def unknown(self, why: str) -> None:
        """The run's length cannot be told from its parameters."""
        self.known = False
        self.say("duration", why)

    def at_most(self) -> None:
        """The steps planned are the most the run may take: it can end earlier."""
        self.upper = True

    def repeat(self, n: int, step: Callable[[], None]) -> None:
        """``step`` done ``n`` times, timed once: a cycle that ends where it began."""
        before, t0, first = dict(self.parts), self.elapsed, len(self.rows)
        step()
        cycle, due = self.elapsed - t0, self.rows[first:]
        self.last_gaussmeter += (n - 1) * cycle
        del self.rows[first:]
        self.rows.extend(t + k * cycle for k in range(n) for t in due)
        for kind, total in self.parts.items():
            self.parts[kind] = before.get(kind, 0.0) + n * (total - before.get(kind, 0.0))

    @property
    def elapsed(self) -> float:
        """Seconds planned so far."""
        return sum(self.parts.values())

    def row(self) -> None:
        """A row of the main stream is written now (after the runner's error check)."""
        self.gaussmeter(1, "error checks")
        self.rows.append(self.elapsed)

    def gaussmeter(self, transactions: int, kind: str = "readings") -> None:
        """Exchanges with the gaussmeter, which waits between them (its pacing)."""
        for _ in range(transactions):
            self.add(kind, self.last_gaussmeter + GAUSSMETER_TRANSACTION - self.elapsed)
            self.last_gaussmeter = self.elapsed

    def field_reading(self) -> None:
        """One read-back of the field (the gaussmeter)."""
        self.gaussmeter(FIELD_READING)

    def start(self) -> None:
        """The start of a run: every instrument's identity and a snapshot of the station."""
        self.gaussmeter(RUN_START, "start")

    def remaining(self, done: int, start: int, elapsed: float) -> float | None:
        """Time left after ``done`` rows, ``elapsed`` s after row ``start`` (a resume's first):
        the plan's time still to go, at the pace the run has kept so far."""
        if not self.known or not 0 < done <= len(self.rows):
            return None
        so_far = self.rows[done - 1] - (self.rows[start - 1] if start > 0 else 0.0)
        pace = elapsed / so_far if so_far > 0 and elapsed > 0 else 1.0
        return max(0.0, self.seconds - self.rows[done - 1]) * pace

    # ---- time ------------------------------------------------------------------------------
    def add(self, kind: str, seconds: float) -> None:
        self.parts[kind] = self.parts.get(kind, 0.0) + max(0.0, float(seconds))

    def wait(self, seconds: float, kind: str = "waits") -> None:
        self.add(kind, seconds)

    def readings(self, n: int = 1) -> None:
        """``n`` source-meter readings."""
        self.add("readings", n * READING_TIME)

    def sweep(self, f_start: float, f_stop: float, points: int, rbw: float, vbw: float,
              averages: int, n: int = 1) -> float:
        """``n`` spectra; returns the time of one."""
        one = sweep_time(f_start, f_stop, points, rbw, vbw, averages)
        self.add("spectra", n * one)
        return one

    def ramp(self, role: str, target: float) -> None:
        """Ramp I_SHNO ("shno_source", A) or V_M ("gate", V) from where the plan left it."""
        limits = self.config.shno_source.limits if role == "shno_source" else \
            self.config.gate.limits
        steps = ramp_steps(target - self.levels[role], limits.max_step)
        self.add("ramps", steps * limits.dwell)
        self.levels[role] = target

    def pulse(self, volts: float, width: float) -> None:
        """A gate pulse: ramp to ``volts``, read the current, hold ``width``, ramp to 0 V."""
        self.ramp("gate", volts)
        self.readings(1)
        self.wait(width)
        self.ramp("gate", 0.0)

    def set_field(self, tesla: float) -> None:
        """The field role's closed loop: approach from one side, settle, read, correct."""
        lim = self.config.field.limits
        table = np.asarray(self.config.field.calibration, dtype=float)
        currents, fields = table[:, 0], table[:, 1]
        present = float(np.interp(self.levels["field"], fields, currents))
        target = float(np.interp(tesla, fields, currents))
        slope = float(np.interp(target, currents[1:], np.diff(fields) / np.diff(currents)))
        side = 1 if lim.approach == "below" else -1
        if not self.field_on:  # switched on at 0 A: that setpoint dwells one step
            self.add("magnet", lim.step_time)
            self.field_on = True
        pre = target - side * lim.overshoot / slope
        distance = abs(target - present)
        if side * (present - pre) > 0 or side * (target - present) < 0:
            distance = abs(pre - present) + abs(target - pre)
        self._magnet_ramp(distance)
        for k in range(1 + FIELD_CORRECTIONS):
            if k:
                self._magnet_ramp(lim.tolerance / slope)
            self.add("magnet", lim.settle_time)
            for r in range(FIELD_READINGS):
                self.add("magnet", FIELD_READING_INTERVAL if r else 0.0)
                self.gaussmeter(FIELD_READING, "magnet")
        self.levels["field"] = tesla

    def _magnet_ramp(self, amps: float) -> None:
        lim = self.config.field.limits
        self.add("magnet", ramp_steps(amps, lim.max_ramp_rate * lim.step_time) * lim.step_time)

    def ramp_down(self) -> None:
        """Every output to zero at the end of the run (I_SHNO, the magnet, V_M)."""
        self.ramp("shno_source", 0.0)
        lim = self.config.field.limits
        # a supply found on (also at 0 A) dwells one step before its ramp to zero
        self.add("magnet", lim.step_time)
        if self.field_on:
            table = np.asarray(self.config.field.calibration, dtype=float)
            amps = float(np.interp(self.levels["field"], table[:, 1], table[:, 0]))
            self.add("magnet", COIL_DECAY)
            self._magnet_ramp(amps)
            self.levels["field"], self.field_on = 0.0, False
        self.ramp("gate", 0.0)

    # ---- the plan in words --------------------------------------------------------------
    def summary(self) -> str:
        """``9 min 0 s (spectra 7 min 40 s, magnet 47 s, ...)``."""
        if not self.known:
            return "unknown"
        parts = ", ".join(f"{k} {format_duration(v)}" for k, v in
                          sorted(self.parts.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        at_most = "at most " if self.upper else ""
        return f"{at_most}{format_duration(self.seconds)}" + (f" ({parts})" if parts else "")

    def describe(self, indent: str = "  ") -> list[str]:
        width = max([len(w) for w, _ in self.lines] + [8])
        out = [f"{indent}{w:<{width}}  {t}" for w, t in self.lines]
        out.append(f"{indent}{'estimate':<{width}}  {self.summary()}")
        return out


def span(start: float, stop: float, step: float, unit: str, n: int) -> str:
    """``400 µA → 2.2 mA, step 20 µA: 91 points``."""
    return (f"{format_value(start, unit)} → {format_value(stop, unit)}, step "
            f"{format_value(abs(step), unit)}: {n} point{'s' if n != 1 else ''}")
