"""What the oscillator procedures share: spectrum parameters, peak quantities, tracking, and
the spectrum step itself (settle, read, acquire, fit, track) of freq-current, field-sweep and
sync-map."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from labctl.analysis.lorentz import Peak, fit_spectrum
from labctl.analysis.peaks import classify_sync, count_lines, track_peaks
from labctl.duration import format_duration
from labctl.parameters import ANALYZER_FREQUENCY, ANALYZER_POINTS
from labctl.schema import Axis, Quantity
from labctl.units import format_value
from procedures.base import Parameter, Plan, Row, RunContext

MAX_PEAKS = 8
SYNC_CODES = {"off": 0, "none": 1, "partial": 2, "full": 3}

SPECTRUM_PARAMETERS = (
    Parameter("f_start", 8.0e9, "Hz", description="analyzer start frequency",
              station=ANALYZER_FREQUENCY),
    Parameter("f_stop", 12.0e9, "Hz", description="analyzer stop frequency",
              station=ANALYZER_FREQUENCY),
    Parameter("points", 10001, "", 101, description="trace points", kind=int,
              station=ANALYZER_POINTS),
    Parameter("rbw", 1e6, "Hz", 1, 50e6, "resolution bandwidth"),
    Parameter("vbw", 0.0, "Hz", 0, 50e6, "video bandwidth (0: RBW/10)"),
    Parameter("averages", 50, "", 1, 10000, "sweeps averaged per spectrum", kind=int),
    Parameter("gain_db", 32.0, "dB", -20, 80, "amplifier gain before the analyzer"),
    Parameter("min_snr_db", 3.0, "dB", 0, 60, "smallest peak height above the floor to fit"),
    Parameter("n_oscillators", 4, "", 1, 64, "oscillators in the chain", kind=int),
    Parameter("max_linewidth", 30e6, "Hz", 1e5, 1e9,
              "widest line counted as an auto-oscillation (broader: thermal peak)"),
)


def spectrum_axes(values: dict) -> tuple[Axis, ...]:
    return (
        Axis("frequency", np.linspace(values["f_start"], values["f_stop"], values["points"]),
             "Hz", "analyzer frequency"),
        Axis("peak_slot", np.arange(MAX_PEAKS), "", "fitted peak, by frequency"),
    )


def peak_quantities() -> tuple[Quantity, ...]:
    return (
        Quantity("peak_frequency", "Hz", dims=("peak_slot",), description="fitted centre"),
        Quantity("peak_fwhm", "Hz", dims=("peak_slot",), description="fitted linewidth"),
        Quantity("peak_power", "W", dims=("peak_slot",),
                 description="integrated power at the device"),
        Quantity("peak_id", "", "int64", ("peak_slot",), "tracked identity across the sweep"),
        Quantity("n_lines", "", "int64",
                 description="distinct auto-oscillation lines (FWHM <= max_linewidth)"),
        Quantity("sync_state", "", "int8",
                 description="synchronization: 0 off, 1 none, 2 partial, 3 full"),
        Quantity("total_power", "W", description="sum of the fitted integrated powers"),
    )


def configure_analyzer(station, values: dict) -> np.ndarray:
    vbw = values["vbw"] or values["rbw"] / 10
    return station.spectrum.configure(values["f_start"], values["f_stop"], values["points"],
                                      values["rbw"], vbw, values["averages"])


class PeakTracker:
    """Gives each fitted line an identity that follows it from one step to the next."""

    def __init__(self):
        self.previous: list[Peak] = []
        self.ids: list[int] = []
        self.next_id = 0

    def restore(self, frequencies: np.ndarray, ids: np.ndarray) -> None:
        """Continue tracking after a resume, from the rows recorded since tracking began.

        The last row gives the lines to follow; new lines are numbered after every identity
        ever given (not only the last row's), as an uninterrupted run would number them.
        """
        frequencies, ids = np.atleast_2d(frequencies), np.atleast_2d(ids)
        if not ids.size:
            return
        last_f, last_id = frequencies[-1], ids[-1]
        keep = np.isfinite(last_f) & (last_id >= 0)
        self.previous = [Peak(float(f), 0.0, 0.0, 0.0, 0.0) for f in last_f[keep]]
        self.ids = [int(i) for i in last_id[keep]]
        self.next_id = max(int(ids.max()) + 1, 0)

    def assign(self, peaks: list[Peak]) -> list[int]:
        match = track_peaks(self.previous, peaks)
        ids = []
        for m in match:
            if m is None:
                ids.append(self.next_id)
                self.next_id += 1
            else:
                ids.append(self.ids[m])
        self.previous, self.ids = peaks, ids
        return ids


def analyse_spectrum(freq, trace, values: dict, tracker: PeakTracker,
                     background: np.ndarray | None) -> dict:
    """Fit, track and classify one spectrum; the peak quantities of one row."""
    peaks = fit_spectrum(freq, trace, values["rbw"], gain_db=values["gain_db"],
                         background_dbm=background, max_peaks=MAX_PEAKS,
                         min_snr_db=values["min_snr_db"])
    ids = tracker.assign(peaks)
    row = {name: np.full(MAX_PEAKS, np.nan) for name in
           ("peak_frequency", "peak_fwhm", "peak_power")}
    row["peak_id"] = np.full(MAX_PEAKS, -1, dtype=np.int64)
    for k, (p, pid) in enumerate(zip(peaks[:MAX_PEAKS], ids)):
        row["peak_frequency"][k] = p.frequency
        row["peak_fwhm"][k] = p.fwhm
        row["peak_power"][k] = p.integrated_power
        row["peak_id"][k] = pid
    # broad sub-threshold (thermal) peaks are not oscillator lines: they do not count for sync
    n = count_lines([p for p in peaks if p.fwhm <= values["max_linewidth"]])
    row["n_lines"] = n
    row["sync_state"] = SYNC_CODES[classify_sync(n, values["n_oscillators"])]
    row["total_power"] = float(sum(p.integrated_power for p in peaks)) if peaks else 0.0
    return row


class SpectrumSweep:
    """The spectrum step of a sweep: the analyzer configured once, a background trace at
    I_SHNO = 0, then per step a settle, the procedure's read-backs, one trace, fitted and
    tracked. On a resume the background and the peak identities come from the file."""

    def __init__(self, ctx: RunContext, values: dict):
        self.ctx = ctx
        self.values = values
        self.freq = configure_analyzer(ctx.station, values)
        self.background: np.ndarray | None = None
        self.tracker = PeakTracker()

    def record_background(self) -> Iterator[Row]:
        """Yield the background Row (if the run records one and the file has none yet)."""
        if not self.values["background"]:
            return
        recorded = self.ctx.recorded("background_trace", "background")
        if len(recorded):
            self.background = recorded[-1]
            return
        st = self.ctx.station
        st.shno_source.ramp_to(0.0)
        _, self.background = st.spectrum.acquire()
        yield Row("background", {"background_trace": self.background})

    def track_from(self, row: int | None) -> None:
        """Start peak identities afresh (None), or continue them on a resume from the rows
        recorded since main-stream row ``row``, where this tracking began."""
        self.tracker = PeakTracker()
        if row is not None:
            self.tracker.restore(self.ctx.recorded("peak_frequency")[row:],
                                 self.ctx.recorded("peak_id")[row:])

    def measure(self, before: dict[str, Callable[[], float]] | None = None,
                after: dict[str, Callable[[], float]] | None = None) -> dict:
        """Settle, read ``before``, acquire, read ``after``: the trace, the read-backs and
        the fitted peak quantities of one row."""
        if self.values["settle"]:
            self.ctx.sleep(self.values["settle"])
        row = {name: read() for name, read in (before or {}).items()}
        _, trace = self.ctx.station.spectrum.acquire()
        row.update({name: read() for name, read in (after or {}).items()})
        row["trace"] = trace
        row.update(analyse_spectrum(self.freq, trace, self.values, self.tracker,
                                    self.background))
        return row

    # ---- the duration estimate, step by step as above ---------------------------------------
    @staticmethod
    def plan_background(plan: Plan, values: dict) -> None:
        """Describe the spectra; the background trace at I_SHNO = 0, if the run records one."""
        vbw = values["vbw"] or values["rbw"] / 10
        one = plan.sweep(values["f_start"], values["f_stop"], values["points"], values["rbw"],
                         vbw, values["averages"], n=0)
        settle = f", settle {format_value(values['settle'], 's')}" if values["settle"] else ""
        plan.say("spectra", f"{format_value(values['f_start'], 'Hz')} - "
                 f"{format_value(values['f_stop'], 'Hz')}, {values['points']} points, RBW "
                 f"{format_value(values['rbw'], 'Hz')}, VBW {format_value(vbw, 'Hz')}, "
                 f"{values['averages']} averages: {format_duration(one)} each{settle}"
                 + ("; background at I_SHNO = 0" if values["background"] else ""))
        if values["background"]:
            plan.ramp("shno_source", 0.0)
            SpectrumSweep.plan_measure(plan, values, readings=0, settle=False)

    @staticmethod
    def plan_measure(plan: Plan, values: dict, readings: int = 1, settle: bool = True) -> None:
        """One step of :meth:`measure`: settle, ``readings`` source-meter readings, a spectrum."""
        if settle:
            plan.wait(values["settle"], "settle")
        plan.readings(readings)
        plan.sweep(values["f_start"], values["f_stop"], values["points"], values["rbw"],
                   values["vbw"] or values["rbw"] / 10, values["averages"])
