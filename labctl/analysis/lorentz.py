"""Multi-Lorentzian fit of spectrum-analyzer traces (PHYSICS.md §4, §6).

The fit works in dB because analyzer trace noise is close to Gaussian in dB with a constant
scatter (≈5.6 dB/√averages), so unweighted least squares in dB is the right criterion and
the floor and the top of a line count alike. Speed matters (≥1000 spectra/s for the
frequency–current maps), hence: detection on block-averaged traces at two scales, then one
joint Levenberg–Marquardt fit on windows decimated to a few points per linewidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgesv as _dgesv

from labctl.analysis.spectra import dbm_to_psd, floor_statistics

_DB = 10.0 / math.log(10.0)  # dB per neper of power
_Z_DETECT = 5.0  # detection threshold in σ of the averaged trace: ~1e-7 false alarms/point
_Z_PROMINENCE = 4.0  # dip needed between two maxima to call them two lines
_COARSE = 4  # second detection scale, in blocks of the first: catches broad, faint lines
_WINDOW = 3.0  # fit window half-width in (starting) linewidths
_POINTS_PER_WIDTH = 6  # decimation keeps this many points per linewidth in the fit
_MAX_ITER = 8
_FLOOR_SAMPLES = 500  # trace points used to re-estimate the floor under the wings
_FLOOR_TOLERANCE_DB = 0.1  # floor error below which a refit is not worth its time
_MAX_REFIT_ITER = 1
_WIDTH_SEARCH = 400  # samples searched either side of a maximum for its width
_MIN_WIDTH_RBW = 0.5  # a line seen through the RBW filter is never narrower
_RESOLVE = 0.6  # two equal Lorentzians show a dip only when more than 0.58 FWHM apart


@dataclass(frozen=True)
class Peak:
    """One spectral line; powers at the device (gain removed), background subtracted."""

    frequency: float  # Hz, centre
    fwhm: float  # Hz, RBW deconvolved where the line is wider than the RBW
    peak_psd: float  # W/Hz, as seen through the RBW filter
    integrated_power: float  # W
    snr_db: float  # height of the line top above the floor, dB


def _block_mean(y: np.ndarray, k: int) -> np.ndarray:
    m = y.size // k
    return np.add.reduceat(y[: m * k], np.arange(0, m * k, k)) / k


def _find_maxima(s: np.ndarray, height: float, prominence: float, min_sep: int) -> list[int]:
    """Indices of maxima of ``s`` (dB above the floor) over ``height``, separated by a dip.

    Stretches are cut where ``s`` dips by ``prominence`` below any admissible maximum;
    within a stretch each pair of maxima is tested for such a dip.
    """
    inner = np.flatnonzero((s[1:-1] > height) & (s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:])) + 1
    if inner.size == 0:
        return []
    low = np.flatnonzero(s <= height - prominence)
    stretch = np.searchsorted(low, inner)  # maxima with equal values share a stretch
    order = np.argsort(s[inner])[::-1]
    kept: list[tuple[int, int]] = []  # (index, stretch)
    for i, st in zip(inner[order].tolist(), stretch[order].tolist()):
        ok = True
        for k, kst in kept:
            if kst != st:
                continue
            lo, hi = (i, k) if i < k else (k, i)
            if hi - lo < min_sep or s[lo:hi + 1].min() > s[i] - prominence:
                ok = False
                break
        if ok:
            kept.append((i, st))
    return [i for i, _ in kept]


def _width(s: np.ndarray, i: int) -> float:
    """FWHM (in samples) of the line topping at ``s[i]`` (dB above a zero floor).

    Counting the samples above half height, out to where the line falls to a quarter, is
    far less sensitive to noise than the first half-height crossing on either side; the
    top is read from three samples because the maximum itself is lifted by noise.
    """
    excess = math.expm1(float(s[max(i - 1, 0):i + 2].mean()) / _DB)
    half = _DB * math.log1p(0.5 * excess)
    quarter = _DB * math.log1p(0.25 * excess)
    hi = min(s.size, i + _WIDTH_SEARCH)
    lo = max(0, i - _WIDTH_SEARCH)
    right = s[i:hi] < quarter
    left = s[i:lo:-1] < quarter if i > lo else right[:0]
    r = int(np.argmax(right)) if right.size else 0
    hi = i + r if right.size and right[r] else hi
    m = int(np.argmax(left)) if left.size else 0
    lo = i - m + 1 if left.size and left[m] else lo
    return float(max(np.count_nonzero(s[lo:hi] > half), 1))


def _detect(rel: np.ndarray, freq: np.ndarray, df: float, rbw: float, min_snr_db: float,
            merge_distance: float, max_peaks: int
            ) -> tuple[list[tuple[float, float, float]], float, float]:
    """Candidate lines (centre, FWHM, linear excess), the floor offset and scatter (dB).

    ``rel`` is the trace in dB above the assumed floor; blocks of about one RBW are averaged
    first (neighbouring points within an RBW carry the same information anyway).
    """
    k1 = max(2, int(round(rbw / df)))
    s1 = _block_mean(rel, k1)
    floor, sig1 = floor_statistics(s1)
    s1 = s1 - floor
    sig1 = max(sig1, 1e-3)
    scales = [(s1, k1, sig1)]
    if s1.size >= 16 * _COARSE:
        # Blocks of one RBW are nearly independent, so σ falls as √(blocks averaged).
        scales.append((_block_mean(s1, _COARSE), k1 * _COARSE, sig1 / math.sqrt(_COARSE)))
    found: list[tuple[float, int, int]] = []  # height, index, scale
    heights = []
    for n, (s, k, sig) in enumerate(scales):
        heights.append(max(0.75 * min_snr_db, _Z_DETECT * sig))
        sep = max(1, int(merge_distance / (k * df)))
        found.extend((s[i], i, n)
                     for i in _find_maxima(s, heights[n], _Z_PROMINENCE * sig, sep))
    found.sort(reverse=True)
    chosen: list[tuple[float, float, float]] = []
    for top, i, n in found:
        s, k, _ = scales[n]
        centre = freq[min(i * k + k // 2, freq.size - 1)]
        if any(abs(centre - c) < merge_distance for c, _, _ in chosen):
            continue
        # The wings of a strong line reach far above the floor; a maximum must stand out
        # above them, not only above the floor.
        wings = sum(a / (1.0 + (2.0 * (centre - c) / w) ** 2) for c, w, a in chosen)
        if _DB * math.log1p(max(math.expm1(top / _DB) - wings, 0.0)) < heights[n]:
            continue
        fwhm = max(_width(s, i) * k * df, rbw)
        # Maxima closer than _RESOLVE linewidths are one line seen at two scales, or noise
        # on its top: without a dip between them no fit can tell them apart.
        if all(abs(centre - c) >= _RESOLVE * max(w, fwhm) for c, w, _ in chosen):
            chosen.append((centre, fwhm, math.expm1(top / _DB)))
            if len(chosen) == max_peaks:
                break
    return chosen, floor, sig1 * math.sqrt(k1)


def _fit_windows(rel: np.ndarray, freq: np.ndarray, df: float,
                 cands: list[tuple[float, float, float]], offset: float, sigma: float):
    """Decimated (frequency, dB above floor, weight) samples covering every candidate."""
    spans = sorted((c - _WINDOW * w - 4 * df, c + _WINDOW * w + 4 * df, w) for c, w, _ in cands)
    segs: list[list[float]] = []
    for a, b, w in spans:
        if segs and a <= segs[-1][1]:
            segs[-1][1] = max(segs[-1][1], b)
            segs[-1][2] = min(segs[-1][2], w)
        else:
            segs.append([a, b, w])
    fs, ys, ws = [], [], []
    f0 = freq[0]
    for a, b, w in segs:
        ia = max(0, int((a - f0) / df))
        ib = min(freq.size, int((b - f0) / df) + 1)
        q = max(1, int(w / (_POINTS_PER_WIDTH * df)))
        m = (ib - ia) // q
        if m < 1:
            continue
        ib = ia + m * q
        starts = np.arange(ia, ib, q)
        fs.append(np.add.reduceat(freq[ia:ib], starts - ia) / q)
        ys.append(np.add.reduceat(rel[ia:ib], starts - ia) / q - offset)
        ws.append(np.full(m, math.sqrt(q) / sigma))  # block means are √q less noisy
    return np.concatenate(fs), np.concatenate(ys), np.concatenate(ws)


def _residual(x: np.ndarray, y: np.ndarray, wt: np.ndarray, p: np.ndarray, wmin: float):
    """Weighted residual (dB) and the pieces of the model the Jacobian reuses."""
    width = wmin + np.exp(p[:, 2:3])
    u = 2.0 * (x - p[:, 1:2]) / width
    lor = 1.0 / (1.0 + u * u)
    comp = np.exp(p[:, 0:1]) * lor
    total = 1.0 + comp.sum(axis=0)
    r = (y - _DB * np.log(total)) * wt
    return r, float(r @ r), (total, comp, lor, u, width)


def _levenberg_marquardt(x: np.ndarray, y: np.ndarray, wt: np.ndarray, p: np.ndarray,
                         wmin: float, max_iter: int = _MAX_ITER) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of y (dB) against 10·log10(1 + Σ Lorentzians) over x.

    Rows of ``p`` are (ln A, x0, ln(w − wmin)): the RBW filter makes narrower lines unphysical.
    Also returns, per line, how much χ² would grow without it (its significance).
    """
    # Bounds keep a wild step finite: amplitude 1e-4…1e9 × floor, width up to twice the span.
    lower = np.array([-9.0, x.min(), -7.0])
    upper = np.array([21.0, x.max(), math.log(2.0 * (x.max() - x.min()) + 1.0)])
    p = np.clip(p, lower, upper)
    r, cost, parts = _residual(x, y, wt, p, wmin)
    lam = 1e-3
    kk = p.shape[0]
    jac = np.empty((3 * kk, x.size))
    for _ in range(max_iter):
        total, comp, lor, u, width = parts
        cg = comp * (_DB * wt / total)
        jac[0::3] = cg
        cg *= lor
        jac[1::3] = cg * (4.0 / width) * u
        jac[2::3] = cg * (2.0 * (1.0 - wmin / width)) * (u * u)
        jtj = jac @ jac.T
        jtr = jac @ r
        diag = jtj.diagonal().copy()
        diag[diag <= 0] = 1.0
        improved = False
        for _ in range(6):
            a = jtj.copy()
            a.flat[:: 3 * kk + 1] += lam * diag
            _, _, step, info = _dgesv(a, jtr)
            if info == 0:
                trial = np.clip(p + step.reshape(kk, 3), lower, upper)
                t_r, t_cost, t_parts = _residual(x, y, wt, trial, wmin)
                if t_cost <= cost:  # False for NaN as well
                    improved = True
                    break
            lam *= 8.0
        if not improved:
            break
        done = cost - t_cost < 1e-4 * cost + 1e-12
        p, r, cost, parts = trial, t_r, t_cost, t_parts
        lam = max(lam / 5.0, 1e-9)
        if done:
            break
    total, comp = parts[0], parts[1]
    without = (y - _DB * np.log(total - comp)) * wt
    return p, np.einsum("ij,ij->i", without, without) - cost


