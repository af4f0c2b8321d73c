"""Multi-Lorentzian fit of spectrum-analyzer traces (PHYSICS.md §4, §6).

The fit works in dB because analyzer trace noise is close to Gaussian in dB with a constant
scatter (≈5.6 dB/√averages), so unweighted least squares in dB is the right criterion and
the floor and the top of a line count alike. Speed matters (≥1000 spectra/s for the
frequency–current maps), hence: detection on block-averaged traces at two scales (a trace
with nothing above the threshold ends there), then one joint Levenberg–Marquardt fit on
windows decimated to a few points per linewidth, started from interpolated tops and
stopped as soon as a step gains less than noise; the floor correction for the lines'
wings follows from the fit's last linearised system instead of a second fit. Every
numpy call costs ~1 µs on these small arrays, so the code counts calls, not flops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg.lapack import dgesv as _dgesv

from labctl.analysis.line_detection import DB as _DB
from labctl.analysis.line_detection import Z_DETECT as _Z_DETECT
from labctl.analysis.line_detection import detect_candidates as _detect
from labctl.analysis.spectra import dbm_to_psd

_WINDOW = 3.0  # fit window half-width in (starting) linewidths
_POINTS_PER_WIDTH = 6  # decimation keeps this many points per linewidth in the fit
_MAX_ITER = 8
_CHI2_TOLERANCE = 0.3  # χ² decrease (noise units) not worth another iteration
_BLIND_STEP = 1.0  # promised χ² decrease below which a step is taken without checking it
_FLOOR_SAMPLES = 500  # trace points used to re-estimate the floor under the wings
_FLOOR_TOLERANCE_DB = 0.1  # floor error below which a refit is not worth its time
_MAX_REFIT_ITER = 1
_MIN_WIDTH_RBW = 0.5  # a line seen through the RBW filter is never narrower
# FWHM, in RBW, of a CW tone drawn as the Lorentzian of the same peak and area as the
# Gaussian RBW filter shows it: 2 * 1.06 / pi (the noise bandwidth is 1.06 RBW)
_DISPLAY_WIDTH = 2.0 * 1.06 / math.pi


@dataclass(frozen=True)
class Peak:
    """One spectral line; powers at the device (gain removed), background subtracted.

    The uncertainties (1 σ) come from the fit's covariance, scaled up by its reduced χ² where
    the noise is larger than the weights assumed (points closer than the RBW are correlated).
    """

    frequency: float  # Hz, centre
    fwhm: float  # Hz, RBW deconvolved where the line is wider than the RBW
    peak_psd: float  # W/Hz, as seen through the RBW filter
    integrated_power: float  # W
    snr_db: float  # height of the line top above the floor, dB
    frequency_err: float = math.nan  # Hz
    fwhm_err: float = math.nan  # Hz
    power_err: float = math.nan  # W, of the integrated power


def _fit_windows(rel: np.ndarray, df: float, rbw: float, cands: list[tuple[float, float, float]],
                 f0: float, offset: float, sigma: float):
    """Decimated samples covering every candidate: x (RBW units from ``f0``), dB above
    ``offset``, and weights (1/σ of each sample)."""
    spans = sorted((c - _WINDOW * w - 4 * df, c + _WINDOW * w + 4 * df, w) for c, w, _ in cands)
    segs: list[list[float]] = []
    for a, b, w in spans:
        if segs and a <= segs[-1][1]:
            segs[-1][1] = max(segs[-1][1], b)
            segs[-1][2] = min(segs[-1][2], w)
        else:
            segs.append([a, b, w])
    pieces, steps, ends = [], [], []
    total = 0
    for a, b, w in segs:
        ia = max(0, int((a - f0) / df))
        ib = min(rel.size, int((b - f0) / df) + 1)
        q = max(1, int(w / (_POINTS_PER_WIDTH * df)))
        m = (ib - ia) // q
        if m < 1:
            continue
        # Block starts, then the block's end: the sums between windows are thrown away.
        pieces.append(np.arange(ia, ia + m * q + 1, q))
        steps.append(q)
        total += m
        ends.append(total)
        total += 1
    if len(pieces) == 1:
        idx, q = pieces[0], steps[0]
        yy = np.add.reduceat(rel[:idx[-1]], idx[:-1]) if q > 1 else rel[idx[0]:idx[-1]].copy()
        idx = idx[:-1]
        if q > 1:
            yy *= 1.0 / q
        x = idx * (df / rbw)
        x += 0.5 * (q - 1) * df / rbw
        if offset:
            yy -= offset
        return x, yy, np.full(yy.size, math.sqrt(q) / sigma)  # block means are √q less noisy
    idx = np.concatenate(pieces)
    sums = np.add.reduceat(rel[:idx[-1]], idx[:-1])
    keep = np.ones(sums.size, dtype=bool)
    keep[ends[:-1]] = False
    yy = sums[keep]
    idx = idx[:-1][keep]
    if min(steps) == max(steps):
        q = steps[0]
        if q > 1:
            yy *= 1.0 / q
        wt = np.full(yy.size, math.sqrt(q) / sigma)
        x = idx + 0.5 * (q - 1)
    else:
        qv = np.repeat(np.array(steps, dtype=float),
                       [e - s for e, s in zip(ends, [0] + [e + 1 for e in ends[:-1]])])
        yy /= qv
        wt = np.sqrt(qv)
        wt *= 1.0 / sigma
        qv -= 1.0
        qv *= 0.5
        x = idx + qv
    if offset:
        yy -= offset
    x *= df / rbw
    return x, yy, wt


def _evaluate(x: np.ndarray, yw: np.ndarray, wdb: np.ndarray, p: np.ndarray, wmin: float):
    """Weighted residual, χ², and the pieces of the model the Jacobian reuses.

    ``p`` is (3, lines, 1): ln A, x0, ln(w − wmin); ``yw`` the data times the weights and
    ``wdb`` the weights in dB per neper.
    """
    g = np.exp(p[2])
    g += wmin
    np.divide(2.0, g, out=g)  # 2 / width
    u = x - p[1]
    u *= g
    usq = u * u
    lor = usq + 1.0
    np.reciprocal(lor, out=lor)
    comp = lor * np.exp(p[0])
    total = comp.sum(axis=0) if comp.shape[0] > 1 else comp[0] + 1.0
    if comp.shape[0] > 1:
        total += 1.0
    r = np.log(total)
    r *= wdb
    np.subtract(yw, r, out=r)
    return r, float(r @ r), (total, comp, lor, u, usq, g)


class _Linearised:
    """The fit's last Gauss–Newton system, to follow a small change of the data cheaply."""

    def __init__(self, p, jac, r, a, lower, upper):
        self.p, self.jac, self.r, self.a = p, jac, r, a
        self.lower, self.upper = lower, upper

    def step(self, dy: np.ndarray) -> np.ndarray | None:
        """Parameter rows after adding ``dy`` (weighted) to the data, or None if singular."""
        _, _, step, info = _dgesv(self.a, self.jac @ (self.r + dy))
        if info != 0:
            return None
        p = self.p + step.reshape(self.p.shape)
        np.maximum(p, self.lower, out=p)
        np.minimum(p, self.upper, out=p)
        return p[:, :, 0].T


