"""freq-current: spectra of the oscillator chain versus I_SHNO at fixed field and gate."""

from __future__ import annotations

import numpy as np

from labctl.analysis.threshold import threshold_from_inverse_power
from labctl.duration import span
from labctl.parameters import FIELD, GATE_COMPLIANCE, GATE_VOLTAGE, SHNO_CURRENT
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.base import Parameter, Plan, Procedure, Results, RunContext
from procedures.checks import check_field_currents, check_span
from procedures.spectra import (
    SPECTRUM_PARAMETERS,
    SYNC_CODES,
    SpectrumSweep,
    peak_quantities,
    spectrum_axes,
)

SYNC_NAMES = {v: k for k, v in SYNC_CODES.items()}


def current_steps(start: float, stop: float, step: float) -> np.ndarray:
    n = int(round(abs(stop - start) / step)) + 1
    return np.linspace(start, stop, n)


class FreqCurrent(Procedure):
    name = "freq-current"
    title = "Oscillator spectra versus I_SHNO (fitted peaks, sync state, threshold)"
    readings = {"voltage": "v_shno", "resistance": "r_shno", "field_measured": "field"}
    parameters = (
        Parameter("i_start", 0.4e-3, "A", description="first I_SHNO", station=SHNO_CURRENT),
        Parameter("i_stop", 2.2e-3, "A", description="last I_SHNO", station=SHNO_CURRENT),
        Parameter("i_step", 20e-6, "A", 1e-7, 1e-3, "I_SHNO step between spectra"),
        Parameter("field", 0.65, "T", description="magnet field (closed loop)", station=FIELD),
        Parameter("gate_voltage", 0.0, "V", description="V_M during the sweep",
                  station=GATE_VOLTAGE),
        Parameter("gate_compliance", 100e-6, "A", description="V_M current compliance",
                  station=GATE_COMPLIANCE),
        *SPECTRUM_PARAMETERS,
        Parameter("settle", 0.0, "s", 0, 60, "wait after each current step"),
        Parameter("background", True, "", description="record a background trace at I = 0",
                  kind=bool),
    )

    def currents(self) -> np.ndarray:
        return current_steps(self.i_start, self.i_stop, self.i_step)

    def planned_points(self) -> int:
        return len(self.currents())

    def check(self) -> None:
        check_span(self.values)

    def check_station(self, config) -> None:
        super().check_station(config)
        check_field_currents(config, {"field": self.field})

    def schema(self) -> Schema:
        point = Stream("point", (
            Quantity("current", "A", description="I_SHNO setpoint"),
            Quantity("voltage", "V", description="stripe voltage"),
            Quantity("resistance", "ohm", description="stripe resistance V/I"),
            Quantity("field_measured", "T", description="gaussmeter reading"),
            Quantity("trace", "dBm", "float32", ("frequency",), "analyzer trace"),
            *peak_quantities(),
        ), "current step", swept="current")
        background = Stream("background", (
            Quantity("background_trace", "dBm", "float32", ("frequency",),
                     "trace at I_SHNO = 0"),), "background trace")
        return Schema(streams=(point, background), axes=spectrum_axes(self.values))

    def estimate(self, plan: Plan) -> None:
        plan.say("field", f"{format_value(self.field, 'T')} (closed loop)")
        plan.set_field(self.field)
        plan.say("V_M", f"{format_value(self.gate_voltage, 'V')}, compliance "
                 f"{format_value(self.gate_compliance, 'A')}")
        plan.ramp("gate", self.gate_voltage)
        SpectrumSweep.plan_background(plan, self.values)
        currents = self.currents()
        plan.say("I_SHNO", span(self.i_start, self.i_stop, self.i_step, "A", len(currents)))
        for current in currents:
            plan.ramp("shno_source", current)
            SpectrumSweep.plan_measure(plan, self.values, readings=1)
            plan.row()

    def execute(self, ctx: RunContext):
        st = ctx.station
        st.field.set_field(self.field)
        st.gate.ramp_to(self.gate_voltage, compliance=self.gate_compliance)
        spectra = SpectrumSweep(ctx, self.values)
        yield from spectra.record_background()
        spectra.track_from(0 if ctx.start else None)
        for current in ctx.remaining(self.currents()):
            st.shno_source.ramp_to(current)
            row = spectra.measure(before={"voltage": st.shno_source.read_voltage},
                                  after={"field_measured": st.field.read_field})
            row["current"] = current
            row["resistance"] = row["voltage"] / current if current else np.nan
            yield row
        yield Results(self.results(ctx))

    def results(self, ctx: RunContext) -> dict:
        currents = ctx.recorded("current")
        power = ctx.recorded("total_power")
        lines = ctx.recorded("n_lines")
        sync = ctx.recorded("sync_state")
        out: dict = {}
        try:
            # sub-threshold: a (broad, thermal) peak is seen but no auto-oscillation line yet
            oscillating = np.flatnonzero(lines > 0)
            below = np.arange(len(currents)) < (oscillating[0] if len(oscillating)
                                                else len(currents))
            below &= power > 0
            fit = threshold_from_inverse_power(currents, power, below=below)
            out.update(threshold_current=fit.i_th, threshold_r2=fit.r2)
        except (ValueError, RuntimeError) as err:
            ctx.log(f"threshold fit failed: {err}", "warning")
        if len(lines):
            out["lines_at_last_current"] = int(lines[-1])
            out["sync_at_last_current"] = SYNC_NAMES.get(int(sync[-1]), "?")
            # where the chain stays fully locked up to the end of the sweep
            not_full = np.flatnonzero(sync != SYNC_CODES["full"])
            first = 0 if not len(not_full) else not_full[-1] + 1
            if first < len(sync):
                out["full_sync_from_current"] = float(currents[first])
            last = ctx.recorded("peak_frequency")[-1]
            out["peak_frequencies_at_last_current"] = [float(f) for f in last if np.isfinite(f)]
        return out

    def summarize(self, results: dict) -> list[str]:
        lines = []
        if "threshold_current" in results:
            lines.append(f"threshold current: {results['threshold_current'] * 1e3:.3f} mA "
                         f"(1/P vs I, r2 = {results['threshold_r2']:.3f})")
        if "lines_at_last_current" in results:
            freqs = ", ".join(f"{f / 1e9:.3f}" for f in results["peak_frequencies_at_last_current"])
            lines.append(f"peaks at {self.i_stop * 1e3:.3f} mA: "
                         f"{results['lines_at_last_current']} line(s) at {freqs} GHz")
            lines.append(f"synchronization at {self.i_stop * 1e3:.3f} mA: "
                         f"{results['sync_at_last_current']}")
        if "full_sync_from_current" in results:
            lines.append(f"full synchronization from {results['full_sync_from_current'] * 1e3:.3f}"
                         " mA")
        return lines
