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

from labctl.analysis.spectra import dbm_to_psd, floor_statistics

_DB = 10.0 / math.log(10.0)  # dB per neper of power
_Z_DETECT = 5.0  # detection threshold in σ of the averaged trace: ~1e-7 false alarms/point
_Z_PROMINENCE = 4.0  # dip needed between two maxima to call them two lines
_COARSE = 4  # second detection scale, in blocks of the first: catches broad, faint lines
_WINDOW = 3.0  # fit window half-width in (starting) linewidths
_POINTS_PER_WIDTH = 6  # decimation keeps this many points per linewidth in the fit
_MAX_ITER = 12


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
    """Indices of significant maxima of ``s``: above ``height``, separated by a dip."""
    above = np.flatnonzero(s > height)
    if above.size == 0:
        return []
    gaps = np.flatnonzero(np.diff(above) > 1)
    starts = np.concatenate(([above[0]], above[gaps + 1]))
    ends = np.concatenate((above[gaps], [above[-1]])) + 1
    found: list[int] = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        run = s[a:b]
        if b - a < 3:
            found.append(a + int(np.argmax(run)))
            continue
        inner = np.flatnonzero((run[1:-1] > run[:-2]) & (run[1:-1] >= run[2:])) + 1
        cand = np.concatenate(([0], inner, [b - a - 1]))  # run edges can be maxima too
        cand = cand[np.argsort(run[cand])[::-1]]
        kept = [int(cand[0])]
        for c in cand[1:].tolist():
            ok = True
            for k in kept:
                lo, hi = (c, k) if c < k else (k, c)
                if hi - lo < min_sep or run[lo:hi + 1].min() > run[c] - prominence:
                    ok = False
                    break
            if ok:
                kept.append(c)
        found.extend(a + k for k in kept)
    return found


def _half_width(s: np.ndarray, i: int, lo: int, hi: int) -> tuple[float, float]:
    """Distances (in samples) from ``i`` to where the excess over the floor halves."""
    top = s[i]
    level = _DB * math.log(0.5 * (math.exp(top / _DB) + 1.0))  # half the linear excess
    left = s[lo:i + 1][::-1] < level
    right = s[i:hi] < level
    dl = float(np.argmax(left)) if left.any() else float(i - lo)
    dr = float(np.argmax(right)) if right.any() else float(hi - 1 - i)
    return max(dl, 0.5), max(dr, 0.5)


