"""field-sweep: spectra versus magnet field at fixed I_SHNO and gate, Kittel fit → μ0Meff, g.

The line followed is the strongest fitted peak of each spectrum. Below threshold the thermal
(FMR) peak of a nano-constriction is too faint for the analyzer (PHYSICS.md §1, §4), so the
sweep runs above threshold, where the line sits at f_FMR(B) + N·p0 (+ the cluster's mean
offset): the nonlinear shift N·p0 depends on the current, hardly on the field. By default the
Kittel fit therefore takes a field-independent frequency offset as a third parameter
(``fit_offset``); without it a shift of −300 MHz biases μ0Meff by ~4 %. Over a narrow field
range f(B) is nearly straight and μ0Meff, γ and the offset trade off against each other:
sweep ≥ 0.3 T (default 0.5–0.8 T); the results warn below MIN_SPAN.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from labctl.analysis.kittel_fit import KittelFit, fit_kittel
from labctl.duration import span
from labctl.errors import UserInputError
from labctl.parameters import FIELD, GATE_COMPLIANCE, GATE_VOLTAGE, SHNO_CURRENT
from labctl.schema import Quantity, Schema, Stream
from labctl.units import format_value
from procedures.analysed import measure_then_analyse
from procedures.base import Parameter, Plan, Procedure, RunContext
from procedures.checks import check_field_currents, check_span
from procedures.memristor_ops import (
    GATE_SAFETY_PARAMETERS,
    check_gate_at_the_door,
    gate_off,
    gate_on,
    memristor_check_stream,
)
from procedures.spectra import (
    SPECTRUM_PARAMETERS,
    SpectrumSweep,
    peak_quantities,
    spectrum_axes,
)

MIN_SPAN = 0.2  # T: narrower field sweeps give poorly separated Meff, g and offset
KITTEL_REL_UNCERTAIN = 0.02  # 1 sigma / value beyond which a Kittel result is "uncertain"


def _spectrum_parameters() -> tuple[Parameter, ...]:
    """The shared analyzer parameters, with a span that covers f_FMR over 0.5–0.8 T."""
    wide = {"f_start": 6.0e9, "f_stop": 16.0e9}
    return tuple(replace(p, default=wide[p.name]) if p.name in wide else p
                 for p in SPECTRUM_PARAMETERS)


def field_steps(start: float, stop: float, step: float) -> np.ndarray:
    n = int(round(abs(stop - start) / step)) + 1
    return np.linspace(start, stop, n)


def fit_kittel_with_offset(fields, frequencies, theta_h: float) -> tuple[KittelFit, float]:
    """Kittel fit of f(B) − δ with a constant offset δ (Hz) fitted too; returns (fit, δ)."""
    fit = fit_kittel(fields, frequencies, theta_h, offset=True)
    return fit, fit.offset


class FieldSweep(Procedure):
    name = "field-sweep"
    title = "Oscillator spectra versus magnet field (Kittel fit: Meff, g)"
    readings = {"field_measured": "field", "current": "i_shno", "voltage": "v_shno"}
    result_units = {"meff": "T", "meff_err": "T", "gamma": "Hz/T", "gamma_err": "Hz/T",
                    "frequency_offset": "Hz", "residual_rms": "Hz", "theta_h_deg": "deg",
                    "memristor_before": "ohm", "memristor_after": "ohm"}
    parameters = (
        Parameter("b_start", 0.5, "T", description="first field setpoint", station=FIELD),
        Parameter("b_stop", 0.8, "T", description="last field setpoint", station=FIELD),
        Parameter("b_step", 0.025, "T", 1e-4, 1.0, "field step between spectra"),
        # default where the chain is locked: one line to follow. Below (1.5 mA on the default
        # device) several lines of a partly locked chain make the Kittel fit "uncertain"
        Parameter("i_shno", 2.0e-3, "A", description="I_SHNO during the sweep (above "
                  "threshold: the line must be visible)", station=SHNO_CURRENT),
        Parameter("gate_voltage", 0.0, "V", description="V_M during the sweep",
                  station=GATE_VOLTAGE),
        Parameter("gate_compliance", 100e-6, "A", description="V_M current compliance",
                  station=GATE_COMPLIANCE),
        *GATE_SAFETY_PARAMETERS,
        Parameter("theta_h", 75.0, "deg", 0.1, 90.0, "field angle out of the film plane"),
        Parameter("fit_offset", True, "", description="fit a field-independent frequency "
                  "offset (the nonlinear shift at this current) with the Kittel formula",
                  kind=bool),
        *_spectrum_parameters(),
        Parameter("settle", 0.0, "s", 0, 600, "wait after each field step"),
        Parameter("background", True, "", description="record a background trace at I = 0",
                  kind=bool),
    )

    def fields(self) -> np.ndarray:
        return field_steps(self.b_start, self.b_stop, self.b_step)

    def planned_points(self) -> int:
        return len(self.fields())

    def check(self) -> None:
        if self.b_start * self.b_stop < 0:
            raise UserInputError(f"parameters b_start = {self.b_start:g} T, b_stop = "
                                 f"{self.b_stop:g} T: the sweep must not cross zero field")
        check_span(self.values)
        check_gate_at_the_door(self.gate_voltage, self.values)

    def check_station(self, config) -> None:
        super().check_station(config)
        check_field_currents(config, {"b_start": self.b_start, "b_stop": self.b_stop})

    def schema(self) -> Schema:
        point = Stream("point", (
            Quantity("field", "T", description="field setpoint"),
            Quantity("field_measured", "T", description="gaussmeter reading"),
            Quantity("current", "A", description="I_SHNO read back"),
            Quantity("voltage", "V", description="stripe voltage"),
            Quantity("trace", "dBm", "float32", ("frequency",), "analyzer trace"),
            *peak_quantities(),
            Quantity("strongest_frequency", "Hz",
                     description="centre of the peak with the largest integrated power"),
        ), "field step", swept="field")
        background = Stream("background", (
            Quantity("background_trace", "dBm", "float32", ("frequency",),
                     "trace at I_SHNO = 0"),), "background trace")
        return Schema(streams=(point, background, memristor_check_stream()),
                      axes=spectrum_axes(self.values))

    def estimate(self, plan: Plan) -> None:
        fields = self.fields()
        plan.say("field", span(self.b_start, self.b_stop, self.b_step, "T", len(fields))
                 + " (closed loop)")
        plan.set_field(fields[0])
        plan.say("V_M", f"{format_value(self.gate_voltage, 'V')}, compliance "
                 f"{format_value(self.gate_compliance, 'A')}")
        plan.ramp("gate", self.gate_voltage)
        SpectrumSweep.plan_background(plan, self.values)
        plan.say("I_SHNO", format_value(self.i_shno, "A"))
        plan.ramp("shno_source", self.i_shno)
        for b in fields:
            plan.set_field(b)
            SpectrumSweep.plan_measure(plan, self.values, readings=1)
            plan.row()

    def execute(self, ctx: RunContext):
        return measure_then_analyse(ctx, self._measure(ctx), lambda: self.results(ctx))

    def _measure(self, ctx: RunContext):
        st = ctx.station
        fields = self.fields()
        st.field.set_field(fields[min(ctx.start, len(fields) - 1)])
        gate_read = yield from gate_on(ctx, self.gate_voltage, self.gate_compliance,
                                       self.values)
        spectra = SpectrumSweep(ctx, self.values)
        yield from spectra.record_background()
        st.shno_source.ramp_to(self.i_shno)
        # lines move ~γ·ΔB per step: identities rarely carry over, but new ones are numbered
        # after every identity given so far, also after a resume
        spectra.track_from(0 if ctx.start else None)
        for b in ctx.remaining(fields):
            st.field.set_field(b)
            row = spectra.measure(after={"field_measured": st.field.read_field,
                                         "current": st.shno_source.read_current,
                                         "voltage": st.shno_source.read_voltage})
            row["field"] = b
            power = np.nan_to_num(row["peak_power"], nan=-np.inf)
            row["strongest_frequency"] = (row["peak_frequency"][int(np.argmax(power))]
                                          if row["n_lines"] else np.nan)
            yield row
        yield from gate_off(ctx, gate_read, self.gate_compliance)

    def results(self, ctx: RunContext) -> dict:
        b = np.abs(ctx.recorded("field_measured"))
        f = ctx.recorded("strongest_frequency")
        ok = np.isfinite(b) & np.isfinite(f)
        out: dict = {"points_fitted": int(ok.sum()), "theta_h_deg": self.theta_h}
        need = 4 if self.fit_offset else 3
        if ok.sum() < need:
            ctx.log(f"Kittel fit skipped: a line was found at {int(ok.sum())} field(s), "
                    f"{need} needed", "warning")
            return out
        span = float(b[ok].max() - b[ok].min())
        if span < MIN_SPAN:
            ctx.log(f"field span {span:.3g} T is below {MIN_SPAN:g} T: Meff, g and the "
                    "offset are poorly determined", "warning")
        theta = math.radians(self.theta_h)
        try:
            fit = fit_kittel(b[ok], f[ok], theta, offset=self.fit_offset)
        except (ValueError, RuntimeError) as err:
            ctx.log(f"Kittel fit failed: {err}", "warning")
            return out
        out.update(meff=fit.meff, meff_err=fit.meff_err, gamma=fit.gamma,
                   gamma_err=fit.gamma_err, g_factor=fit.g_factor,
                   g_factor_err=fit.g_factor_err, frequency_offset=fit.offset,
                   frequency_offset_err=fit.offset_err, residual_rms=fit.residual_rms)
        notes = []
        if span < MIN_SPAN:
            notes.append(f"field span {span:.3g} T below {MIN_SPAN:g} T")
        for name, value, err in (("mu0*Meff", fit.meff, fit.meff_err),
                                 ("gamma", fit.gamma, fit.gamma_err)):
            if not err < KITTEL_REL_UNCERTAIN * abs(value):
                notes.append(f"{name} uncertain by {err / abs(value):.1%}")
        out["kittel_quality"] = "uncertain" if notes else "good"
        out["kittel_notes"] = notes
        out["kittel_info"] = ["uncertainties are statistical (residual scatter)"] + (
            ["the offset stands for the nonlinear shift, which follows the magnetization's "
             "tilt and so the field: expect ~1 % systematic on mu0*Meff and gamma above "
             "threshold"] if self.fit_offset else [])
        return out

    def summarize(self, results: dict) -> list[str]:
        if "meff" not in results:
            return [f"no Kittel fit ({results.get('points_fitted', 0)} field(s) with a line)"]
        quality = results.get("kittel_quality", "good")
        lines = [
            f"mu0*Meff = {results['meff']:.4f} ± {results['meff_err']:.4f} T, gamma/2pi = "
            f"{results['gamma'] / 1e9:.3f} ± {results['gamma_err'] / 1e9:.3f} GHz/T "
            f"(g = {results['g_factor']:.3f} ± {results['g_factor_err']:.3f}) at theta_H = "
            f"{results['theta_h_deg']:g} deg ({quality})",
            f"frequency offset {results['frequency_offset'] / 1e6:.1f} MHz, residual rms "
            f"{results['residual_rms'] / 1e6:.2f} MHz over {results['points_fitted']} fields",
        ]
        if results.get("kittel_notes"):
            lines.append(f"  why {quality}: {'; '.join(results['kittel_notes'])}")
        return lines
