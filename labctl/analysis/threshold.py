"""Auto-oscillation threshold current from sub-threshold data (PHYSICS.md §1, §6).

Below threshold 1/P and the linewidth both fall linearly with I and reach zero at I_th;
above it they stay small. Without a caller's mask the sub-threshold points are found as
the best split of the current-sorted data into a straight line followed by a flat tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_POINTS = 3


@dataclass(frozen=True)
class ThresholdFit:
    """Straight-line fit y = slope·I + intercept over the sub-threshold points."""

    i_th: float  # A, where the line reaches zero
    slope: float
    intercept: float
    r2: float
    n_points: int


def _line_then_flat(x: np.ndarray, y: np.ndarray) -> int:
    """Number of leading points best described by a falling line, the rest by a constant."""
    n = x.size
    # Running sums give every split's two least-squares fits in O(n).
    c = np.cumsum(np.stack([np.ones(n), x, y, x * x, x * y, y * y]), axis=1)
    best, best_sse = n, np.inf
    total = c[:, -1]
    for k in range(_MIN_POINTS, n + 1):
        s1, sx, sy, sxx, sxy, syy = c[:, k - 1]
        den = s1 * sxx - sx * sx
        if den <= 0:
            continue
        slope = (s1 * sxy - sx * sy) / den
        if slope >= 0:
            continue
        icpt = (sy - slope * sx) / s1
        sse_line = syy - slope * sxy - icpt * sy
        rest = total - c[:, k - 1]
        sse_flat = rest[5] - rest[2] ** 2 / rest[0] if rest[0] > 0 else 0.0
        sse = sse_line + sse_flat
        if sse < best_sse:
            best, best_sse = k, sse
    return best


def _fit_line(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> ThresholdFit:
    """Least-squares line, weighted by ``w`` (1/sigma of each y) when given."""
    w = np.ones_like(y) if w is None else w
    slope, intercept = np.polyfit(x, y, 1, w=w)
    resid = w * (y - (slope * x + intercept))
    mean = np.average(y, weights=w * w)
    ss_tot = float(np.sum((w * (y - mean)) ** 2))
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    i_th = -intercept / slope if slope != 0 else float("nan")
    return ThresholdFit(i_th=float(i_th), slope=float(slope), intercept=float(intercept),
                        r2=r2, n_points=int(x.size))


def _select(currents, values, below) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(currents, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"currents and values must be equal 1-D arrays, got {x.shape}, {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    if below is not None:
        below_arr = np.asarray(below)
        if below_arr.dtype == bool:
            keep &= below_arr
        else:
            keep &= x < float(below)
    order = np.argsort(x[keep], kind="stable")
    return x[keep][order], y[keep][order]


def _threshold(x: np.ndarray, y: np.ndarray, auto: bool,
               relative_errors: bool = False) -> ThresholdFit:
    if x.size < _MIN_POINTS:
        raise ValueError(f"need at least {_MIN_POINTS} usable points, got {x.size}")
    if auto:
        k = _line_then_flat(x, y)
        x, y = x[:k], y[:k]
    # a measured power has about the same relative error everywhere, so 1/P's error grows
    # with 1/P: weighting by 1/y keeps the weak, noisy far-below-threshold points from
    # dominating the extrapolation to zero
    return _fit_line(x, y, 1.0 / y if relative_errors else None)


def threshold_from_inverse_power(currents: np.ndarray, powers: np.ndarray,
                                 below: np.ndarray | float | None = None) -> ThresholdFit:
    """I_th where a line through 1/P vs I (sub-threshold points) reaches zero.

    ``below`` is a boolean mask of points to use, or a current under which all points are
    sub-threshold; without it the sub-threshold points are found automatically.
    Non-positive powers (at or below the floor) carry no 1/P and are ignored.
    """
    x, p = _select(currents, powers, below)
    pos = p > 0
    return _threshold(x[pos], 1.0 / p[pos], below is None, relative_errors=True)


def threshold_from_linewidth(currents: np.ndarray, fwhm: np.ndarray,
                             below: np.ndarray | float | None = None) -> ThresholdFit:
    """I_th from the sub-threshold narrowing Δf ≈ Δf0·(1 − I/I_th); ``below`` as above."""
    x, w = _select(currents, fwhm, below)
    return _threshold(x, w, below is None)