def _detect(rel: np.ndarray, freq: np.ndarray, df: float, rbw: float, min_snr_db: float,
            merge_distance: float, max_peaks: int) -> tuple[list[tuple[float, float, float]], float]:
    """Candidate lines (centre, FWHM, linear excess) and the fitted-data scatter σ (dB)."""
    k1 = max(2, int(round(rbw / df)))
    scales = []
    s1 = _block_mean(rel, k1)
    floor1, sig1 = floor_statistics(s1)
    scales.append((s1, k1, floor1, sig1))
    s2 = _block_mean(s1, _COARSE)
    if s2.size >= 16:
        floor2, sig2 = floor_statistics(s2)
        scales.append((s2, k1 * _COARSE, floor2, sig2))
    cands: list[tuple[float, float, float, float]] = []  # height, centre, fwhm, excess
    for s, k, floor, sig in scales:
        sig = max(sig, 1e-3)
        height = max(0.75 * min_snr_db, _Z_DETECT * sig)
        sep = max(1, int(merge_distance / (k * df)))
        idx = _find_maxima(s, floor + height, _Z_PROMINENCE * sig, sep)
        idx.sort()
        for n, i in enumerate(idx):
            lo = (idx[n - 1] + i) // 2 if n else 0
            hi = (idx[n + 1] + i) // 2 + 1 if n + 1 < len(idx) else s.size
            dl, dr = _half_width(s, i, lo, hi)
            centre = freq[min(i * k + k // 2, freq.size - 1)]
            fwhm = max((dl + dr) * k * df, rbw, 2 * df)
            excess = math.expm1((s[i] - floor) / _DB)
            cands.append((s[i] - floor, centre, fwhm, excess))
    cands.sort(key=lambda c: -c[0])
    chosen: list[tuple[float, float, float]] = []
    for _, centre, fwhm, excess in cands:
        if all(abs(centre - c[0]) >= merge_distance for c in chosen):
            chosen.append((centre, fwhm, excess))
        if len(chosen) == max_peaks:
            break
    return chosen, sig1 * math.sqrt(k1)


def _fit_windows(rel: np.ndarray, freq: np.ndarray, df: float,
                 cands: list[tuple[float, float, float]], sigma: float):
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
        ys.append(np.add.reduceat(rel[ia:ib], starts - ia) / q)
        ws.append(np.full(m, math.sqrt(q) / sigma))  # block means are √q less noisy
    return np.concatenate(fs), np.concatenate(ys), np.concatenate(ws)


def _model(f: np.ndarray, p: np.ndarray):
    amp = np.exp(p[:, 0:1])
    width = np.exp(p[:, 2:3])
    u = 2.0 * (f[None, :] - p[:, 1:2]) / width
    lor = 1.0 / (1.0 + u * u)
    comp = amp * lor
    total = 1.0 + comp.sum(axis=0)
    return total, comp, lor, u, width


def _levenberg_marquardt(f: np.ndarray, y: np.ndarray, wt: np.ndarray, p: np.ndarray):
    """Weighted least squares of y (dB) against 10·log10(1 + Σ Lorentzians); p rows (lnA, f0, lnw)."""
    total, comp, lor, u, width = _model(f, p)
    r = (y - _DB * np.log(total)) * wt
    cost = float(r @ r)
    lam = 1e-3
    kk = p.shape[0]
    for _ in range(_MAX_ITER):
        g = (_DB * wt / total)[None, :]
        jac = np.empty((3 * kk, f.size))
        jac[0::3] = comp * g
        jac[1::3] = comp * lor * (4.0 * u / width) * g
        jac[2::3] = comp * lor * (2.0 * u * u) * g
        jtj = jac @ jac.T
        jtr = jac @ r
        diag = np.diag(jtj).copy()
        diag[diag <= 0] = 1.0
        improved = False
        for _ in range(6):
            try:
                step = np.linalg.solve(jtj + lam * np.diag(diag), jtr)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = p + step.reshape(kk, 3)
            t_total, t_comp, t_lor, t_u, t_width = _model(f, trial)
            t_r = (y - _DB * np.log(t_total)) * wt
            t_cost = float(t_r @ t_r)
            if np.isfinite(t_cost) and t_cost <= cost:
                improved = True
                break
            lam *= 8.0
        if not improved:
            break
        done = cost - t_cost < 1e-6 * cost + 1e-12
        p, cost, r = trial, t_cost, t_r
        total, comp, lor, u, width = t_total, t_comp, t_lor, t_u, t_width
        lam = max(lam / 5.0, 1e-9)
        if done:
            break
    return p


def fit_spectrum(freq: np.ndarray, trace_dbm: np.ndarray, rbw: float, gain_db: float = 0.0,
                 background_dbm: np.ndarray | float | None = None, max_peaks: int = 8,
                 min_snr_db: float = 3.0, merge_distance: float = 10e6) -> list[Peak]:
    """Lorentzian lines of a trace (dBm per ``rbw``), sorted by frequency.

    Without ``background_dbm`` the floor is the trace's robust median. Lines closer than
    ``merge_distance`` (Hz) count as one; lines lower than ``min_snr_db`` are dropped.
    """
    freq = np.asarray(freq, dtype=float)
    y = np.asarray(trace_dbm, dtype=float)
    if freq.shape != y.shape or y.ndim != 1 or y.size < 8:
        raise ValueError(f"freq and trace_dbm must be equal 1-D arrays, got {freq.shape}, {y.shape}")
    if not np.all(np.isfinite(y)):
        y = np.where(np.isfinite(y), y, np.nanmin(np.where(np.isfinite(y), y, np.inf)))
    df = (freq[-1] - freq[0]) / (freq.size - 1)
    if background_dbm is None:
        bg: np.ndarray | float = floor_statistics(y)[0]
    else:
        bg = np.asarray(background_dbm, dtype=float)
        bg = float(bg) if bg.ndim == 0 else np.broadcast_to(bg, y.shape)
    rel = y - bg
    cands, sigma = _detect(rel, freq, df, rbw, min_snr_db, merge_distance, max_peaks)
    peaks: list[Peak] = []
    while cands:
        f, yy, wt = _fit_windows(rel, freq, df, cands, sigma)
        p0 = np.array([[math.log(max(a, 1e-3)), c, math.log(w)] for c, w, a in cands])
        p = _levenberg_marquardt(f, yy, wt, p0)
        peaks, drop = _to_peaks(p, p0, freq, bg, rbw, gain_db, min_snr_db, merge_distance)
        if not drop:
            break
        # A duplicate or runaway component: refit without it, from the current estimates.
        cands = [(pp[1], math.exp(pp[2]), math.exp(pp[0])) for n, pp in enumerate(p)
                 if n not in drop]
    return peaks


def _to_peaks(p: np.ndarray, p0: np.ndarray, freq: np.ndarray, bg: np.ndarray | float,
              rbw: float, gain_db: float, min_snr_db: float,
              merge_distance: float) -> tuple[list[Peak], set[int]]:
    """Peaks from fitted parameters, and the components that call for a refit without them."""
    drop: set[int] = set()
    faint: set[int] = set()
    span = freq[-1] - freq[0]
    for n, (la, fc, lw) in enumerate(p):
        w0 = math.exp(p0[n, 2])
        if (not np.all(np.isfinite(p[n])) or abs(fc - p0[n, 1]) > _WINDOW * w0
                or math.exp(lw) > span):
            drop.add(n)
        elif 10 * math.log10(1 + math.exp(la)) < min_snr_db:
            faint.add(n)  # fitted, so its wings are accounted for, but not reported
    order = [n for n in np.argsort(p[:, 1]).tolist() if n not in drop]
    kept: list[int] = []
    for n in order:
        if kept and p[n, 1] - p[kept[-1], 1] < merge_distance:
            last = kept[-1]
            # Two components on one line: keep the one carrying more power.
            if p[n, 0] + p[n, 2] > p[last, 0] + p[last, 2]:
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
        la, fc, lw = p[n]
        amp, width = math.exp(la), math.exp(lw)
        floor_dbm = bg if isinstance(bg, float) else float(np.interp(fc, freq, bg))
        peak_psd = amp * dbm_to_psd(floor_dbm, rbw, gain_db)
        fwhm = math.sqrt(width * width - rbw * rbw) if width > rbw else width
        peaks.append(Peak(frequency=float(fc), fwhm=fwhm, peak_psd=peak_psd,
                          integrated_power=0.5 * math.pi * peak_psd * width,
                          snr_db=10 * math.log10(1 + amp)))
    return peaks, set()
