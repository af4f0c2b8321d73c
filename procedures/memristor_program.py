"""memristor-program: bring the gated memristor to a resistance, or to HRS / LRS (write–verify)."""

from __future__ import annotations

import numpy as np

from labctl.errors import UserInputError
from labctl.parameters import GATE_COMPLIANCE, GATE_VOLTAGE
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.base import Parameter, Plan, Procedure, Results, RunContext
from procedures.memristor_ops import (
    READ_ONLY,
    READ_PARAMETERS,
    STATE_THRESHOLD,
    STATES,
    TargetNotReached,
    ohm_text,
    plan_program,
    program_memristor,
)


class MemristorProgram(Procedure):
    name = "memristor-program"
    title = "Program the gated memristor (write–verify pulses to a resistance or a state)"
    parameters = (
        Parameter("target", 10e3, "ohm", 1.0, 1e13, "resistance to reach (state = value)"),
        Parameter("state", "value", "", description="value: reach target; HRS or LRS: reach "
                  "that state", kind=str, choices=STATES),
        Parameter("tolerance", 0.1, "", 1e-3, 0.9, "relative tolerance on target"),
        Parameter("state_threshold", STATE_THRESHOLD, "ohm", 1.0, 1e13,
                  "HRS/LRS boundary of a read"),
        *READ_PARAMETERS,
        Parameter("set_start", 1.5, "V", 0.01, description="first SET pulse amplitude",
                  station=GATE_VOLTAGE),
        Parameter("set_stop", 5.0, "V", 0.01, description="largest SET pulse amplitude",
                  station=GATE_VOLTAGE),
        Parameter("set_step", 0.1, "V", 1e-3, 5, "SET amplitude increment"),
        Parameter("reset_start", -0.2, "V", maximum=-0.01,
                  description="first RESET pulse amplitude", station=GATE_VOLTAGE),
        Parameter("reset_stop", -2.0, "V", maximum=-0.01,
                  description="most negative RESET pulse amplitude", station=GATE_VOLTAGE),
        Parameter("reset_step", 0.1, "V", 1e-3, 5, "RESET amplitude increment (magnitude)"),
        Parameter("compliance_start", 10e-6, "A", description="smallest SET compliance "
                  "(highest LRS)", station=GATE_COMPLIANCE),
        Parameter("compliance_stop", 500e-6, "A", description="largest SET compliance "
                  "(lowest LRS)", station=GATE_COMPLIANCE),
        Parameter("reset_compliance", 500e-6, "A", description="compliance of RESET pulses",
                  station=GATE_COMPLIANCE),
        Parameter("pulse_width", 1e-3, "s", 0, 10, "time at the pulse level"),
        Parameter("max_pulses", 100, "", 1, 100_000, "give up after this many pulses", kind=int),
    )

    def check(self) -> None:
        if self.set_start > self.set_stop:
            raise UserInputError(f"parameter set_start = {self.set_start:g} V: above set_stop "
                                 f"= {self.set_stop:g} V")
        if self.reset_start < self.reset_stop:
            raise UserInputError(f"parameter reset_start = {self.reset_start:g} V: below "
                                 f"reset_stop = {self.reset_stop:g} V")
        if self.compliance_start > self.compliance_stop:
            raise UserInputError(f"parameter compliance_start = {self.compliance_start:g} A: "
                                 f"above compliance_stop = {self.compliance_stop:g} A")
        if self.reset_compliance < self.compliance_stop:
            raise UserInputError(f"parameter reset_compliance = {self.reset_compliance:g} A: "
                                 f"below compliance_stop = {self.compliance_stop:g} A, an LRS "
                                 "set at that compliance could not be RESET")

    def goal(self) -> float | str:
        return self.target if self.state == "value" else self.state

    def schema(self) -> Schema:
        return Schema(streams=(Stream("point", (
            Quantity("pulse", "", "int64", description="pulses applied so far"),
            Quantity("pulse_kind", "", "int8", description="0 read only, 1 SET, -1 RESET"),
            Quantity("pulse_voltage", "V", description="pulse amplitude"),
            Quantity("compliance", "A", description="compliance during the pulse"),
            Quantity("pulse_current", "A", description="current at the pulse level"),
            Quantity("compliance_hit", "", "int8", description="1 if the pulse was clamped"),
            Quantity("resistance", "ohm", description="read after the pulse"),
            Quantity("within_tolerance", "", "int8", description="1 once the goal is met"),
            Quantity("time", "s", description="station clock"),
        ), "pulse and read", swept="pulse"),))

    def estimate(self, plan: Plan) -> None:
        goal = self.goal()
        wanted = goal if isinstance(goal, str) else f"{ohm_text(goal)} ± {self.tolerance:.0%}"
        plan.say("memristor", f"write-verify to {wanted}: up to {self.max_pulses} pulses "
                 f"(SET {format_value(self.set_start, 'V')} → "
                 f"{format_value(self.set_stop, 'V')}, RESET {format_value(self.reset_start, 'V')}"
                 f" → {format_value(self.reset_stop, 'V')}), each read at "
                 f"{format_value(self.v_read, 'V')}")
        plan_program(plan, self.max_pulses, self.v_read, self.pulse_width,
                     max(self.set_stop, -self.reset_stop), rows=True)

    def execute(self, ctx: RunContext):
        st = ctx.station
        # a resumed run starts a fresh write–verify from the present state, with the pulses
        # left in its budget and the pulse count continuing
        done = int(np.count_nonzero(ctx.recorded("pulse_kind") != READ_ONLY))
        left = self.max_pulses - done
        if left <= 0:
            ctx.log(f"all {self.max_pulses} pulses already used; only reading", "warning")
        steps = program_memristor(
            st.gate, self.goal(), tolerance=self.tolerance, v_read=self.v_read,
            read_compliance=self.read_compliance, set_start=self.set_start,
            set_stop=self.set_stop, set_step=self.set_step, reset_start=self.reset_start,
            reset_stop=self.reset_stop, reset_step=self.reset_step,
            compliance_start=self.compliance_start, compliance_stop=self.compliance_stop,
            pulse_width=self.pulse_width, max_pulses=max(left, 0), clock=st.clock,
            reset_compliance=self.reset_compliance, threshold=self.state_threshold)
        for row in steps:
            row = dict(row, pulse=row["pulse"] + done)
            row["compliance_hit"] = int(row["compliance_hit"])
            row["within_tolerance"] = int(row["within_tolerance"])
            yield row
        results = self.results(ctx)
        yield Results(results)
        if not results["success"]:
            # the run fails, so a queue with on_failure = "stop" does not go on with a
            # memristor in the wrong state
            final = results.get("final_resistance")
            raise TargetNotReached(
                f"memristor target {self._goal_text()} not reached: "
                f"{ohm_text(final) if final is not None else 'not read'} after "
                f"{results['pulses_used']} pulse(s)")

    def results(self, ctx: RunContext) -> dict:
        r = ctx.recorded("resistance")
        kinds = ctx.recorded("pulse_kind")
        within = ctx.recorded("within_tolerance")
        out: dict = {"goal": self.goal(), "pulses_used": int(np.count_nonzero(kinds != 0))}
        if len(r):
            out["final_resistance"] = float(r[-1])
            out["success"] = bool(within[-1] == 1)
        else:
            out["success"] = False
        return out

    def _goal_text(self) -> str:
        goal = self.goal()
        return f"{ohm_text(goal)} ± {self.tolerance:.0%}" if not isinstance(goal, str) else goal

    def summarize(self, results: dict) -> list[str]:
        goal = results.get("goal")
        wanted = (f"{ohm_text(goal)} ± {self.tolerance:.0%}" if not isinstance(goal, str)
                  else goal)
        final = results.get("final_resistance")
        lines = [f"target: {wanted}",
                 f"final resistance: {ohm_text(final) if final is not None else 'not read'} "
                 f"after {results.get('pulses_used', 0)} pulse(s)",
                 f"{'reached' if results.get('success') else 'NOT reached'}"]
        return lines
