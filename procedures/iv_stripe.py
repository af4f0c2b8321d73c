"""iv-stripe: stripe voltage and resistance versus I_SHNO; Joule heating R(I) = R0 + a·I².

The fit is of V(I) = R0·I + a·I³ (the same model, without dividing by small currents) by
linear least squares; the uncertainties are one standard deviation from the residual scatter.
"""

from __future__ import annotations

import math

import numpy as np

from labctl.duration import span
from labctl.parameters import SHNO_CURRENT
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.base import Parameter, Plan, Procedure, Results, RunContext
from procedures.freq_current import current_steps


def fit_heating(currents, voltages) -> dict[str, float]:
    """R0, a of V = R0·I + a·I³ with their standard errors and the R² of the fit."""
    i = np.asarray(currents, dtype=float)
    v = np.asarray(voltages, dtype=float)
    ok = np.isfinite(i) & np.isfinite(v)
    i, v = i[ok], v[ok]
    if np.count_nonzero(i) < 3:
        raise ValueError(f"need at least 3 non-zero currents, got {np.count_nonzero(i)}")
    design = np.column_stack([i, i**3])
    coef, _, rank, _ = np.linalg.lstsq(design, v, rcond=None)
    if rank < 2:
        raise ValueError("the currents do not separate R0 from the heating term")
    residual = v - design @ coef
    dof = len(v) - 2
    sigma2 = float(residual @ residual) / dof if dof > 0 else math.nan
    cov = sigma2 * np.linalg.inv(design.T @ design)
    spread = float(((v - v.mean()) ** 2).sum())
    return {"r0": float(coef[0]), "r0_err": float(math.sqrt(cov[0, 0])),
            "heating": float(coef[1]), "heating_err": float(math.sqrt(cov[1, 1])),
            "r2": 1.0 - float(residual @ residual) / spread if spread > 0 else math.nan,
            "points_fitted": int(len(v))}


class IVStripe(Procedure):
    name = "iv-stripe"
    title = "Stripe I-V: V and R versus I_SHNO, Joule heating R(I) = R0 + a*I^2 fitted"
    readings = {"voltage": "v_shno", "resistance": "r_shno"}
    result_units = {"r0": "ohm", "r0_err": "ohm", "heating": "ohm/A^2",
                    "heating_err": "ohm/A^2", "r2": "", "points_fitted": ""}
    parameters = (
        Parameter("i_start", 0.0, "A", description="first I_SHNO", station=SHNO_CURRENT),
        Parameter("i_stop", 2.0e-3, "A", description="last I_SHNO", station=SHNO_CURRENT),
        Parameter("i_step", 50e-6, "A", 1e-7, 1e-3, "I_SHNO step"),
        Parameter("settle", 0.0, "s", 0, 60, "wait after each step before reading"),
    )

    def currents(self) -> np.ndarray:
        return current_steps(self.i_start, self.i_stop, self.i_step)

    def planned_points(self) -> int:
        return len(self.currents())

    def schema(self) -> Schema:
        return Schema(streams=(Stream("point", (
            Quantity("current", "A", description="I_SHNO setpoint"),
            Quantity("voltage", "V", description="stripe voltage"),
            Quantity("resistance", "ohm", description="V/I (NaN at I = 0)"),
        ), "current step", swept="current"),))

    def estimate(self, plan: Plan) -> None:
        currents = self.currents()
        settle = f", settle {format_value(self.settle, 's')}" if self.settle else ""
        plan.say("I_SHNO", span(self.i_start, self.i_stop, self.i_step, "A", len(currents))
                 + settle)
        for current in currents:
            plan.ramp("shno_source", current)
            plan.wait(self.settle, "settle")
            plan.readings(1)
            plan.row()

    def execute(self, ctx: RunContext):
        src = ctx.station.shno_source
        for current in ctx.remaining(self.currents()):
            src.ramp_to(current)
            if self.settle:
                ctx.sleep(self.settle)
            voltage = src.read_voltage()
            yield {"current": current, "voltage": voltage,
                   "resistance": voltage / current if current else np.nan}
        yield Results(self.results(ctx))

    def results(self, ctx: RunContext) -> dict:
        try:
            return fit_heating(ctx.recorded("current"), ctx.recorded("voltage"))
        except (ValueError, np.linalg.LinAlgError) as err:
            ctx.log(f"heating fit failed: {err}", "warning")
            return {}

    def summarize(self, results: dict) -> list[str]:
        if "r0" not in results:
            return ["no heating fit"]
        return [f"R0 = {results['r0']:.4f} ± {results['r0_err']:.4f} ohm",
                f"a = {results['heating']:.4g} ± {results['heating_err']:.2g} ohm/A^2 "
                f"(R(I) = R0 + a*I^2, r2 = {results['r2']:.6f}, "
                f"{results['points_fitted']} points)"]
