"""Finding candidate lines in a spectrum-analyzer trace, before the Lorentzian fit.

Detection works on block-averaged traces (in dB relative to the floor) at two scales, so that
narrow strong lines and broad faint (sub-threshold) ones are both found; a trace with nothing
above the threshold costs almost nothing. Each candidate comes with a starting centre, height
and width for :mod:`labctl.analysis.lorentz`.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from labctl.analysis.spectra import MAX_FLOOR_SAMPLES, sample_floor_statistics

DB = 10.0 / math.log(10.0)  # dB per neper of power
Z_DETECT = 5.0  # detection threshold in σ of the averaged trace: ~1e-7 false alarms/point
_Z_PROMINENCE = 4.0  # dip needed between two maxima to call them two lines
_COARSE = 4  # each coarser detection scale averages this many blocks of the one before
_SCALES = 3  # detection scales: one RBW, 4 and 16 RBW
_SIGMA_EXCESS = 1.3  # a coarse scale's σ over the independent-blocks value (correlation)
_WIDTH_SEARCH = 400  # samples searched either side of a maximum for its width
_START_WIDTH = 1.2  # fit's starting FWHM over the counted one
_PRUNE = 40  # maxima above which neighbours are thinned out first
_RESOLVE = 0.6  # two equal Lorentzians show a dip only when more than 0.58 FWHM apart


def _block_mean(y: np.ndarray, k: int) -> np.ndarray:
    """Means of consecutive blocks of ``k`` samples (a trailing partial block is dropped)."""
    m = y.size // k
    n = m * k
    if k > 8:
        return y[:n].reshape(m, k).mean(axis=1)
    # Strided sums: np.add.reduceat is ~20× slower for blocks of a few samples.
    s = y[0:n:k] + y[1:n:k] if k > 1 else y[:n].copy()
    for j in range(2, k):
        s += y[j:n:k]
    s *= 1.0 / k
    return s


def _find_maxima(s: np.ndarray, height: float, prominence: float,
                 min_sep: int) -> list[tuple[int, float]]:
    """(index, value) of the maxima of ``s`` over ``height`` that are separated by a dip.

    Taken highest first, a maximum is kept when it lies at least ``min_sep`` samples from
    every kept one and ``s`` dips by ``prominence`` below it on the way there. Only the
    nearest kept maximum on either side needs testing: a longer way holds the shorter.
    """
    above = np.flatnonzero(s > height)
    if above.size == 0:
        return []
    if above[0] == 0:
        above = above[1:]
    if above.size and above[-1] == s.size - 1:
        above = above[:-1]
    top = s[above]
    is_max = (top > s[above - 1]) & (top >= s[above + 1])
    idx = above[is_max]
    if idx.size <= 1:
        return list(zip(idx.tolist(), top[is_max].tolist()))
    val = top[is_max]
    # Lowest value between consecutive maxima: any dip test is a min over a run of these.
    gap = np.minimum.reduceat(s[idx[0]:idx[-1]], idx[:-1] - idx[0])
    if idx.size > _PRUNE:
        # Noise on a broad top makes many maxima. One next to a higher one, closer than
        # min_sep and without a dip between them, cannot be a line of its own: drop those
        # at once instead of one by one below.
        close = (idx[1:] - idx[:-1]) < min_sep
        drop = np.zeros(idx.size, dtype=bool)
        drop[1:] = close & (val[:-1] >= val[1:]) & (gap > val[1:] - prominence)
        drop[:-1] |= close & (val[1:] > val[:-1]) & (gap > val[:-1] - prominence)
        keep = np.flatnonzero(~drop)
        gap = np.minimum.reduceat(gap[:keep[-1]], keep[:-1]) if keep.size > 1 else gap[:0]
        idx, val = idx[keep], val[keep]
    pos = idx.tolist()
    val = val.tolist()
    gap = gap.tolist()
    kept: list[int] = []  # ranks of kept maxima in ``pos``, ascending
    out: list[tuple[int, float]] = []
    for v, a in sorted(zip(val, range(len(pos))), reverse=True):
        j = bisect.bisect(kept, a)
        if j > 0:
            b = kept[j - 1]
            if pos[a] - pos[b] < min_sep or min(gap[b:a]) > v - prominence:
                continue
        if j < len(kept):
            b = kept[j]
            if pos[b] - pos[a] < min_sep or min(gap[a:b]) > v - prominence:
                continue
        kept.insert(j, a)
        out.append((pos[a], v))
    return out


def _width(s: np.ndarray, i: int, floor: float) -> tuple[float, float]:
    """FWHM (in samples) and linear excess of the line topping at ``s[i]`` (dB) over ``floor``.

    Counting the samples above half height, out to where the line falls to a quarter, is
    far less sensitive to noise than the first half-height crossing on either side; the
    top is read from three samples because the maximum itself is lifted by noise.
    """
    a = max(i - 1, 0)
    b = min(i + 2, s.size)
    excess = math.expm1((float(s[a:b].sum()) / (b - a) - floor) / DB)
    half = floor + DB * math.log1p(0.5 * excess)
    quarter = floor + DB * math.log1p(0.25 * excess)
    hi = min(s.size, i + _WIDTH_SEARCH)
    lo = max(0, i - _WIDTH_SEARCH)
    right = s[i:hi] < quarter
    left = s[i:lo:-1] < quarter if i > lo else right[:0]
    r = int(right.argmax()) if right.size else 0
    hi = i + r if right.size and right[r] else hi
    m = int(left.argmax()) if left.size else 0
    lo = i - m + 1 if left.size and left[m] else lo
    return float(max(np.count_nonzero(s[lo:hi] > half), 1)), excess


def detect_candidates(rel: np.ndarray, freq: np.ndarray, df: float, rbw: float, min_snr_db: float,
            merge_distance: float, max_peaks: int
            ) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]],
                       float, float]:
    """Candidate lines (centre, FWHM, linear excess), starting values for their fit (the
    same, less biased), the floor offset and scatter (dB).

    ``rel`` is the trace in dB above the assumed floor; blocks of about one RBW are averaged
    first (neighbouring points within an RBW carry the same information anyway).
    """
    k1 = max(2, int(round(rbw / df)))
    s1 = _block_mean(rel, k1)
    floor, sig1 = sample_floor_statistics(s1[:: max(1, s1.size // MAX_FLOOR_SAMPLES)])
    sig1 = max(sig1, 1e-3)
    sigma = sig1 * math.sqrt(k1)
    scales = [(s1, k1, sig1)]
    s, k = s1, k1
    while s.size >= 16 * _COARSE and len(scales) < _SCALES:
        # Coarser blocks catch broad, faint lines (a line 1 dB up and 20 RBW wide). Blocks
        # of about one RBW are nearly independent, so σ falls about as √(blocks averaged);
        # neighbouring blocks share part of an RBW, hence the margin (measuring σ at each
        # scale instead costs a partition each, and broad strong lines inflate it).
        s, k = _block_mean(s, _COARSE), k * _COARSE
        scales.append((s, k, _SIGMA_EXCESS * sig1 * math.sqrt(k1 / k)))
    heights = [max(0.75 * min_snr_db, Z_DETECT * sig) for _, _, sig in scales]
    # Noise alone (most of a frequency–current map) ends here.
    if all(float(s.max()) - floor <= h for (s, _, _), h in zip(scales, heights)):
        return [], [], floor, sigma
    found: list[tuple[float, int, int]] = []  # height over the floor, index, scale
    for n, (s, k, sig) in enumerate(scales):
        sep = max(1, int(merge_distance / (k * df)))
        found.extend((v - floor, i, n) for i, v in
                     _find_maxima(s, floor + heights[n], _Z_PROMINENCE * sig, sep))
    found.sort(reverse=True)
    chosen: list[tuple[float, float, float]] = []
    starts: list[tuple[float, float, float]] = []
    for top, i, n in found:
        s, k, _ = scales[n]
        centre = float(freq[min(i * k + k // 2, freq.size - 1)])
        if any(abs(centre - c) < merge_distance for c, _, _ in chosen):
            continue
        # The wings of a strong line reach far above the floor; a maximum must stand out
        # above them, not only above the floor.
        wings = sum(a / (1.0 + (2.0 * (centre - c) / w) ** 2) for c, w, a in chosen)
        if DB * math.log1p(max(math.expm1(top / DB) - wings, 0.0)) < heights[n]:
            continue
        width, excess = _width(s, i, floor)
        fwhm = max(width * k * df, rbw)
        # Maxima closer than _RESOLVE linewidths are one line seen at two scales, or noise
        # on its top: without a dip between them no fit can tell them apart.
        if all(abs(centre - c) >= _RESOLVE * max(w, fwhm) for c, w, _ in chosen):
            chosen.append((centre, fwhm, math.expm1(top / DB)))
            # The fit converges in fewer steps from the top interpolated between blocks,
            # the three-block excess (the maximum is lifted by noise) and a width widened
            # as much as noise on the top narrows the count (both found on simulated lines).
            shift = 0.5 * (k - 1)  # the block centre
            if 0 < i < s.size - 1:
                left, mid, right = float(s[i - 1]), float(s[i]), float(s[i + 1])
                curve = left - 2.0 * mid + right
                if curve < 0:
                    shift += k * min(max(0.5 * (left - right) / curve, -0.5), 0.5)
            starts.append((float(freq[0]) + (i * k + shift) * df, fwhm * _START_WIDTH,
                           max(excess, 1e-3)))
            if len(chosen) == max_peaks:
                break
    return chosen, starts, floor, sigma