def _levenberg_marquardt(x: np.ndarray, y: np.ndarray, wt: np.ndarray, p: np.ndarray,
                         wmin: float, max_iter: int = _MAX_ITER
                         ) -> tuple[np.ndarray, np.ndarray, _Linearised | None,
                                    tuple[np.ndarray, float]]:
    """Weighted least squares of y (dB) against 10·log10(1 + Σ Lorentzians) over x.

    Rows of ``p`` are (ln A, x0, ln(w − wmin)): the RBW filter makes narrower lines unphysical.
    Also returns, per line, how much χ² would grow without it (its significance), the
    linearised problem of the last step (None if the fit stalled), and the last normal
    matrix JᵀJ with the reduced χ² (the covariance of the parameter rows).

    The weights make χ² count in units of the noise, so iterating stops once a step gains
    less than _CHI2_TOLERANCE, or promises less than _BLIND_STEP: so close to the minimum
    the linearised model is accurate and the step is taken without evaluating it, as is
    the last one allowed.
    """
    kk = p.shape[0]
    nn = 3 * kk
    # Bounds keep a wild step finite: amplitude 1e-4…1e9 × floor, width up to twice the span.
    xmin, xmax = float(x[0]), float(x[-1])
    lower = np.array([-9.0, xmin, -7.0])[:, None, None]
    upper = np.array([21.0, xmax, math.log(2.0 * (xmax - xmin) + 1.0)])[:, None, None]
    p = np.minimum(np.maximum(p.T[:, :, None], lower), upper)
    wdb = _DB * wt
    yw = y * wt
    r, cost, parts = _evaluate(x, yw, wdb, p, wmin)
    lam = 1e-3
    jac = np.empty((3, kk, x.size))
    jflat = jac.reshape(nn, x.size)
    linear = None
    for it in range(max_iter):
        total, comp, lor, u, usq, g = parts
        np.multiply(comp, wdb / total, out=jac[0])
        cl = jac[0] * lor
        np.multiply(cl, u, out=jac[1])
        jac[1] *= g + g
        np.multiply(cl, usq, out=jac[2])
        jac[2] *= 2.0 - wmin * g
        jtj = jflat @ jflat.T
        jtr = jflat @ r
        improved = last = False
        for _ in range(6):
            a = jtj.copy()
            a.flat[:: nn + 1] *= 1.0 + lam
            a.flat[:: nn + 1] += 1e-9  # a component that vanished leaves a zero row
            _, _, step, info = _dgesv(a, jtr)
            if info == 0:
                trial = p + step.reshape(3, kk, 1)
                np.maximum(trial, lower, out=trial)
                np.minimum(trial, upper, out=trial)
                # χ² decrease the linearised model promises for this step (≈, damped).
                if it == max_iter - 1 or float(step @ jtr) < _BLIND_STEP:
                    last = True
                    break
                t_r, t_cost, t_parts = _evaluate(x, yw, wdb, trial, wmin)
                if t_cost <= cost:  # False for NaN as well
                    improved = True
                    break
            lam *= 8.0
        if last:
            linear = _Linearised(p, jflat, r, a, lower, upper)
            p = trial
            break
        if not improved:
            break
        gained = cost - t_cost
        if gained < _CHI2_TOLERANCE:
            linear = _Linearised(p, jflat, r, a, lower, upper)
            p, cost, parts = trial, t_cost, t_parts
            break
        p, r, cost, parts = trial, t_r, t_cost, t_parts
        lam = max(lam / 5.0, 1e-9)
    total, comp = parts[0], parts[1]
    stats = (jtj, cost / max(x.size - nn, 1))
    if kk == 1:
        return p[:, :, 0].T, np.array([float(yw @ yw) - cost]), linear, stats
    without = np.log(total - comp)
    without *= wdb
    np.subtract(yw, without, out=without)
    return p[:, :, 0].T, np.einsum("ij,ij->i", without, without) - cost, linear, stats


