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
from labctl.errors import LabctlError, UserInputError
from labctl.parameters import GATE_COMPLIANCE, GATE_VOLTAGE
from labctl.units import format_value as show
from procedures.base import Parameter, Plan, Row, check_gate_values

MAX_READ_VOLTAGE = 0.2  # V: a read must never disturb the state (lab practice, §5)
# Between the LRS (4–40 kΩ) and the HRS (> 1 GΩ): which side a read falls on decides the state.
STATE_THRESHOLD = 1e6  # ohm
STATES = ("value", "HRS", "LRS")
V_LRS_ESTIMATE = 0.4  # V: R_LRS x I_cc of a filamentary memristor [PHYSICS §3]

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
        grow = (not hrs and goal.target not in ("HRS", "LRS")
                and r > goal.target * (1.0 + tolerance))
        if goal.target == "LRS" or (goal.target != "HRS" and hrs):
            kind = SET_PULSE
        elif grow:
            # an LRS above its target: SET again at a larger compliance (the filament grows
            # to R ~ 0.4 V / I_cc) instead of wearing a RESET/SET cycle
            kind = SET_PULSE
            present = set_with if set_with is not None else V_LRS_ESTIMATE / r
            wanted = min(max(present * r / goal.target, compliance_start), compliance_stop)
            if wanted <= present * (1.0 + 1e-9):
                return  # the level needs a compliance beyond compliance_stop
            compliance = wanted
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


# ---- gating through a memristor without switching it -------------------------------------
# A V_M beyond these moves the memristor's state [PHYSICS §3]: in LRS a negative level
# dissolves the filament (RESET from about -0.5 V) and a positive one that drives more than
# the SET current grows it (from about 0.4 V = V_LRS); in HRS a positive level SETs it (SET
# voltages spread ~15 % around 2-5 V). Defaults stay inside with a margin.
GATE_SAFETY_PARAMETERS = (
    Parameter("allow_switching", False, "", description="apply V_M levels that may switch "
              "the memristor in its present state (recorded with the run)", kind=bool),
    Parameter("lrs_gate_min", -0.3, "V", -20, 0, "most negative V_M on an LRS memristor"),
    Parameter("lrs_gate_max", 0.3, "V", 0, 20, "most positive V_M on an LRS memristor"),
    Parameter("hrs_gate_min", -5.0, "V", -20, 0, "most negative V_M on an HRS memristor"),
    Parameter("hrs_gate_max", 1.5, "V", 0, 20, "most positive V_M on an HRS memristor"),
)


class SwitchingRisk(UserInputError):
    """A V_M that would switch the memristor in its present state, not allowed by the run."""


class TargetNotReached(LabctlError):
    """Programming ended without the memristor reaching its target."""


def gate_window(values: dict, state: str) -> tuple[float, float]:
    """(lowest, highest) V_M that leaves a memristor in ``state`` ("HRS"/"LRS") as it is."""
    key = state.lower()
    return values[f"{key}_gate_min"], values[f"{key}_gate_max"]


def state_of(resistance: float, threshold: float = STATE_THRESHOLD) -> str:
    """"HRS" or "LRS" for a read resistance (open reads as HRS, NaN as unknown)."""
    if math.isnan(resistance):
        return "unknown"
    return "HRS" if resistance >= threshold else "LRS"


def target_state(target: float | str, threshold: float = STATE_THRESHOLD) -> str:
    """The state a programming target leaves the memristor in."""
    return target if isinstance(target, str) else state_of(float(target), threshold)


def check_gate_level(volts: float, state: str, values: dict, name: str = "gate_voltage",
                     where: str = "") -> str | None:
    """Refuse (SwitchingRisk) a V_M outside the window of ``state`` unless the run allows
    switching; returns a warning text when it is allowed, None when the level is safe."""
    if state not in ("HRS", "LRS") or volts == 0.0:
        return None
    lo, hi = gate_window(values, state)
    if lo <= volts <= hi:
        return None
    text = (f"{name} = {volts:g} V{where} would switch the memristor in its {state} (safe "
            f"window [{lo:g}, {hi:g}] V)")
    if not values.get("allow_switching", False):
        raise SwitchingRisk(f"{text}; set allow_switching = true to apply it anyway")
    return f"{text}: applied because allow_switching = true"


def check_gate_at_the_door(volts: float, values: dict, name: str = "gate_voltage") -> None:
    """Refuse (exit 2, before anything is opened) a V_M that would switch the memristor in
    either state; one safe in one state only is decided when the memristor has been read."""
    if volts == 0.0 or values.get("allow_switching", False):
        return
    windows = {state: gate_window(values, state) for state in ("HRS", "LRS")}
    if any(lo <= volts <= hi for lo, hi in windows.values()):
        return
    shown = ", ".join(f"{state} [{show(lo, 'V')}, {show(hi, 'V')}]"
                      for state, (lo, hi) in windows.items())
    raise SwitchingRisk(f"parameter {name} = {show(volts, 'V')}: would switch the memristor "
                        f"whatever its state (safe windows {shown}); set allow_switching = "
                        "true to apply it anyway")


def memristor_check_stream():
    """The stream in which a gated sweep records the memristor before and after it."""
    from labctl.schema import Quantity, Stream

    return Stream("memristor_check", (
        Quantity("check_when", "", "int8", description="0 before the sweep, 1 after it"),
        Quantity("check_resistance", "ohm", description="memristor read at 0.1 V"),
        Quantity("check_changed", "", "int8",
                 description="1: different from before the sweep (HRS<->LRS or > 20 %)"),
    ), "memristor read before and after a gated sweep")


GATED_READ = 0.1  # V: the read of a gated sweep's memristor checks


def gate_on(ctx, volts: float, compliance: float, values: dict):
    """Apply V_M for a sweep; through a memristor, read it first and refuse (SwitchingRisk)
    a level that would switch it. Yields the check row; returns the read (None at 0 V)."""
    gate = ctx.station.gate
    if volts == 0.0:  # 0 V cannot switch anything: no read needed
        gate.ramp_to(0.0, compliance=compliance)
        return None
    ctx.station.shno_source.ramp_to(0.0)  # the stripe current would bias the read
    r = read_resistance(gate, GATED_READ, compliance)
    warning = check_gate_level(volts, state_of(r), values)
    if warning:
        ctx.log(warning, "warning")
    yield Row("memristor_check", {"check_when": 0, "check_resistance": r,
                                  "check_changed": 0})
    gate.ramp_to(volts, compliance=compliance)
    return r


def gate_off(ctx, before: float | None, compliance: float):
    """After a gated sweep: V_M to 0, read the memristor back and say loudly if it moved."""
    if before is None:
        return
    ctx.station.shno_source.ramp_to(0.0)
    after = read_resistance(ctx.station.gate, GATED_READ, compliance)
    changed = state_of(after) != state_of(before) or abs(after - before) > 0.2 * before
    if changed:
        ctx.log(f"the memristor CHANGED during the sweep: {ohm_text(before)} -> "
                f"{ohm_text(after)}", "warning")
    yield Row("memristor_check", {"check_when": 1, "check_resistance": after,
                                  "check_changed": int(changed)})


def memristor_results(ctx) -> dict:
    """What the memristor checks of a gated sweep say, for its results."""
    when = ctx.recorded("check_when", "memristor_check")
    if not len(when):
        return {}
    r = ctx.recorded("check_resistance", "memristor_check")
    changed = ctx.recorded("check_changed", "memristor_check")
    out = {"memristor_before": float(r[0])}
    if len(when) > 1:
        out.update(memristor_after=float(r[-1]), memristor_changed=bool(changed[-1]))
    return out
