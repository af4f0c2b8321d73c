"""freq-current: spectra of the oscillator chain versus I_SHNO at fixed field and gate."""

from __future__ import annotations

import numpy as np

from labctl.analysis.peaks import classify_sync
from labctl.analysis.threshold_sweep import threshold_of_sweep
from labctl.duration import span
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
    memristor_results,
    ohm_text,
)
from procedures.spectra import (
    SPECTRUM_PARAMETERS,
    SYNC_CODES,
    SpectrumSweep,
    band_centres,
    floor_bands,
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
    result_units = {"threshold_current": "A", "threshold_current_err": "A",
                    "threshold_inverse_power": "A", "threshold_inverse_power_err": "A",
                    "current_of_last_analysis": "A", "full_sync_from_current": "A",
                    "peak_frequencies_at_highest_current": "Hz", "memristor_before": "ohm",
                    "memristor_after": "ohm"}
    parameters = (
        Parameter("i_start", 0.4e-3, "A", description="first I_SHNO", station=SHNO_CURRENT),
        Parameter("i_stop", 2.2e-3, "A", description="last I_SHNO", station=SHNO_CURRENT),
        Parameter("i_step", 20e-6, "A", 1e-7, 1e-3, "I_SHNO step between spectra"),
        Parameter("field", 0.65, "T", description="magnet field (closed loop)", station=FIELD),
        Parameter("gate_voltage", 0.0, "V", description="V_M during the sweep",
                  station=GATE_VOLTAGE),
        Parameter("gate_compliance", 100e-6, "A", description="V_M current compliance",
                  station=GATE_COMPLIANCE),
        *GATE_SAFETY_PARAMETERS,
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
        check_gate_at_the_door(self.gate_voltage, self.values)

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
        return Schema(streams=(point, background, memristor_check_stream()),
                      axes=spectrum_axes(self.values))

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
        return measure_then_analyse(ctx, self._measure(ctx), lambda: self.results(ctx))

    def _measure(self, ctx: RunContext):
        st = ctx.station
        st.field.set_field(self.field)
        gate_read = yield from gate_on(ctx, self.gate_voltage, self.gate_compliance,
                                       self.values)
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
        yield from gate_off(ctx, gate_read, self.gate_compliance)

    def results(self, ctx: RunContext) -> dict:
        return {**sweep_results(ctx, self.values), **memristor_results(ctx)}

    def summarize(self, results: dict) -> list[str]:
        return summary_lines(results)


def sweep_results(ctx: RunContext, values: dict, rows=None) -> dict:
    """Threshold, lines and synchronization of a frequency–current sweep (``rows``: a mask
    of the main-stream rows that belong to it, default all)."""
    def recorded(name):
        data = ctx.recorded(name)
        return data if rows is None else data[rows]

    currents = recorded("current")
    out: dict = {}
    if not len(currents):
        out["threshold_quality"] = "unreliable"
        out["threshold_notes"] = ["nothing was measured"]
        return out
    background = ctx.recorded("background_trace", "background")
    report = threshold_of_sweep(
        currents, recorded("excess_power"), band_centres(values),
        floor_bands(background[-1] if len(background) else None, values),
        recorded("peak_frequency"), recorded("peak_fwhm"), recorded("peak_kind"),
        recorded("peak_power"))
    if report.quality != "good":
        ctx.log(f"threshold {report.quality}: {'; '.join(report.reasons)}", "warning")
    out.update(report.as_results())
    lines = recorded("n_lines")
    # with the whole sweep seen, the count of oscillators is known for every row, also for
    # a down-sweep that starts locked
    known = int(lines.max())
    states = [classify_sync(int(n), values["n_oscillators"], known) for n in lines]
    order = np.argsort(np.abs(currents), kind="stable")
    last = int(order[-1])
    out["current_of_last_analysis"] = float(currents[last])
    out["lines_at_highest_current"] = int(lines[last])
    out["sync_at_highest_current"] = states[last]
    peaks = recorded("peak_frequency")[last]
    kinds = recorded("peak_kind")[last]
    out["peak_frequencies_at_highest_current"] = [
        float(f) for f, k in zip(peaks, kinds) if np.isfinite(f) and k == 0]
    out["oscillators_seen"] = known
    # where the chain stays fully locked up to the highest current of the sweep
    full = [states[k] == "full" for k in order]
    if full[-1]:
        first = len(full) - 1
        while first > 0 and full[first - 1]:
            first -= 1
        out["full_sync_from_current"] = float(abs(currents[order[first]]))
    return out


def summary_lines(results: dict) -> list[str]:
    """The terminal summary: what was found, and how far to trust it."""
    lines = []
    quality = results.get("threshold_quality", "unreliable")
    notes = "; ".join(results.get("threshold_notes", []))
    if "threshold_current" in results and quality != "unreliable":
        err = results.get("threshold_current_err", float("nan"))
        text = (f"threshold current: {results['threshold_current'] * 1e3:.3f} "
                f"± {err * 1e3:.3f} mA ({results.get('threshold_method', '')}; {quality})")
        lines.append(text)
        if quality != "good" and notes:
            lines.append(f"  why {quality}: {notes}")
    else:
        lines.append(f"threshold current: not determined reliably ({notes or 'no fit'})")
    if "lines_at_highest_current" in results:
        at = results["current_of_last_analysis"] * 1e3
        n = results["lines_at_highest_current"]
        freqs = ", ".join(f"{f / 1e9:.3f}" for f in results["peak_frequencies_at_highest_current"])
        found = f"{n} line(s) at {freqs} GHz" if n else "no oscillator line"
        lines.append(f"peaks at {at:.3f} mA: {found}")
        state = results["sync_at_highest_current"]
        why = {"uncertain": " (how many oscillators merged is not known from this sweep)",
               "none": "", "partial": "", "full": "", "off": " (nothing oscillates)"}
        lines.append(f"synchronization at {at:.3f} mA: {state}{why.get(state, '')}")
    if "full_sync_from_current" in results:
        lines.append(f"full synchronization from {results['full_sync_from_current'] * 1e3:.3f}"
                     " mA")
    lines.extend(memristor_lines(results))
    return lines


def memristor_lines(results: dict) -> list[str]:
    """What a gated sweep's memristor checks say, loudly when it moved."""
    if "memristor_before" not in results:
        return []
    before = ohm_text(results["memristor_before"])
    if results.get("memristor_changed"):
        return [f"WARNING: the memristor changed during the sweep: {before} -> "
                f"{ohm_text(results['memristor_after'])}"]
    after = results.get("memristor_after")
    return [f"memristor: {before} before, {ohm_text(after) if after is not None else 'not read'}"
            " after the sweep"]