def fit_spectrum(freq: np.ndarray, trace_dbm: np.ndarray, rbw: float, gain_db: float = 0.0,
                 background_dbm: np.ndarray | float | None = None, max_peaks: int = 8,
                 min_snr_db: float = 3.0, merge_distance: float = 10e6) -> list[Peak]:
    """Lorentzian lines of a trace (dBm per ``rbw`` Hz), sorted by frequency.

    Without ``background_dbm`` the floor is the trace's robust median. Lines closer than
    ``merge_distance`` (Hz) count as one; lines lower than ``min_snr_db`` are dropped.
    """
    freq = np.asarray(freq, dtype=float)
    trace = np.asarray(trace_dbm)
    if freq.shape != trace.shape or trace.ndim != 1 or trace.size < 16:
        raise ValueError(f"freq and trace_dbm must be equal 1-D arrays of >= 16 points, "
                         f"got {freq.shape} and {trace.shape}")
    f0 = float(freq[0])
    df = (float(freq[-1]) - f0) / (freq.size - 1)
    if background_dbm is None:
        bg: np.ndarray | float = 0.0
        rel = y = trace.astype(float)
    else:
        bg = np.asarray(background_dbm, dtype=float)
        if bg.ndim == 0:
            bg = float(bg)
        elif bg.shape != trace.shape:
            bg = np.broadcast_to(bg, trace.shape)
        # in float64 as the trace converted first would be, without that copy (exact: a
        # float32 widens to float64 without rounding)
        rel = np.subtract(trace, bg, dtype=float)
        y = trace
    if not math.isfinite(float(rel.sum())):  # cheaper than np.isfinite(rel).all()
        # Unreadable points (NaN, ±inf) read as the lowest valid level of the trace.
        y = np.asarray(y, dtype=float)
        lowest = np.nanmin(np.where(np.isfinite(y), y, np.inf))
        y = np.where(np.isfinite(y), y, lowest)
        rel = y if background_dbm is None else y - bg
        if not math.isfinite(float(rel.sum())):  # the background trace is at fault
            rel = np.where(np.isfinite(rel), rel, np.nanmin(np.where(np.isfinite(rel), rel,
                                                                     np.inf)))
    cands, starts, offset, sigma = _detect(rel, freq, df, rbw, min_snr_db, merge_distance,
                                           max_peaks)
    if not cands:
        return []
    if background_dbm is None:
        bg = offset  # the median floor found while detecting
    peaks: list[Peak] = []
    refine_floor = background_dbm is None
    while cands:
        x, yy, wt = _fit_windows(rel, df, rbw, cands, f0, bg if background_dbm is None else 0.0,
                                 sigma)
        # Frequencies in RBW units from the trace start keep the normal equations well scaled.
        p = np.array([[math.log(max(a, 1e-3)), (c - f0) / rbw,
                       math.log(max(w / rbw - _MIN_WIDTH_RBW, 0.1))] for c, w, a in starts])
        p, gain, linear, stats = _levenberg_marquardt(x, yy, wt, p, _MIN_WIDTH_RBW)
        if refine_floor:
            refine_floor = False
            shift = _wing_corrected_floor(freq, y, _natural(p, f0, rbw))
            if abs(shift) > _FLOOR_TOLERANCE_DB:
                # The data rise by -shift: the last Gauss–Newton system follows that for free.
                bg += shift
                moved = linear.step(-shift * wt) if linear is not None else None
                if moved is not None:
                    p = moved
                else:
                    # Same line tops measured from the lower floor; a few steps from there.
                    yy = yy - shift
                    tops = (1.0 + np.exp(p[:, 0])) * math.exp(-shift / _DB) - 1.0
                    p[:, 0] = np.log(np.maximum(tops, 1e-3))
                    p, gain, _, stats = _levenberg_marquardt(x, yy, wt, p, _MIN_WIDTH_RBW,
                                                             _MAX_REFIT_ITER)
        fitted = _natural(p, f0, rbw)
        peaks, drop = _to_peaks(fitted, gain.tolist(), cands, freq, df, bg, rbw, gain_db,
                                min_snr_db, merge_distance, _errors(p, stats, rbw))
        if not drop:
            break
        # A duplicate or runaway component: refit without it, from the current estimates.
        cands = starts = [c for n, c in enumerate(fitted) if n not in drop]
    return peaks


