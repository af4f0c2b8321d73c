"""Memristor operations the procedures share: read the resistance, write–verify programming.

Everything here goes through the ``gate`` role (compliance always programmed before a level,
limits checked by the role), so it works the same on a real and a simulated station.
PHYSICS.md §3/§5: read at ≤ 0.2 V, always with a compliance; the SET compliance sets the
analog LRS level (≈ 0.4 V / I_cc), so a larger compliance gives a lower resistance.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from labctl.analysis.memristor import resistance_at
from labctl.errors import UserInputError
from labctl.parameters import GATE_COMPLIANCE, GATE_VOLTAGE
from procedures.base import Parameter, Plan, check_gate_values

MAX_READ_VOLTAGE = 0.2  # V: a read must never disturb the state (lab practice, §5)
# Between the LRS (4–40 kΩ) and the HRS (> 1 GΩ): which side a read falls on decides the state.
STATE_THRESHOLD = 1e6  # ohm
STATES = ("value", "HRS", "LRS")

# pulse_kind codes of the rows program_memristor yields
READ_ONLY, SET_PULSE, RESET_PULSE = 0, 1, -1
# the read parameters every memristor procedure has
READ_PARAMETERS = (
    Parameter("v_read", 0.1, "V", 1e-3, MAX_READ_VOLTAGE, "memristor read voltage",
              station=GATE_VOLTAGE),
    Parameter("read_compliance", 100e-6, "A", description="compliance of the reads",
              station=GATE_COMPLIANCE),
)
PROGRAM_KEYS = ("pulse", "pulse_kind", "pulse_voltage", "compliance", "pulse_current",
                "compliance_hit", "resistance", "within_tolerance", "time")


@dataclass(frozen=True)
class Reading:
    """One read of the memristor at V_read."""

    voltage: float  # V, programmed read level
    current: float  # A
    compliance_hit: bool  # the read was clamped: resistance is then only an upper bound
    resistance: float  # ohm (inf when open)


def _check_read_voltage(v_read: float) -> None:
    if not 0 < v_read <= MAX_READ_VOLTAGE:
        raise UserInputError(f"v_read = {v_read:g} V: a read must be in (0, "
                             f"{MAX_READ_VOLTAGE:g}] V so that it cannot switch the memristor")


def read_memristor(gate, v_read: float, compliance: float) -> Reading:
    """Apply V_read with ``compliance``, measure, return V_M to 0 V."""
    _check_read_voltage(v_read)
    gate.ramp_to(v_read, compliance)
    voltage, current, hit = gate.measure()
    gate.ramp_to(0.0)
    return Reading(voltage, current, bool(hit), float(resistance_at(voltage, current)))


def read_resistance(gate, v_read: float, compliance: float) -> float:
    """Resistance (Ω) read at ``v_read`` ≤ 0.2 V with ``compliance``; V_M back at 0 V after."""
    return read_memristor(gate, v_read, compliance).resistance


def ladder(start: float, stop: float, step: float) -> np.ndarray:
    """Levels from ``start`` towards ``stop`` in steps of |``step``|, ``stop`` included."""
    step = abs(step)
    if step <= 0:
        raise UserInputError(f"step = {step:g}: must be positive")
    n = int(math.floor(abs(stop - start) / step + 1e-9))
    levels = start + math.copysign(step, stop - start) * np.arange(n + 1)
    if abs(levels[-1] - stop) > 1e-9 * max(1.0, abs(stop)):
        levels = np.append(levels, stop)
    return levels


@dataclass(frozen=True)
class Goal:
    """Where programming should end: a resistance ± tolerance, or a state (HRS/LRS)."""

    target: float | str  # ohm, or "HRS" / "LRS"
    tolerance: float = 0.1  # relative, for a numeric target
    threshold: float = STATE_THRESHOLD  # ohm, the HRS/LRS boundary

    def __post_init__(self):
        if isinstance(self.target, str):
            if self.target not in ("HRS", "LRS"):
                raise UserInputError(f"target = {self.target!r}: a resistance in ohm, "
                                     "'HRS' or 'LRS'")
        elif not (math.isfinite(self.target) and self.target > 0):
            raise UserInputError(f"target = {self.target!r}: must be a positive resistance")
        if not 0 < self.tolerance < 1:
            raise UserInputError(f"tolerance = {self.tolerance:g}: must be in (0, 1)")

    def met(self, r: float) -> bool:
        if math.isnan(r):
            return False
        if self.target == "HRS":
            return r >= self.threshold
        if self.target == "LRS":
            return r < self.threshold
        return abs(r - self.target) <= self.tolerance * self.target


def program_memristor(gate, target: float | str, *, tolerance: float = 0.1,
                      v_read: float = 0.1, read_compliance: float = 100e-6,
                      set_start: float = 1.5, set_stop: float = 5.0, set_step: float = 0.1,
                      reset_start: float = -0.2, reset_stop: float = -2.0,
                      reset_step: float = 0.1, compliance_start: float = 10e-6,
                      compliance_stop: float = 500e-6, pulse_width: float = 1e-3,
                      max_pulses: int = 100, clock=None, reset_compliance: float | None = None,
                      threshold: float = STATE_THRESHOLD) -> Iterator[dict]:
    """Write–verify the gated memristor towards ``target``; one dict per pulse + read.

    ``target`` is a resistance in Ω (reached within the relative ``tolerance``) or "HRS" /
    "LRS" (a read above / below ``threshold``). SET pulses grow from ``set_start`` to
    ``set_stop`` under a compliance; RESET pulses grow from ``reset_start`` down to
    ``reset_stop`` under ``reset_compliance`` (default ``compliance_stop``). An LRS at the
    wrong level is RESET and SET again with the compliance scaled by R_read / target
    (R·I_cc ≈ const), kept within [``compliance_start``, ``compliance_stop``].

    The first dict is the read before any pulse (``pulse`` 0, ``pulse_kind`` 0); the last
    says whether the target was reached. Stops on success, after ``max_pulses`` pulses,
    when a pulse ladder is exhausted, or when the needed compliance is out of range. Keys:
    :data:`PROGRAM_KEYS`; ``time`` is ``clock.now()`` (NaN without a clock).
    """
    goal = Goal(target, tolerance, threshold)
    _check_read_voltage(v_read)
    reset_compliance = compliance_stop if reset_compliance is None else reset_compliance
    if not 0 < compliance_start <= compliance_stop:
        raise UserInputError(f"compliance_start = {compliance_start:g} A: must be in "
                             f"(0, compliance_stop = {compliance_stop:g} A]")
    if reset_compliance < compliance_stop:
        raise UserInputError(f"reset_compliance = {reset_compliance:g} A: below "
                             f"compliance_stop = {compliance_stop:g} A (RESET needs about the "
                             "SET compliance)")
    if not set_stop >= set_start > 0:
        raise UserInputError(f"set_start = {set_start:g} V, set_stop = {set_stop:g} V: "
                             "need 0 < set_start <= set_stop")
    if not reset_stop <= reset_start < 0:
        raise UserInputError(f"reset_start = {reset_start:g} V, reset_stop = {reset_stop:g} V:"
                             " need reset_stop <= reset_start < 0")
    check_gate_values(gate.limits, {"set_stop": set_stop, "reset_stop": reset_stop},
                      {"compliance_stop": compliance_stop, "reset_compliance": reset_compliance,
                       "read_compliance": read_compliance})
    set_levels = ladder(set_start, set_stop, set_step)
    reset_levels = ladder(reset_start, reset_stop, reset_step)

    def row(n, kind, v, c, i, hit, r):
        return {"pulse": n, "pulse_kind": kind, "pulse_voltage": v, "compliance": c,
                "pulse_current": i, "compliance_hit": bool(hit), "resistance": r,
                "within_tolerance": goal.met(r),
                "time": clock.now() if clock is not None else math.nan}

    r = read_resistance(gate, v_read, read_compliance)
    yield row(0, READ_ONLY, 0.0, math.nan, math.nan, False, r)
    compliance = compliance_start
    set_with: float | None = None  # compliance of the SET that made the present LRS
    set_k = reset_k = 0  # position on each ladder; back to the start after a switch
    for n in range(1, max_pulses + 1):
        if goal.met(r) or math.isnan(r):
            return
        hrs = r >= threshold
        if goal.target == "LRS" or (goal.target != "HRS" and hrs):
            kind = SET_PULSE
        else:
            kind = RESET_PULSE
            if goal.target != "HRS" and reset_k == 0:
                # an LRS at the wrong level: choose the compliance of the next SET now
                wanted = compliance_start if set_with is None else set_with * r / goal.target
                wanted = min(max(wanted, compliance_start), compliance_stop)
                if set_with is not None and math.isclose(wanted, set_with, rel_tol=1e-9):
                    return  # the level needs a compliance outside [start, stop]
                compliance = wanted
        if kind == SET_PULSE:
            if set_k >= len(set_levels):
                return  # no SET up to set_stop
            volts, amps = float(set_levels[set_k]), compliance
        else:
            if reset_k >= len(reset_levels):
                return  # no RESET down to reset_stop
            volts, amps = float(reset_levels[reset_k]), reset_compliance
        current, hit = gate.pulse(volts, pulse_width, amps)
        r = read_resistance(gate, v_read, read_compliance)
        switched = (r < threshold) if kind == SET_PULSE else (r >= threshold)
        if kind == SET_PULSE:
            set_k = 0 if switched else set_k + 1
            if switched:
                set_with = amps
        else:
            reset_k = 0 if switched else reset_k + 1
        yield row(n, kind, volts, amps, current, hit, r)


def plan_read(plan: Plan, v_read: float) -> None:
    """The time of :func:`read_memristor`: V_read, one reading, back to 0 V."""
    plan.ramp("gate", v_read)
    plan.readings(1)
    plan.ramp("gate", 0.0)


def plan_program(plan: Plan, max_pulses: int, v_read: float, pulse_width: float,
                 level: float, rows: bool = False) -> None:
    """The time of :func:`program_memristor`: a read, then up to ``max_pulses`` pulses (of at
    most ``level`` V) each followed by a read; it stops as soon as the target is met, so the
    plan counts the whole budget and says so. ``rows``: each read is a main-stream row."""
    plan_read(plan, v_read)
    if rows:
        plan.row()

    def pulse_and_read() -> None:
        plan.pulse(level, pulse_width)
        plan_read(plan, v_read)
        if rows:
            plan.row()

    plan.repeat(max_pulses, pulse_and_read)
    plan.at_most()


def ohm_text(r: float) -> str:
    """A resistance for the terminal: '4.08 kΩ', '5.00 GΩ'."""
    if not math.isfinite(r):
        return "open" if r > 0 else "n/a"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(r) >= scale:
            return f"{r / scale:.3g} {prefix}Ω"
    return f"{r:.3g} Ω"
