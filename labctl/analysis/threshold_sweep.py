"""The threshold current of a recorded frequency–current sweep, with a verdict on its quality.

Input: per current step the excess power in coarse frequency bands (analysis.spectra.
excess_profile) and the fitted peaks. The power is summed over the bands around every line
the sweep found (lines move with current, and a faint line near threshold need not be
detected where it is summed), its noise is taken from the bands far from any line, and
threshold.threshold_from_power fits the onset. The sub-threshold thermal peak is used as a
cross-check only where the fit resolved it at enough currents. The verdict says in words
why a number should not be trusted, so a report never shows a bad threshold like a good one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labctl.analysis.threshold import threshold_from_inverse_power, threshold_from_power

WINDOW_WIDTHS = 6.0  # bands within this many linewidths of a line are summed ...
WINDOW_MIN = 150e6  # ... and at least this far (Hz): a faint line near threshold is broad
WINDOW_MAX = 300e6  # ... and at most (two lines blurred while beating fit very broad)
PEAK_LINE, PEAK_SIDEBAND, PEAK_THERMAL, PEAK_SPUR = 0, 1, 2, 3  # peak kinds as recorded
_MAD = 1.4826  # σ of a normal distribution per median absolute deviation
_MIN_THERMAL = 4  # sub-threshold currents with a resolved thermal peak for the 1/P check
REL_UNCERTAIN, REL_UNRELIABLE = 0.03, 0.08  # 1 σ / I_th beyond which the verdict drops
GOOD, UNCERTAIN, UNRELIABLE = "good", "uncertain", "unreliable"
_RANK = {GOOD: 0, UNCERTAIN: 1, UNRELIABLE: 2}


@dataclass
class ThresholdReport:
    """What a sweep says about I_th: the value, its 1 σ, the verdict and the reasons."""

    i_th: float = math.nan  # A
    i_th_err: float = math.nan  # A, 1 σ
    quality: str = UNRELIABLE
    reasons: list[str] = field(default_factory=list)  # why the verdict is not "good"
    notes: list[str] = field(default_factory=list)  # what else a reader should know
    method: str = "integrated power above threshold"
    crosscheck: dict = field(default_factory=dict)  # other estimates: name -> (A, 1 σ A)

    def downgrade(self, quality: str, reason: str) -> None:
        if _RANK[quality] > _RANK[self.quality]:
            self.quality = quality
        self.reasons.append(reason)

    def as_results(self) -> dict:
        out = {"threshold_quality": self.quality, "threshold_method": self.method,
               "threshold_notes": list(self.reasons), "threshold_info": list(self.notes)}
        if math.isfinite(self.i_th):
            out.update(threshold_current=self.i_th, threshold_current_err=self.i_th_err)
        for name, (value, err) in self.crosscheck.items():
            out[f"threshold_{name}"] = value
            out[f"threshold_{name}_err"] = err
        return out


def line_window(band_centres: np.ndarray, peak_frequency: np.ndarray, peak_fwhm: np.ndarray,
                peak_kind: np.ndarray) -> np.ndarray:
    """Bands near any line or sideband of the sweep (rows × slots of fitted peaks)."""
    f = np.asarray(peak_frequency, dtype=float).ravel()
    w = np.asarray(peak_fwhm, dtype=float).ravel()
    k = np.asarray(peak_kind).ravel()
    use = np.isfinite(f) & np.isfinite(w) & ((k == PEAK_LINE) | (k == PEAK_SIDEBAND))
    centres = f[use]
    reach = np.minimum(np.maximum(WINDOW_WIDTHS * w[use], WINDOW_MIN), WINDOW_MAX)
    inside = np.zeros(band_centres.size, dtype=bool)
    # most lines share the narrowest window, and a line is fitted again at every step: per
    # window, a band is inside if its nearest line on either side is (the rounded |b - c|
    # grows with the distance, so the nearest decides exactly)
    for half in np.unique(reach):
        lines = np.sort(centres[reach == half])
        right = np.searchsorted(lines, band_centres).clip(0, lines.size - 1)
        left = (right - 1).clip(0, lines.size - 1)
        inside |= np.abs(band_centres - lines[left]) < half
        inside |= np.abs(band_centres - lines[right]) < half
    return inside


def window_power(excess: np.ndarray, floor: np.ndarray | None, inside: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(power summed over the window, its 1 σ) per row; ``excess`` is rows × bands (W).

    The noise of a band is proportional to the power in it (a constant scatter in dB), so
    a band's σ is r·(floor + excess), r measured from the bands outside the window. Without
    a floor (no background recorded) the outside bands' scatter is used as it is.
    """
    e = np.asarray(excess, dtype=float)
    lines = e[:, inside]
    power = lines.sum(axis=1)
    outside = ~inside
    if not outside.any():
        raise ValueError("lines everywhere: no band left to measure the noise on")
    if floor is None:
        sigma_band = _MAD * _mad(e[:, outside])
        return power, np.full(power.size, sigma_band * math.sqrt(inside.sum()))
    f = np.asarray(floor, dtype=float)
    rel = e[:, outside]
    rel /= f[outside]
    r = _MAD * _mad(rel)
    np.maximum(lines, 0.0, out=lines)
    lines += f[inside]
    sigma = r * np.sqrt((lines**2).sum(axis=1))
    return power, sigma