def _natural(p: np.ndarray, f0: float, rbw: float) -> list[tuple[float, float, float]]:
    """(centre Hz, FWHM Hz, excess over the floor) from the fit's parameter rows."""
    return [(f0 + c * rbw, rbw * (_MIN_WIDTH_RBW + math.exp(lw)), math.exp(la))
            for la, c, lw in p.tolist()]


def _wing_corrected_floor(freq: np.ndarray, y: np.ndarray,
                          fitted: list[tuple[float, float, float]]) -> float:
    """How far the floor (dB) drops once the fitted lines are taken out of the trace.

    Lorentzian wings fall off slowly: a line 30 dB up and 5 MHz wide still lifts the trace
    by 0.5 dB 230 MHz away, and so lifts the median that served as first floor estimate.
    """
    step = max(1, freq.size // _FLOOR_SAMPLES)
    c, w, a = np.array(fitted).T[:, :, None]
    u = freq[::step] - c
    u *= 2.0 / w
    u *= u
    u += 1.0
    np.divide(a, u, out=u)
    excess = u.sum(axis=0) if u.shape[0] > 1 else u[0]
    # The difference of two medians of the same samples is free of their sampling noise.
    sample = y[::step].copy()
    k = sample.size // 2
    corrected = np.log1p(excess)
    corrected *= -_DB
    corrected += sample
    corrected.partition(k)
    sample.partition(k)
    return float(corrected[k] - sample[k])


@lru_cache(maxsize=32)
def _eye(n: int) -> np.ndarray:
    eye = np.eye(n)
    eye.flags.writeable = False
    return eye


def _errors(p: np.ndarray, stats: tuple[np.ndarray, float], rbw: float
            ) -> list[tuple[float, float, float]]:
    """1 σ of (centre Hz, fitted width Hz, relative integrated power) of each line."""
    jtj, chi2_red = stats
    kk = p.shape[0]
    # the LAPACK solve np.linalg.inv ends in, without its per-call wrapping
    _, _, cov, info = _dgesv(jtj, _eye(3 * kk))
    if info != 0:
        return [(math.nan, math.nan, math.nan)] * kk
    cov *= max(1.0, chi2_red)
    var = np.diag(cov)
    out = []
    for n, (_, _, lw) in enumerate(p.tolist()):
        e = math.exp(lw)
        dlw = e / (_MIN_WIDTH_RBW + e)  # d ln(width) / d lw
        rel_p = var[n] + dlw * dlw * var[2 * kk + n] + 2.0 * dlw * cov[n, 2 * kk + n]
        out.append((rbw * math.sqrt(max(var[kk + n], 0.0)),
                    rbw * e * math.sqrt(max(var[2 * kk + n], 0.0)),
                    math.sqrt(max(rel_p, 0.0))))
    return out


def _to_peaks(fitted: list[tuple[float, float, float]], gain: list[float],
              cands: list[tuple[float, float, float]], freq: np.ndarray, df: float,
              bg: np.ndarray | float, rbw: float, gain_db: float, min_snr_db: float,
              merge_distance: float, errors: list[tuple[float, float, float]]
              ) -> tuple[list[Peak], set[int]]:
    """Peaks from fitted (centre, width, excess), and components to refit without."""
    drop: set[int] = set()
    faint: set[int] = set()
    span = float(freq[-1] - freq[0])
    for n, ((fc, w, amp), (c0, w0, _)) in enumerate(zip(fitted, cands)):
        # Insignificant components are noise the fit latched onto, typically one high
        # reading in the wing of a strong line.
        if not (math.isfinite(fc) and math.isfinite(w) and math.isfinite(amp)) \
                or abs(fc - c0) > _WINDOW * w0 or w > span or not gain[n] > _Z_DETECT ** 2:
            drop.add(n)
        elif 10 * math.log10(1 + amp) < min_snr_db:
            faint.add(n)  # fitted, so its wings are accounted for, but not reported
    order = sorted((n for n in range(len(fitted)) if n not in drop), key=lambda n: fitted[n][0])
    kept: list[int] = []
    for n in order:
        if kept and fitted[n][0] - fitted[kept[-1]][0] < merge_distance:
            last = kept[-1]
            # Two components on one line: keep the one carrying more power.
            if fitted[n][1] * fitted[n][2] > fitted[last][1] * fitted[last][2]:
                drop.add(last)
                kept[-1] = n
            else:
                drop.add(n)
        else:
            kept.append(n)
    if drop:
        return [], drop
    peaks = []
    f0 = float(freq[0])
    for n in kept:
        if n in faint:
            continue
        fc, width, amp = fitted[n]
        if isinstance(bg, float):
            floor_dbm = bg
        else:  # linear interpolation on the uniform grid, as np.interp would
            t = min(max((fc - f0) / df, 0.0), freq.size - 1.0)
            j = min(int(t), freq.size - 2)
            floor_dbm = float(bg[j]) + (t - j) * float(bg[j + 1] - bg[j])
        peak_psd = amp * dbm_to_psd(floor_dbm, rbw, gain_db)
        # the RBW filter widens a Lorentzian of equal area to sqrt(fwhm^2 + (c RBW)^2)
        narrow = _DISPLAY_WIDTH * rbw
        fwhm = math.sqrt(width * width - narrow * narrow) if width > 2 * narrow else width
        f_err, w_err, p_rel = errors[n]
        power = 0.5 * math.pi * peak_psd * width
        peaks.append(Peak(frequency=float(fc), fwhm=fwhm, peak_psd=peak_psd,
                          integrated_power=power, snr_db=10 * math.log10(1 + amp),
                          frequency_err=f_err, fwhm_err=w_err * width / fwhm,
                          power_err=power * p_rel))
    return peaks, set()