def fit_spectrum(freq: np.ndarray, trace_dbm: np.ndarray, rbw: float, gain_db: float = 0.0,
                 background_dbm: np.ndarray | float | None = None, max_peaks: int = 8,
                 min_snr_db: float = 3.0, merge_distance: float = 10e6) -> list[Peak]:
    """Lorentzian lines of a trace (dBm per ``rbw`` Hz), sorted by frequency.

    Without ``background_dbm`` the floor is the trace's robust median. Lines closer than
    ``merge_distance`` (Hz) count as one; lines lower than ``min_snr_db`` are dropped.
    """
    freq = np.asarray(freq, dtype=float)
    y = np.asarray(trace_dbm, dtype=float)
    if freq.shape != y.shape or y.ndim != 1 or y.size < 16:
        raise ValueError(f"freq and trace_dbm must be equal 1-D arrays of >= 16 points, "
                         f"got {freq.shape} and {y.shape}")
    if not np.all(np.isfinite(y)):
        y = np.where(np.isfinite(y), y, np.nanmin(np.where(np.isfinite(y), y, np.inf)))
    df = (freq[-1] - freq[0]) / (freq.size - 1)
    if background_dbm is None:
        bg: np.ndarray | float = 0.0
        rel = y
    else:
        bg = np.asarray(background_dbm, dtype=float)
        bg = float(bg) if bg.ndim == 0 else np.broadcast_to(bg, y.shape)
        rel = y - bg
    cands, offset, sigma = _detect(rel, freq, df, rbw, min_snr_db, merge_distance, max_peaks)
    if background_dbm is None:
        bg = offset  # the median floor found while detecting
    peaks: list[Peak] = []
    refine_floor = background_dbm is None
    while cands:
        f, yy, wt = _fit_windows(rel, freq, df, cands, bg if background_dbm is None else 0.0,
                                 sigma)
        # Frequencies in RBW units from the trace start keep the normal equations well scaled.
        x = (f - freq[0]) / rbw
        p = np.array([[math.log(max(a, 1e-3)), (c - freq[0]) / rbw,
                       math.log(max(w / rbw - _MIN_WIDTH_RBW, 0.1))] for c, w, a in cands])
        p, gain = _levenberg_marquardt(x, yy, wt, p, _MIN_WIDTH_RBW)
        if refine_floor:
            refine_floor = False
            shift = _wing_corrected_floor(freq, y - bg, _natural(p, freq[0], rbw))
            if abs(shift) > _FLOOR_TOLERANCE_DB:
                # Same line tops measured from the lower floor; from there a few steps suffice.
                bg += shift
                yy = yy - shift
                tops = (1.0 + np.exp(p[:, 0])) * math.exp(-shift / _DB) - 1.0
                p[:, 0] = np.log(np.maximum(tops, 1e-3))
                p, gain = _levenberg_marquardt(x, yy, wt, p, _MIN_WIDTH_RBW, _MAX_REFIT_ITER)
        fitted = _natural(p, freq[0], rbw)
        peaks, drop = _to_peaks(fitted, gain, cands, freq, bg, rbw, gain_db, min_snr_db,
                                merge_distance)
        if not drop:
            break
        # A duplicate or runaway component: refit without it, from the current estimates.
        cands = [c for n, c in enumerate(fitted) if n not in drop]
    return peaks


