"""What the oscillator procedures share: spectrum parameters, peak quantities, tracking, and
the spectrum step itself (settle, read, acquire, fit, track) of freq-current, field-sweep and
sync-map."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from labctl.analysis.lorentz import Peak, fit_spectrum
from labctl.analysis.peaks import (
    MergeTracker,
    SyncTracker,
    sidebands,
    track_peaks,
)
from labctl.analysis.spectra import (
    SMOOTH_SPAN,
    BandPower,
    background_spurs,
    estimate_background,
    excess_profile,
    smooth_background,
)
from labctl.analysis.threshold_sweep import PEAK_LINE, PEAK_SIDEBAND, PEAK_SPUR, PEAK_THERMAL
from labctl.duration import format_duration
from labctl.parameters import ANALYZER_FREQUENCY, ANALYZER_POINTS
from labctl.schema import Axis, Quantity
from labctl.units import format_value
from procedures.base import Parameter, Plan, Row, RunContext

MAX_PEAKS = 8
# 4 "uncertain": one line, or fewer than the chain has, and no more ever seen in the sweep
SYNC_CODES = {"off": 0, "none": 1, "partial": 2, "full": 3, "uncertain": 4}
BAND = 10e6  # Hz: width of the coarse bands the excess power is integrated over
_MERGE_DISTANCE = 10e6  # Hz: fitted peaks closer than this are one line
_SPUR_WIDTHS = 3.0  # RBW: a peak this narrow, this close to a background spur, is the spur
_EDGE_WIDTHS = 6.0  # a line may broaden this much (x max_linewidth) at a locking edge

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
    Parameter("min_snr_db", 0.5, "dB", 0, 60, "smallest peak height above the floor to "
              "report (a free line is only a few dB up; detection itself is statistical)"),
    Parameter("n_oscillators", 4, "", 1, 64, "oscillators in the chain", kind=int),
    Parameter("max_linewidth", 30e6, "Hz", 1e5, 1e9,
              "widest line counted as an auto-oscillation (broader: thermal peak)"),
)


def band_block(values: dict) -> int:
    """Trace points per coarse band of the excess power."""
    df = (values["f_stop"] - values["f_start"]) / max(values["points"] - 1, 1)
    return max(1, int(round(BAND / df))) if df > 0 else 1


def band_centres(values: dict) -> np.ndarray:
    """Centre frequency (Hz) of each coarse band."""
    freq = np.linspace(values["f_start"], values["f_stop"], values["points"])
    k = band_block(values)
    m = freq.size // k
    return freq[:m * k].reshape(m, k).mean(axis=1)


def spectrum_axes(values: dict) -> tuple[Axis, ...]:
    return (
        Axis("frequency", np.linspace(values["f_start"], values["f_stop"], values["points"]),
             "Hz", "analyzer frequency"),
        Axis("peak_slot", np.arange(MAX_PEAKS), "", "fitted peak, by frequency"),
        Axis("band", band_centres(values), "Hz", "coarse band of the excess power"),
        Axis("peak_error", np.arange(3), "", "1 sigma of: 0 centre (Hz), 1 FWHM (Hz), "
             "2 integrated power (W)"),
    )


def peak_quantities() -> tuple[Quantity, ...]:
    return (
        Quantity("peak_frequency", "Hz", dims=("peak_slot",), description="fitted centre"),
        Quantity("peak_fwhm", "Hz", dims=("peak_slot",), description="fitted linewidth"),
        Quantity("peak_power", "W", dims=("peak_slot",),
                 description="integrated power at the device"),
        # one dataset for the three (every dataset costs a write per row)
        Quantity("peak_uncertainty", "", dims=("peak_slot", "peak_error"),
                 description="1 sigma of centre (Hz), FWHM (Hz), integrated power (W)"),
        Quantity("peak_kind", "", "int8", ("peak_slot",),
                 "0 oscillator line, 1 modulation sideband, 2 broad thermal peak, "
                 "3 what is left of a spur of the background trace, -1 empty"),
        Quantity("peak_id", "", "int64", ("peak_slot",), "tracked identity across the sweep"),
        Quantity("n_lines", "", "int64",
                 description="distinct auto-oscillation lines (no sidebands, no thermal)"),
        Quantity("sync_state", "", "int8", description="synchronization: 0 off, 1 none, "
                 "2 partial, 3 full, 4 uncertain"),
        Quantity("total_power", "W", description="sum of the fitted integrated powers"),
        Quantity("excess_power", "W", "float32", ("band",),
                 "power above the background per coarse band, at the device"),
    )


def video_bandwidth(values: dict) -> float:
    """The VBW a sweep uses: the parameter, or RBW/10 when it is 0 (auto)."""
    return values["vbw"] or values["rbw"] / 10


def configure_analyzer(station, values: dict) -> np.ndarray:
    vbw = video_bandwidth(values)
    return station.spectrum.configure(values["f_start"], values["f_stop"], values["points"],
                                      values["rbw"], vbw, values["averages"])


class PeakTracker:
    """What the analysis of one sweep remembers from spectrum to spectrum: line identities,
    how many oscillators the sweep has shown (for the sync state), the smoothed background."""

    def __init__(self):
        self.previous: list[Peak] = []
        self.ids: list[int] = []
        self.next_id = 0
        self.sync: SyncTracker | None = None
        self.lines: set[int] = set()  # ids that were oscillator lines in the last spectrum
        self.merges = MergeTracker()
        self.spurs: list[float] = []  # Hz: spurs of the background trace
        self._background: tuple[int, np.ndarray, BandPower] | None = None

    def restore(self, frequencies: np.ndarray, ids: np.ndarray, line_counts=(),
                fwhm: np.ndarray | None = None, kinds: np.ndarray | None = None) -> None:
        """Continue tracking after a resume, from the rows recorded since tracking began.

        The last row gives the lines to follow; new lines are numbered after every identity
        ever given (not only the last row's), as an uninterrupted run would number them.
        ``line_counts``, ``fwhm`` and ``kinds`` (the rows' n_lines, peak_fwhm, peak_kind)
        replay what the sync state depends on, so a resumed run classifies the next spectra
        exactly as the uninterrupted run would have.
        """
        self._counts = [int(n) for n in line_counts]
        frequencies, ids = np.atleast_2d(frequencies), np.atleast_2d(ids)
        if not ids.size:
            return
        last_f, last_id = frequencies[-1], ids[-1]
        keep = np.isfinite(last_f) & (last_id >= 0)
        self.previous = [Peak(float(f), 0.0, 0.0, 0.0, 0.0) for f in last_f[keep]]
        self.ids = [int(i) for i in last_id[keep]]
        self.next_id = max(int(ids.max()) + 1, 0)
        if fwhm is None or kinds is None:
            self.lines = set(self.ids)
            return
        for f_row, id_row, w_row, k_row in zip(frequencies, ids, np.atleast_2d(fwhm),
                                               np.atleast_2d(kinds)):
            line = (k_row == PEAK_LINE) & np.isfinite(f_row)
            self.lines = {int(i) for i in id_row[line]}
            self.merges.update(merged_lines(f_row[line], id_row[line], w_row[line]))

    def sync_tracker(self, n_oscillators: int) -> SyncTracker:
        if self.sync is None:
            self.sync = SyncTracker(n_oscillators)
            self.sync.restore(getattr(self, "_counts", ()))
        return self.sync

    def background(self, background: np.ndarray | None, values: dict,
                   df: float) -> tuple[np.ndarray | None, BandPower | None]:
        """The recorded background with its noise averaged away, and the band-power meter
        against it (both made once per sweep)."""
        if background is None:
            return None, None
        if self._background is None or self._background[0] != id(background):
            smooth = smooth_background(background, df)
            meter = BandPower(smooth, values["rbw"], df, band_block(values), values["gain_db"])
            freq = values["f_start"] + df * np.arange(len(background))
            self.spurs = background_spurs(background, freq)
            self._background = (id(background), smooth, meter)
        return self._background[1], self._background[2]

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


def merged_lines(frequency: np.ndarray, ids: np.ndarray, fwhm: np.ndarray
                 ) -> list[tuple[int, float, float]]:
    """(id, frequency, fwhm) of the oscillator lines of a spectrum, peaks closer than
    10 MHz taken as one (the stronger is not known here: the first in frequency order)."""
    order = np.argsort(frequency, kind="stable")
    out: list[tuple[int, float, float]] = []
    for k in order.tolist():
        f = float(frequency[k])
        if out and f - out[-1][1] < _MERGE_DISTANCE:
            continue
        out.append((int(ids[k]), f, float(fwhm[k])))
    return out


def peak_kinds(peaks: list[Peak], max_linewidth: float, ids: list[int] | None = None,
               was_line: set[int] = frozenset()) -> list[int]:
    """PEAK_LINE, PEAK_SIDEBAND or PEAK_THERMAL for each fitted peak.

    A peak broader than ``max_linewidth`` is a thermal (sub-threshold) peak, unless it
    continues a line of the previous spectrum (tracked id in ``was_line``): close to a
    locking edge beating lines broaden, and their blend is still oscillators.
    """
    ids = ids if ids is not None else [-1] * len(peaks)

    def broad(k: int, p: Peak) -> bool:
        limit = _EDGE_WIDTHS * max_linewidth if ids[k] in was_line else max_linewidth
        return p.fwhm > limit

    narrow = [k for k, p in enumerate(peaks) if not broad(k, p)]
    side = {narrow[j] for j in sidebands([peaks[k] for k in narrow])}
    return [PEAK_THERMAL if broad(k, p) else PEAK_SIDEBAND if k in side else PEAK_LINE
            for k, p in enumerate(peaks)]


def analyse_spectrum(freq, trace, values: dict, tracker: PeakTracker,
                     background: np.ndarray | None) -> dict:
    """Fit, track and classify one spectrum; the peak quantities of one row."""
    df = (float(freq[-1]) - float(freq[0])) / max(freq.size - 1, 1)
    bg, meter = tracker.background(background, values, df)
    peaks = fit_spectrum(freq, trace, values["rbw"], gain_db=values["gain_db"],
                         background_dbm=bg, max_peaks=MAX_PEAKS,
                         min_snr_db=values["min_snr_db"])
    ids = tracker.assign(peaks)
    kinds = peak_kinds(peaks, values["max_linewidth"], ids, tracker.lines)
    # a narrow peak at a spur of the background is what is left of the spur (there the
    # background is subtracted as measured, with its noise)
    rbw = values["rbw"]
    near = 0.5 * SMOOTH_SPAN + _SPUR_WIDTHS * rbw
    kinds = [PEAK_SPUR if p.fwhm < _SPUR_WIDTHS * rbw and any(
        abs(p.frequency - f) < near for f in tracker.spurs) else k
        for p, k in zip(peaks, kinds)]
    tracker.lines = {i for i, k in zip(ids, kinds) if k == PEAK_LINE}
    values_of = np.full((6, MAX_PEAKS), np.nan)
    n_fit = min(len(peaks), MAX_PEAKS)
    if n_fit:
        values_of[:, :n_fit] = np.array(
            [(p.frequency, p.frequency_err, p.fwhm, p.fwhm_err, p.integrated_power,
              p.power_err) for p in peaks[:MAX_PEAKS]]).T
    row = dict(zip(("peak_frequency", "peak_fwhm", "peak_power"), values_of[0::2]))
    row["peak_uncertainty"] = values_of[1::2].T.copy()
    row["peak_id"] = np.full(MAX_PEAKS, -1, dtype=np.int64)
    row["peak_kind"] = np.full(MAX_PEAKS, -1, dtype=np.int8)
    row["peak_id"][:n_fit] = ids[:n_fit]
    row["peak_kind"][:n_fit] = kinds[:n_fit]
    # broad sub-threshold (thermal) peaks and modulation sidebands are not oscillator lines;
    # two lines blurred into one while they beat at a locking edge are still two
    line = [k == PEAK_LINE for k in kinds]
    n = tracker.merges.update(merged_lines(
        np.array([p.frequency for p, ok in zip(peaks, line) if ok]),
        np.array([i for i, ok in zip(ids, line) if ok]),
        np.array([p.fwhm for p, ok in zip(peaks, line) if ok])))
    row["n_lines"] = n
    row["sync_state"] = SYNC_CODES[tracker.sync_tracker(values["n_oscillators"]).update(n)]
    row["total_power"] = float(sum(p.integrated_power for p in peaks)) if peaks else 0.0
    if meter is None:  # no background recorded: the trace's own floor, piecewise
        meter = BandPower(estimate_background(trace, segments=16), values["rbw"], df,
                          band_block(values), values["gain_db"])
    row["excess_power"] = meter(trace).astype(np.float32)
    return row


def floor_bands(background: np.ndarray | None, values: dict) -> np.ndarray | None:
    """Power of the (smoothed) background per coarse band, W at the device (None without)."""
    if background is None or not len(background):
        return None
    df = (values["f_stop"] - values["f_start"]) / max(values["points"] - 1, 1)
    smooth = smooth_background(np.asarray(background, dtype=float), df)
    return excess_profile(smooth, -math.inf, values["rbw"], df, band_block(values),
                          values["gain_db"], flatten=False)


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
            recorded = self.ctx.recorded
            self.tracker.restore(recorded("peak_frequency")[row:], recorded("peak_id")[row:],
                                 recorded("n_lines")[row:], recorded("peak_fwhm")[row:],
                                 recorded("peak_kind")[row:])

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
        vbw = video_bandwidth(values)
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
            SpectrumSweep.plan_measure(plan, values, readings=0, settle=False, field=False)

    @staticmethod
    def plan_measure(plan: Plan, values: dict, readings: int = 1, settle: bool = True,
                     field: bool = True) -> None:
        """One step of :meth:`measure`: settle, ``readings`` source-meter readings, a spectrum,
        the field read back (``field``)."""
        if settle:
            plan.wait(values["settle"], "settle")
        plan.readings(readings)
        if field:
            plan.field_reading()
        plan.sweep(values["f_start"], values["f_stop"], values["points"], values["rbw"],
                   video_bandwidth(values), values["averages"])