_MAD_SAMPLES = 50_000  # an evenly thinned sample this large pins the MAD to ~0.5 %


def _mad(values: np.ndarray) -> float:
    """Median absolute deviation of ``values`` (an array of its own: overwritten)."""
    if values.size > 2 * _MAD_SAMPLES:  # a sweep's rows x bands: 10^5-10^6 values
        values = values.ravel()[:: values.size // _MAD_SAMPLES]
    # the first median may reorder the array too: only its set of values matters after
    values -= np.median(values, overwrite_input=True)
    np.abs(values, out=values)
    return float(np.median(values, overwrite_input=True))


def threshold_of_sweep(currents, excess, band_centres, floor, peak_frequency, peak_fwhm,
                       peak_kind, peak_power) -> ThresholdReport:
    """I_th of a frequency–current sweep with its uncertainty, cross-checks and verdict."""
    report = ThresholdReport()
    x = np.asarray(currents, dtype=float)
    if x.size < 6:
        report.reasons.append(f"only {x.size} current steps measured")
        return report
    inside = line_window(np.asarray(band_centres, dtype=float), peak_frequency, peak_fwhm,
                         peak_kind)
    if not inside.any():
        report.reasons.append("no oscillator line found at any current")
        return report
    try:
        power, sigma = window_power(excess, floor, inside)
        fit = threshold_from_power(x, power, sigma)
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        report.reasons.append(f"the power fit failed: {err}")
        return report
    report.i_th, report.i_th_err, report.quality = fit.i_th, fit.i_th_err, GOOD
    lo, hi = float(np.min(np.abs(x))), float(np.max(np.abs(x)))
    step = float(np.median(np.diff(np.unique(np.abs(x))))) if x.size > 1 else math.inf
    rel = fit.i_th_err / fit.i_th if fit.i_th > 0 else math.inf
    # the background was taken out, so below threshold the power is zero within its noise
    lowest = int(np.argmin(np.abs(x)))
    if power[lowest] > max(5.0 * sigma[lowest], 0.05 * float(np.max(power))):
        report.downgrade(UNRELIABLE, f"the sweep starts above threshold: at "
                         f"{abs(x[lowest]) * 1e3:.3f} mA the lines already carry "
                         f"{power[lowest] / sigma[lowest]:.0f} sigma of power")
    if not lo + step <= fit.i_th <= hi - 2 * step:
        report.downgrade(UNRELIABLE, f"the onset at {fit.i_th * 1e3:.3f} mA is at the edge of "
                         f"the swept range {lo * 1e3:.3f}-{hi * 1e3:.3f} mA")
    if not rel < REL_UNRELIABLE:
        report.downgrade(UNRELIABLE, f"uncertainty {rel:.0%} of the value")
    elif rel > REL_UNCERTAIN:
        report.downgrade(UNCERTAIN, f"uncertainty {rel:.1%} of the value")
    if fit.n_above < 5:
        report.downgrade(UNRELIABLE, f"only {fit.n_above} current steps above threshold")
    if fit.n_below < 3:
        report.downgrade(UNCERTAIN, f"only {fit.n_below} current steps below threshold: the "
                         "onset was not approached from below")
    if fit.significance < 10:
        report.downgrade(UNCERTAIN, f"the lines are barely above the noise "
                         f"({fit.significance:.0f} sigma at most)")
    if fit.chi2_red > 3:
        report.downgrade(UNCERTAIN, f"the power does not follow the universal model "
                         f"(reduced chi2 {fit.chi2_red:.1f})")
    if step > 0.05 * fit.i_th:
        report.downgrade(UNCERTAIN, f"current step {step * 1e6:.0f} uA is coarse for an "
                         "onset this sharp")
    _thermal_crosscheck(report, x, peak_kind, peak_power, fit.i_th)
    return report


def _thermal_crosscheck(report: ThresholdReport, x: np.ndarray, peak_kind, peak_power,
                        i_th: float) -> None:
    """1/P of the sub-threshold thermal peak, where the fit resolved it at enough currents."""
    kinds = np.asarray(peak_kind)
    powers = np.where(kinds == PEAK_THERMAL, np.nan_to_num(np.asarray(peak_power,
                                                                      dtype=float)), 0.0)
    total = powers.sum(axis=1)
    below = (total > 0) & (np.abs(x) < i_th) & ~np.any(kinds == PEAK_LINE, axis=1)
    if np.count_nonzero(below) < _MIN_THERMAL:
        report.notes.append("the sub-threshold thermal peak was not resolved (no 1/P "
                            "cross-check)")
        return
    try:
        fit = threshold_from_inverse_power(np.abs(x), total, below=below)
    except (ValueError, np.linalg.LinAlgError):
        return
    report.crosscheck["inverse_power"] = (fit.i_th, fit.i_th_err)
    combined = math.hypot(report.i_th_err, fit.i_th_err)
    if math.isfinite(combined) and abs(fit.i_th - report.i_th) > 3 * combined:
        report.downgrade(UNCERTAIN, f"1/P of the thermal peak points to "
                         f"{fit.i_th * 1e3:.3f} mA")
