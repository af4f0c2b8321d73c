"""sync-map: frequency–current sweeps for a list of gate states → where the chain locks.

A gate state is a V_M level and, optionally, a memristor state. States are every memristor
target × every gate voltage, targets outermost. Before each state's sweep the memristor is
write–verified to its target (procedures.memristor_ops) with I_SHNO at zero (the stripe
current would bias the memristor's bottom node): a memristor still at its target costs one
read, one that a V_M level has moved (a negative level can RESET an LRS) is put back.
Per state and current the spectrum is fitted as in freq-current, giving the number of lines
and the synchronization state; the results give each state's current ranges of full sync.

On resume the memristor is not programmed again for a state already recorded (it is
non-volatile, and a second write would move an analog level); V_M is simply re-applied.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labctl.duration import span
from labctl.errors import UserInputError
from labctl.parameters import FIELD, GATE_COMPLIANCE, GATE_VOLTAGE, SHNO_CURRENT
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value, parse_value
from procedures.analysed import measure_then_analyse
from procedures.base import Parameter, Plan, Procedure, Row, RunContext
from procedures.checks import check_field_currents, check_span
from procedures.freq_current import SYNC_NAMES, current_steps
from procedures.memristor_ops import (
    GATE_SAFETY_PARAMETERS,
    MAX_READ_VOLTAGE,
    check_gate_at_the_door,
    check_gate_level,
    ohm_text,
    plan_program,
    plan_read,
    program_memristor,
    read_resistance,
    state_of,
    target_state,
)
from procedures.spectra import (
    SPECTRUM_PARAMETERS,
    SYNC_CODES,
    SpectrumSweep,
    peak_quantities,
    spectrum_axes,
)

PROGRAM_NAMES = {  # program_memristor keys -> quantity names of the "program" stream
    "pulse": "pulse", "pulse_kind": "pulse_kind", "pulse_voltage": "pulse_voltage",
    "compliance": "pulse_compliance", "pulse_current": "pulse_current",
    "compliance_hit": "compliance_hit", "resistance": "read_resistance",
    "within_tolerance": "within_tolerance", "time": "pulse_time"}


class TargetsParameter(Parameter):
    """A list of memristor targets: "HRS", "LRS" or a resistance in Ω; may be empty."""

    def parse(self, text: str) -> list:
        body = text.strip().removeprefix("[").removesuffix("]")
        return self.validate([t.strip().strip("'\"") for t in body.replace(";", ",").split(",")
                              if t.strip()])

    def validate(self, value: Any) -> list:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise UserInputError(f"parameter {self.name} = {value!r}: needs a list of "
                                 "'HRS', 'LRS' or resistances in ohm")
        return [self._target(v) for v in value]

    def _target(self, v: Any) -> str | float:
        if isinstance(v, str):
            if v.strip().upper() in ("HRS", "LRS"):
                return v.strip().upper()
            try:
                v = parse_value(v, "ohm", self.name)  # "10 kΩ", "4.7 kOhm", "1e4"
            except UserInputError:
                raise UserInputError(f"parameter {self.name}: target {v!r} is not 'HRS', "
                                     "'LRS' or a resistance in ohm") from None
        if isinstance(v, bool) or not isinstance(v, int | float) or not (
                math.isfinite(v) and v > 0):
            raise UserInputError(f"parameter {self.name}: target {v!r} is not 'HRS', 'LRS' "
                                 "or a positive resistance in ohm")
        return float(v)


def full_sync_ranges(currents: np.ndarray, sync: np.ndarray) -> list[list[float]]:
    """[first, last] current of each unbroken run of full synchronization."""
    full = np.append(np.asarray(sync) == SYNC_CODES["full"], False)
    ranges, start = [], None
    for k, on in enumerate(full):
        if on and start is None:
            start = k
        elif not on and start is not None:
            ranges.append([float(currents[start]), float(currents[k - 1])])
            start = None
    return ranges


class SyncMap(Procedure):
    name = "sync-map"
    title = "Synchronization map: frequency-current sweeps for V_M levels and memristor states"
    readings = {"voltage": "v_shno", "field_measured": "field"}
    parameters = (
        Parameter("gate_voltages", [0.0], "V", description="V_M levels, one sweep each",
                  kind=list, station=GATE_VOLTAGE),
        TargetsParameter("memristor_targets", [], "", description="memristor states "
                         "programmed before the sweeps: HRS, LRS or ohm (empty: leave as is)",
                         kind=list),
        Parameter("i_start", 0.8e-3, "A", description="first I_SHNO of each sweep",
                  station=SHNO_CURRENT),
        Parameter("i_stop", 2.2e-3, "A", description="last I_SHNO of each sweep",
                  station=SHNO_CURRENT),
        Parameter("i_step", 50e-6, "A", 1e-7, 1e-3, "I_SHNO step between spectra"),
        Parameter("field", 0.65, "T", description="magnet field (closed loop)", station=FIELD),
        Parameter("gate_compliance", 100e-6, "A", description="V_M current compliance",
                  station=GATE_COMPLIANCE),
        Parameter("v_read", 0.1, "V", 1e-3, MAX_READ_VOLTAGE, "memristor read voltage",
                  station=GATE_VOLTAGE),
        Parameter("read_compliance", 100e-6, "A", description="compliance of a read",
                  station=GATE_COMPLIANCE),
        Parameter("tolerance", 0.1, "", 1e-3, 0.99, "relative tolerance of a target in ohm"),
        Parameter("set_stop", 5.0, "V", 0.1, description="highest SET pulse",
                  station=GATE_VOLTAGE),
        Parameter("reset_stop", -2.0, "V", maximum=-0.1, description="deepest RESET pulse",
                  station=GATE_VOLTAGE),
        Parameter("compliance_stop", 500e-6, "A", description="largest SET compliance",
                  station=GATE_COMPLIANCE),
        Parameter("max_pulses", 100, "", 1, 10000, "pulses per programming", kind=int),
        *GATE_SAFETY_PARAMETERS,
        *SPECTRUM_PARAMETERS,
        Parameter("settle", 0.0, "s", 0, 60, "wait after each current step"),
        Parameter("background", True, "", description="record a background trace at I = 0",
                  kind=bool),
    )

    def currents(self) -> np.ndarray:
        return current_steps(self.i_start, self.i_stop, self.i_step)

    def states(self) -> list[tuple[int, float]]:
        """(target index or -1, V_M) of each state, in the order measured."""
        targets = range(len(self.memristor_targets)) if self.memristor_targets else [-1]
        return [(t, v) for t in targets for v in self.gate_voltages]

    def planned_points(self) -> int:
        return len(self.states()) * len(self.currents())

    def check(self) -> None:
        super().check()
        check_span(self.values)
        # a programmed state is known before anything is sent: refuse a V_M that would
        # switch it at once (states left as they are get checked after their read)
        for t, volts in self.states():
            if t >= 0:
                target = self.memristor_targets[t]
                check_gate_level(volts, target_state(target), self.values, "gate_voltages",
                                 f" with memristor target {target}")
            else:
                check_gate_at_the_door(volts, self.values, "gate_voltages")

    def check_station(self, config) -> None:
        super().check_station(config)
        check_field_currents(config, {"field": self.field})

    def unused(self) -> set[str]:
        """Without memristor targets nothing is programmed: the pulse limits play no part."""
        return set() if self.memristor_targets else {"set_stop", "reset_stop",
                                                     "compliance_stop", "tolerance",
                                                     "max_pulses"}

    def schema(self) -> Schema:
        point = Stream("point", (
            Quantity("state", "", "int64", description="gate state index"),
            Quantity("gate_voltage", "V", description="V_M during the sweep"),
            Quantity("memristor_resistance", "ohm",
                     description="read before the state's sweep (see state_check after)"),
            Quantity("current", "A", description="I_SHNO setpoint"),
            Quantity("voltage", "V", description="stripe voltage"),
            Quantity("field_measured", "T", description="gaussmeter reading"),
            Quantity("trace", "dBm", "float32", ("frequency",), "analyzer trace"),
            *peak_quantities(),
        ), "current step of a gate state", swept="current")
        state = Stream("state_row", (
            Quantity("state_index", "", "int64", description="gate state index"),
            Quantity("target_index", "", "int64",
                     description="index into memristor_targets (-1: not programmed)"),
            Quantity("state_gate_voltage", "V", description="V_M of the state"),
            Quantity("state_resistance", "ohm", description="memristor read at v_read"),
            Quantity("target_reached", "", "int8", description="1 reached, 0 not, -1 n/a"),
        ), "gate state", swept="state_gate_voltage")
        program = Stream("program", (
            Quantity("program_state", "", "int64", description="gate state index"),
            Quantity("pulse", "", "int64", description="pulse number (0: first read)"),
            Quantity("pulse_kind", "", "int8", description="0 read, 1 SET, -1 RESET"),
            Quantity("pulse_voltage", "V"),
            Quantity("pulse_compliance", "A"),
            Quantity("pulse_current", "A"),
            Quantity("compliance_hit", "", "int8"),
            Quantity("read_resistance", "ohm", description="read after the pulse"),
            Quantity("within_tolerance", "", "int8"),
            Quantity("pulse_time", "s", description="station clock"),
        ), "memristor programming pulse", swept="pulse")
        check = Stream("state_check", (
            Quantity("check_state", "", "int64", description="gate state index"),
            Quantity("resistance_after", "ohm",
                     description="memristor read at v_read after the state's sweep"),
            Quantity("memristor_changed", "", "int8",
                     description="1: the sweep moved the memristor (HRS<->LRS or its level "
                     "by more than the tolerance)"),
            Quantity("switching_allowed", "", "int8",
                     description="1: V_M was outside the state's safe window, applied "
                     "because allow_switching = true"),
        ), "memristor read back after a gate state's sweep")
        background = Stream("background", (
            Quantity("background_trace", "dBm", "float32", ("frequency",),
                     "trace at I_SHNO = 0"),), "background trace")
        return Schema(streams=(point, state, program, check, background),
                      axes=spectrum_axes(self.values))

    def estimate(self, plan: Plan) -> None:
        currents = self.currents()
        states = self.states()
        targets = ", ".join(t if isinstance(t, str) else ohm_text(t)
                            for t in self.memristor_targets)
        plan.say("field", f"{format_value(self.field, 'T')} (closed loop)")
        plan.set_field(self.field)
        plan.say("V_M", ", ".join(format_value(v, "V") for v in self.gate_voltages)
                 + f" (compliance {format_value(self.gate_compliance, 'A')})"
                 + (f" x memristor {targets} (write-verify, up to {self.max_pulses} pulses "
                    "each)" if targets else ""))
        SpectrumSweep.plan_background(plan, self.values)
        plan.say("I_SHNO", span(self.i_start, self.i_stop, self.i_step, "A", len(currents))
                 + f" x {len(states)} state{'s' if len(states) != 1 else ''}: "
                 f"{self.planned_points()} points")
        for t, volts in states:
            plan.ramp("shno_source", 0.0)
            if t >= 0:
                plan_program(plan, self.max_pulses, self.v_read, 1e-3,
                             max(self.set_stop, -self.reset_stop))
            plan_read(plan, self.v_read)
            plan.ramp("gate", volts)
            for current in currents:
                plan.ramp("shno_source", current)
                SpectrumSweep.plan_measure(plan, self.values, readings=1)
                plan.row()

    def _program(self, st, k: int, target):
        """Write–verify the memristor for state ``k``; yields program rows, returns reached."""
        reached = False
        for step in program_memristor(
                st.gate, target, tolerance=self.tolerance, v_read=self.v_read,
                read_compliance=self.read_compliance, set_stop=self.set_stop,
                reset_stop=self.reset_stop, compliance_stop=self.compliance_stop,
                max_pulses=self.max_pulses, clock=st.clock):
            reached = bool(step["within_tolerance"])
            row = {PROGRAM_NAMES[key]: step[key] for key in PROGRAM_NAMES}
            row["program_state"] = k
            yield Row("program", row)
        return reached

    def execute(self, ctx: RunContext):
        return measure_then_analyse(ctx, self._measure(ctx), lambda: self.results(ctx))

    def _measure(self, ctx: RunContext):
        st = ctx.station
        st.field.set_field(self.field)
        spectra = SpectrumSweep(ctx, self.values)
        st.shno_source.ramp_to(0.0)
        yield from spectra.record_background()
        currents = self.currents()
        n = len(currents)
        done_states = ctx.recorded("state_resistance", "state_row")
        first, position = divmod(ctx.start, n)
        for k, (t, volts) in enumerate(self.states()):
            if k < first:
                continue
            if k < len(done_states):
                resistance = float(done_states[k])
            else:
                st.shno_source.ramp_to(0.0)
                reached = -1
                if t >= 0:
                    target = self.memristor_targets[t]
                    reached = int((yield from self._program(st, k, target)))
                    if not reached:
                        ctx.log(f"state {k}: memristor target {target} not reached", "warning")
                resistance = read_resistance(st.gate, self.v_read, self.read_compliance)
                ctx.log(f"state {k}: V_M = {volts:g} V, memristor {ohm_text(resistance)}")
                yield Row("state_row", {"state_index": k, "target_index": t,
                                        "state_gate_voltage": volts,
                                        "state_resistance": resistance,
                                        "target_reached": reached})
            # the memristor as read decides which V_M leaves it alone; nothing but the read
            # has been sent when an unsafe level is refused
            warning = check_gate_level(volts, state_of(resistance), self.values,
                                       "gate_voltages", f" (state {k})")
            if warning:
                ctx.log(warning, "warning")
            st.gate.ramp_to(volts, compliance=self.gate_compliance)
            start = position if k == first else 0
            spectra.track_from(first * n if start else None)
            for current in currents[start:]:
                st.shno_source.ramp_to(current)
                row = spectra.measure(before={"voltage": st.shno_source.read_voltage},
                                      after={"field_measured": st.field.read_field})
                row.update(current=current, state=k, gate_voltage=volts,
                           memristor_resistance=resistance)
                yield row
            yield from self._check_after(ctx, k, resistance, bool(warning))

    def _check_after(self, ctx: RunContext, k: int, before: float, allowed: bool):
        """Read the memristor back after a state's sweep: did V_M (or the stripe current
        through the node) move it? A changed state is recorded and said loudly."""
        st = ctx.station
        st.shno_source.ramp_to(0.0)
        after = read_resistance(st.gate, self.v_read, self.read_compliance)
        changed = state_of(after) != state_of(before) or (
            state_of(after) == "LRS" and abs(after - before) > self.tolerance * before)
        if changed:
            ctx.log(f"state {k}: the memristor CHANGED during the sweep: {ohm_text(before)} "
                    f"-> {ohm_text(after)}; its spectra do not belong to one memristor state",
                    "warning")
        yield Row("state_check", {"check_state": k, "resistance_after": after,
                                  "memristor_changed": int(changed),
                                  "switching_allowed": int(allowed)})

    def results(self, ctx: RunContext) -> dict:
        state = ctx.recorded("state")
        currents = ctx.recorded("current")
        sync = ctx.recorded("sync_state")
        lines = ctx.recorded("n_lines")
        resistances = ctx.recorded("state_resistance", "state_row")
        checked = ctx.recorded("check_state", "state_check")
        after = dict(zip(checked.tolist(), ctx.recorded("resistance_after", "state_check")))
        changed = dict(zip(checked.tolist(),
                           ctx.recorded("memristor_changed", "state_check").tolist()))
        out = []
        for k, (t, volts) in enumerate(self.states()):
            rows = state == k
            if not rows.any():
                continue
            ranges = full_sync_ranges(currents[rows], sync[rows])
            out.append({
                "state": k, "gate_voltage": volts,
                "memristor_target": self.memristor_targets[t] if t >= 0 else None,
                "memristor_resistance": float(resistances[k]) if k < len(resistances)
                else None,
                "full_sync_ranges": ranges,
                "full_sync_from": ranges[0][0] if ranges else None,
                "max_lines": int(lines[rows].max()),
                "sync_at_last_current": SYNC_NAMES.get(int(sync[rows][-1]), "?"),
                "memristor_resistance_after": float(after[k]) if k in after else None,
                "memristor_changed": bool(changed.get(k, 0)),
            })
        return {"states": out}

    def summarize(self, results: dict) -> list[str]:
        lines = []
        for s in results.get("states", []):
            target = "" if s["memristor_target"] is None else f" target {s['memristor_target']}"
            r = s["memristor_resistance"]
            mem = f", memristor {ohm_text(r)}" if r is not None else ""
            ranges = ", ".join(f"{a * 1e3:.3f}-{b * 1e3:.3f} mA" for a, b in
                               s["full_sync_ranges"]) or "none"
            lines.append(f"state {s['state']}: V_M = {s['gate_voltage']:g} V{target}{mem}; "
                         f"full sync {ranges}")
            if s.get("memristor_changed"):
                lines.append(f"  WARNING: the memristor changed during this sweep, to "
                             f"{ohm_text(s['memristor_resistance_after'])}: not one state")
        return lines
