"""memristor-retention: read the memristor at V_read every ``interval`` for ``duration``.

Between reads V_M rests at 0 V, so what is measured is the non-volatile state (§3). The
waits go through the station clock: interruptible, and in virtual time on the simulator.
"""

from __future__ import annotations

import math

import numpy as np

from labctl.errors import UserInputError
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.base import Parameter, Plan, Procedure, Results, RunContext
from procedures.memristor_ops import (
    READ_PARAMETERS,
    STATE_THRESHOLD,
    ohm_text,
    plan_read,
    read_memristor,
)


class MemristorRetention(Procedure):
    name = "memristor-retention"
    title = "Memristor retention (read resistance versus time at V_M = 0 between reads)"
    readings = {"current": "i_m"}
    parameters = (
        Parameter("duration", 3600.0, "s", 0, 1e7, "total time"),
        Parameter("interval", 60.0, "s", 1e-3, 1e6, "time between reads"),
        *READ_PARAMETERS,
        Parameter("state_threshold", STATE_THRESHOLD, "ohm", 1.0, 1e13,
                  "HRS/LRS boundary for the summary"),
    )

    def check(self) -> None:
        if self.interval > self.duration > 0:
            raise UserInputError(f"parameter interval = {self.interval:g} s: longer than "
                                 f"duration = {self.duration:g} s")

    def planned_points(self) -> int:
        return int(math.floor(self.duration / self.interval + 1e-9)) + 1

    def schema(self) -> Schema:
        return Schema(streams=(Stream("point", (
            Quantity("time", "s", description="since the first read"),
            Quantity("resistance", "ohm", description="read at v_read"),
            Quantity("current", "A", description="read current"),
        ), "read", swept="time"),))

    def estimate(self, plan: Plan) -> None:
        n = self.planned_points()
        plan.say("reads", f"{n} at {format_value(self.v_read, 'V')}, every "
                 f"{format_value(self.interval, 's')} for {format_value(self.duration, 's')}")
        t0 = plan.elapsed
        plan_read(plan, self.v_read)
        plan.row()
        read = plan.elapsed - t0

        def next_read() -> None:  # reads run on a fixed schedule: the wait makes up the rest
            plan.wait(max(0.0, self.interval - read))
            plan_read(plan, self.v_read)
            plan.row()

        plan.repeat(n - 1, next_read)

    def execute(self, ctx: RunContext):
        st = ctx.station
        # reads on a fixed schedule from t0; a resumed run keeps the nominal times going
        t0 = st.clock.now() - ctx.start * self.interval
        for k in range(ctx.start, self.planned_points()):
            wait = t0 + k * self.interval - st.clock.now()
            if wait > 0:
                ctx.sleep(wait)
            reading = read_memristor(st.gate, self.v_read, self.read_compliance)
            if reading.compliance_hit:
                ctx.log(f"read {k} clamped at the compliance: R is an upper bound", "warning")
            yield {"time": st.clock.now() - t0, "resistance": reading.resistance,
                   "current": reading.current}
        yield Results(self.results(ctx))

    def results(self, ctx: RunContext) -> dict:
        r = ctx.recorded("resistance")
        t = ctx.recorded("time")
        finite = r[np.isfinite(r)]
        if not finite.size:
            return {"reads": int(len(r))}
        first, last = float(finite[0]), float(finite[-1])
        return {"reads": int(len(r)), "duration_measured": float(t[-1] - t[0]),
                "r_initial": first, "r_final": last, "r_mean": float(finite.mean()),
                "r_std": float(finite.std()), "drift": (last - first) / first,
                "state": "HRS" if last >= self.state_threshold else "LRS"}

    def summarize(self, results: dict) -> list[str]:
        if "r_initial" not in results:
            return [f"no finite resistance in {results.get('reads', 0)} read(s)"]
        return [f"{results['reads']} reads over {results['duration_measured']:g} s",
                f"R: {ohm_text(results['r_initial'])} → {ohm_text(results['r_final'])} "
                f"(drift {results['drift']:+.2%}, state {results['state']})"]
