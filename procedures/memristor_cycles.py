"""memristor-cycles: SET/RESET cycles as DC staircase sweeps, V_SET, V_RESET, R_HRS, R_LRS.

One cycle is 0 → v_set_max → 0 under ``compliance`` (the SET half), a read of R_LRS, then
0 → v_reset_min → 0 under ``reset_compliance`` (the RESET half) and a read of R_HRS
(PHYSICS.md §3, §6). The compliance only ever changes while V_M is at 0 V.
"""

from __future__ import annotations

import math

import numpy as np

from labctl.analysis.memristor import detect_switching
from labctl.errors import UserInputError
from labctl.parameters import GATE_COMPLIANCE, GATE_VOLTAGE
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.analysed import measure_then_analyse
from procedures.base import Parameter, Plan, Procedure, Row, RunContext
from procedures.memristor_ops import (
    READ_PARAMETERS,
    ladder,
    ohm_text,
    plan_read,
    read_resistance,
)

ENDURANCE_RATIO = 10.0  # a cycle counts if R_HRS / R_LRS exceeds this


class MemristorCycles(Procedure):
    name = "memristor-cycles"
    title = "Memristor SET/RESET cycles (staircase I–V, switching voltages, HRS/LRS)"
    readings = {"voltage": "v_m", "current": "i_m"}
    result_units = {"v_set_mean": "V", "v_set_std": "V", "v_reset_mean": "V",
                    "v_reset_std": "V", "r_hrs_mean": "ohm", "r_hrs_std": "ohm",
                    "r_lrs_mean": "ohm", "r_lrs_std": "ohm"}
    parameters = (
        Parameter("v_set_max", 5.0, "V", 0.01, description="top of the SET half-sweep",
                  station=GATE_VOLTAGE),
        Parameter("v_reset_min", -1.5, "V", maximum=-0.01,
                  description="bottom of the RESET half-sweep", station=GATE_VOLTAGE),
        Parameter("v_step", 0.1, "V", 1e-3, 2.0, "staircase step"),
        Parameter("compliance", 100e-6, "A", description="current compliance of the SET half "
                  "(sets the LRS level)", station=GATE_COMPLIANCE),
        Parameter("reset_compliance", 500e-6, "A", description="current compliance of the "
                  "RESET half (must exceed the SET compliance)", station=GATE_COMPLIANCE),
        Parameter("dwell", 10e-3, "s", 0, 60, "wait at each staircase level before measuring"),
        Parameter("cycles", 10, "", 1, 100_000, "SET/RESET cycles", kind=int),
        *READ_PARAMETERS,
    )

    def check(self) -> None:
        if self.v_step > self.v_set_max or self.v_step > -self.v_reset_min:
            raise UserInputError(f"parameter v_step = {self.v_step:g} V: larger than a "
                                 "half-sweep (v_set_max, |v_reset_min|)")
        if self.reset_compliance < self.compliance:
            # the filament dissolves once the reverse current reaches about the SET compliance
            raise UserInputError(f"parameter reset_compliance = {self.reset_compliance:g} A: "
                                 f"below compliance = {self.compliance:g} A, RESET could not "
                                 "draw the current it needs")

    # ---- the staircase --------------------------------------------------------------------
    def half_sweep(self, extreme: float) -> np.ndarray:
        """0 → ``extreme`` → 0 without the starting 0 (it is the previous half's last level)."""
        out = ladder(0.0, extreme, self.v_step)[1:]
        return np.concatenate([out, out[-2::-1], [0.0]])

    def cycle_levels(self) -> tuple[np.ndarray, int]:
        """Levels of one cycle and the number of them in the SET half."""
        up = self.half_sweep(self.v_set_max)
        return np.concatenate([up, self.half_sweep(self.v_reset_min)]), len(up)

    def planned_points(self) -> int:
        return self.cycles * len(self.cycle_levels()[0])

    def schema(self) -> Schema:
        point = Stream("point", (
            Quantity("cycle_index", "", "int64", description="SET/RESET cycle, from 0"),
            Quantity("step", "", "int64", description="staircase step within the cycle"),
            Quantity("voltage", "V", description="V_M level"),
            Quantity("current", "A", description="measured gate current"),
            Quantity("compliance_hit", "", "int8", description="1 if clamped at compliance"),
        ), "staircase step", swept="voltage")
        cycle = Stream("cycle", (
            Quantity("v_set", "V", description="SET voltage (NaN: no SET seen)"),
            Quantity("v_reset", "V", description="RESET voltage (NaN: no RESET seen)"),
            Quantity("r_hrs", "ohm", description="read after the RESET half"),
            Quantity("r_lrs", "ohm", description="read after the SET half"),
            Quantity("on_off_ratio", "", description="R_HRS / R_LRS"),
        ), "SET/RESET cycle")
        return Schema(streams=(point, cycle))

    def estimate(self, plan: Plan) -> None:
        levels, _ = self.cycle_levels()
        v = {k: format_value(getattr(self, k), u) for k, u in (
            ("v_set_max", "V"), ("v_reset_min", "V"), ("v_step", "V"), ("compliance", "A"),
            ("reset_compliance", "A"), ("dwell", "s"))}
        plan.say("V_M", f"0 → {v['v_set_max']} → 0 (compliance {v['compliance']}) → "
                 f"{v['v_reset_min']} → 0 ({v['reset_compliance']}), step {v['v_step']}, "
                 f"dwell {v['dwell']}: {len(levels)} levels a cycle")
        plan.say("cycles", f"{self.cycles}: {self.planned_points()} points, R_LRS and R_HRS "
                 f"read at {format_value(self.v_read, 'V')}")

        def cycle() -> None:
            for volts in levels:
                plan.ramp("gate", float(volts))
                plan.wait(self.dwell, "dwell")
                plan.readings(1)
                plan.row()
            plan_read(plan, self.v_read)
            plan_read(plan, self.v_read)

        plan.repeat(self.cycles, cycle)

    # ---- running --------------------------------------------------------------------------
    def execute(self, ctx: RunContext):
        return measure_then_analyse(ctx, self._measure(ctx), lambda: self.results(ctx))

    def _measure(self, ctx: RunContext):
        st = ctx.station
        gate = st.gate
        levels, n_set = self.cycle_levels()
        per_cycle = len(levels)
        first_cycle, first_step = divmod(ctx.start, per_cycle)
        voltages = ctx.recorded("voltage")
        currents = ctx.recorded("current")
        # cycles whose steps are all in the file but whose summary row is not (interrupted
        # between the last step and the reads): summarise them without the reads
        for c in range(len(ctx.recorded("v_set", "cycle")), first_cycle):
            part = slice(c * per_cycle, (c + 1) * per_cycle)
            yield Row("cycle", self.cycle_row(voltages[part], currents[part],
                                              math.nan, math.nan))
        for c in range(first_cycle, self.cycles):
            k0 = first_step if c == first_cycle else 0
            base = c * per_cycle
            v_cycle = list(voltages[base:base + k0])
            i_cycle = list(currents[base:base + k0])
            r_lrs = r_hrs = math.nan
            if k0 >= n_set:
                ctx.log(f"resumed in the RESET half of cycle {c}: its R_LRS was not read",
                        "warning")
            for k in range(k0, per_cycle):
                volts = float(levels[k])
                gate.ramp_to(volts, self.compliance if k < n_set else self.reset_compliance)
                if self.dwell:
                    ctx.sleep(self.dwell)
                _, current, hit = gate.measure()
                v_cycle.append(volts)
                i_cycle.append(current)
                yield {"cycle_index": c, "step": k, "voltage": volts, "current": current,
                       "compliance_hit": int(hit)}
                if k == n_set - 1:  # back at 0 V after the SET half
                    r_lrs = read_resistance(gate, self.v_read, self.read_compliance)
            r_hrs = read_resistance(gate, self.v_read, self.read_compliance)
            yield Row("cycle", self.cycle_row(np.array(v_cycle), np.array(i_cycle),
                                              r_hrs, r_lrs))

    def cycle_row(self, voltages: np.ndarray, currents: np.ndarray, r_hrs: float,
                  r_lrs: float) -> dict:
        sw = detect_switching(voltages, currents, compliance=self.compliance)
        ratio = r_hrs / r_lrs if r_lrs > 0 else math.nan
        return {"v_set": sw.v_set, "v_reset": sw.v_reset, "r_hrs": r_hrs, "r_lrs": r_lrs,
                "on_off_ratio": ratio}

    # ---- results --------------------------------------------------------------------------
    def results(self, ctx: RunContext) -> dict:
        out: dict = {"cycles_recorded": len(ctx.recorded("v_set", "cycle"))}
        for name in ("v_set", "v_reset", "r_hrs", "r_lrs"):
            values = ctx.recorded(name, "cycle")
            finite = values[np.isfinite(values)]
            out[f"{name}_found"] = int(finite.size)
            if finite.size:
                out[f"{name}_mean"] = float(finite.mean())
                out[f"{name}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
        ratio = ctx.recorded("on_off_ratio", "cycle")
        out["endurance"] = int(np.count_nonzero(np.nan_to_num(ratio) > ENDURANCE_RATIO))
        return out

    def summarize(self, results: dict) -> list[str]:
        n = results.get("cycles_recorded", 0)
        lines = []
        for name, label in (("v_set", "V_SET"), ("v_reset", "V_RESET")):
            if f"{name}_mean" in results:
                lines.append(f"{label}: {results[f'{name}_mean']:.3f} ± "
                             f"{results[f'{name}_std']:.3f} V ({results[f'{name}_found']} of "
                             f"{n} cycles)")
            else:
                lines.append(f"{label}: not detected in {n} cycles")
        for name, label in (("r_hrs", "R_HRS"), ("r_lrs", "R_LRS")):
            if f"{name}_mean" in results:
                mean, std = results[f"{name}_mean"], results[f"{name}_std"]
                spread = f" ± {std / mean:.1%}" if math.isfinite(mean) and mean > 0 else ""
                lines.append(f"{label} at {self.v_read:g} V: {ohm_text(mean)}{spread}")
        lines.append(f"endurance: {results.get('endurance', 0)} of {n} cycles with "
                     f"R_HRS/R_LRS > {ENDURANCE_RATIO:g}")
        return lines