def _natural(p: np.ndarray, f0: float, rbw: float) -> list[tuple[float, float, float]]:
    """(centre Hz, FWHM Hz, excess over the floor) from the fit's parameter rows."""
    return [(f0 + c * rbw, rbw * (_MIN_WIDTH_RBW + math.exp(lw)), math.exp(la))
            for la, c, lw in p.tolist()]


def _wing_corrected_floor(freq: np.ndarray, rel: np.ndarray,
                          fitted: list[tuple[float, float, float]]) -> float:
    """How far the floor (dB) drops once the fitted lines are taken out of the trace.

    Lorentzian wings fall off slowly: a line 30 dB up and 5 MHz wide still lifts the trace
    by 0.5 dB 230 MHz away, and so lifts the median that served as first floor estimate.
    """
    idx = np.arange(0, freq.size, max(1, freq.size // _FLOOR_SAMPLES))
    fs = freq[idx]
    excess = np.zeros(idx.size)
    for c, w, a in fitted:
        excess += a / (1.0 + (2.0 * (fs - c) / w) ** 2)
    # The difference of two medians of the same samples is free of their sampling noise.
    sample = rel[idx]
    k = idx.size // 2
    corrected = sample - _DB * np.log1p(excess)
    return float(np.partition(corrected, k)[k] - np.partition(sample, k)[k])


def _to_peaks(fitted: list[tuple[float, float, float]], gain: np.ndarray,
              cands: list[tuple[float, float, float]], freq: np.ndarray, bg: np.ndarray | float,
              rbw: float, gain_db: float, min_snr_db: float,
              merge_distance: float) -> tuple[list[Peak], set[int]]:
    """Peaks from fitted (centre, width, excess), and components to refit without."""
    drop: set[int] = set()
    faint: set[int] = set()
    span = freq[-1] - freq[0]
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
    for n in kept:
        if n in faint:
            continue
        fc, width, amp = fitted[n]
        floor_dbm = bg if isinstance(bg, float) else float(np.interp(fc, freq, bg))
        peak_psd = amp * dbm_to_psd(floor_dbm, rbw, gain_db)
        fwhm = math.sqrt(width * width - rbw * rbw) if width > rbw else width
        peaks.append(Peak(frequency=float(fc), fwhm=fwhm, peak_psd=peak_psd,
                          integrated_power=0.5 * math.pi * peak_psd * width,
                          snr_db=10 * math.log10(1 + amp)))
    return peaks, set()
