"""Auto-oscillation threshold current (PHYSICS.md §1, §6).

Three estimates, each with an uncertainty:

- from the power above threshold (:func:`threshold_from_power`): the integrated power of
  the chain grows as I²·p(ζ) with the universal p0 = (ζ − 1)/(ζ + Q), rounded over the
  onset by thermal noise. This is the estimate that works on a real device, whose lines sit
  only a few dB above the analyzer floor and whose thermal peak below threshold is too
  faint to see: the power is integrated over the whole band where lines were found, so no
  line needs to be detected at any one current.
- from 1/P of the sub-threshold (thermal) peak, where it is resolved: 1/P falls linearly
  and reaches zero at I_th.
- from the linewidth, below threshold Δf ≈ Δf0·(1 − ζ).

Without a caller's mask the sub-threshold points of a line fit are found as the best split
of the current-sorted data into a straight line followed by a flat tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

_MIN_POINTS = 3
# the onset is never sharper than thermal noise makes it: sqrt(kT/E0) ~ 0.01 for a
# nano-constriction (E0 ~ 1e-17 J); a free width would trade against I_th and Q on noisy data
_MIN_WIDTH = 0.01


@dataclass(frozen=True)
class ThresholdFit:
    """Straight-line fit y = slope·I + intercept over the sub-threshold points."""

    i_th: float  # A, where the line reaches zero
    slope: float
    intercept: float
    r2: float
    n_points: int
    i_th_err: float = math.nan  # A, 1 σ from the scatter about the line


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
    """Least-squares line, weighted by ``w`` (1/sigma of each y, up to a common factor)."""
    w = np.ones_like(y) if w is None else w
    slope, intercept = np.polyfit(x, y, 1, w=w)
    resid = w * (y - (slope * x + intercept))
    mean = np.average(y, weights=w * w)
    ss_tot = float(np.sum((w * (y - mean)) ** 2))
    sse = float(resid @ resid)
    r2 = 1.0 - sse / ss_tot if ss_tot > 0 else float("nan")
    i_th = -intercept / slope if slope != 0 else float("nan")
    err = math.nan
    if x.size > 2 and slope != 0:
        # covariance of (slope, intercept) scaled by the residual scatter, then the zero
        # crossing -b/a by the delta method
        a = np.stack([x * w, w], axis=1)
        cov = np.linalg.pinv(a.T @ a) * sse / (x.size - 2)
        grad = np.array([intercept / slope**2, -1.0 / slope])
        err = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    return ThresholdFit(i_th=float(i_th), slope=float(slope), intercept=float(intercept),
                        r2=r2, n_points=int(x.size), i_th_err=err)


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


@dataclass(frozen=True)
class PowerThreshold:
    """Fit of the integrated power P(I) = offset + scale·I²·p(I; I_th, Q, width)."""

    i_th: float  # A
    i_th_err: float  # A, 1 σ: statistical and the systematic of the smeared onset
    i_th_err_stat: float  # A, statistical (scaled by the reduced χ² when above 1)
    q: float  # the universal model's Q
    width: float  # rounding of the onset in p (thermal noise, spread of the thresholds)
    scale: float  # W/A²
    offset: float  # W: what the background subtraction left
    chi2_red: float
    n_above: int  # points above the fitted threshold
    n_below: int
    significance: float  # largest fitted power over its uncertainty


def onset_model(i: np.ndarray, i_th: float, q: float, width: float) -> np.ndarray:
    """I²·p: the universal model p0 = (ζ − 1)/(ζ + Q), rounded over ~``width`` in p."""
    u = (i - i_th) / (np.maximum(i, i_th) + q * i_th)
    return i * i * 0.5 * (u + np.sqrt(u * u + 4.0 * width * width))


def onset_derivatives(i: np.ndarray, i_th: float, q: float, width: float
                      ) -> tuple[np.ndarray, ...]:
    """:func:`onset_model` and its derivatives by ``i_th``, ``q`` and ``width``."""
    above = i >= i_th
    d = np.where(above, i, i_th) + q * i_th
    u = (i - i_th) / d
    root = np.sqrt(u * u + 4.0 * width * width)
    half_i2 = 0.5 * i * i
    dm_du = half_i2 * (1.0 + u / root)
    du_dth = -(d + (i - i_th) * np.where(above, q, 1.0 + q)) / (d * d)
    du_dq = -(i - i_th) * i_th / (d * d)
    return (half_i2 * (u + root), dm_du * du_dth, dm_du * du_dq,
            half_i2 * 4.0 * width / root)


_GOOD_CHI2 = 3.0  # reduced χ² up to which the first start's fit is taken as it is


def threshold_from_power(currents, powers, errors) -> PowerThreshold:
    """I_th from the integrated power of the lines versus current, with its uncertainty.

    ``errors`` are the 1 σ of each power (the noise of the band it was integrated over).
    The threshold is where the fitted onset starts; for a chain whose constrictions have
    slightly different thresholds this is close to their mean. Raises ValueError when the
    data cannot support a fit (too few points, no power above the noise).
    """
    x = np.asarray(currents, dtype=float)
    y = np.asarray(powers, dtype=float)
    e = np.asarray(errors, dtype=float)
    if not (x.shape == y.shape == e.shape and x.ndim == 1):
        raise ValueError(f"currents, powers and errors must be equal 1-D arrays, got "
                         f"{x.shape}, {y.shape}, {e.shape}")
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(e) & (e > 0) & (x > 0)
    x, y, e = x[ok], y[ok], e[ok]
    if x.size < 6:
        raise ValueError(f"need at least 6 usable points above zero current, got {x.size}")
    significance = float(np.max(y / e))
    if significance < 5.0:
        raise ValueError(f"no power above the noise (largest {significance:.1f} sigma)")
    order = np.argsort(x)
    x, y, e = x[order], y[order], e[order]
    scale_i = float(x.max())
    scale_p = float(np.max(np.abs(y)))

    xs = x / scale_i
    weight = scale_p / e

    def residual(v):
        off, s, i_th, q, w = v
        return (off * scale_p + s * scale_p * onset_model(xs, i_th, q, w) - y) / e

    def jacobian(v):
        # analytic: scipy's finite differences would cost five more evaluations per step
        _, s, i_th, q, w = v
        model, d_th, d_q, d_w = onset_derivatives(xs, i_th, q, w)
        sw = s * weight
        return np.column_stack([weight, weight * model, sw * d_th, sw * d_q, sw * d_w])

    best = None
    dof = max(x.size - 5, 1)
    # starts spread over the swept range: the cost has local minima where the onset is
    # placed on a noise excursion. The middle one first; the others only when its fit did
    # not converge, fits badly or left the range they span (on the default device and
    # seeds 1-5 all three land on the same minimum: two fits of ~5 ms saved per run)
    above = y > 5.0 * e
    first = x[np.argmax(above)] / scale_i if above.any() else 0.5
    starts = np.clip(first * np.array([0.85, 0.7, 1.0]), 1e-3, 1.0)
    for n, start in enumerate(starts):
        if start in starts[:n]:
            continue
        guess = [0.0, 4.0, start, 1.0, 0.03]
        fit = least_squares(residual, guess, jac=jacobian,
                            bounds=([-np.inf, 0.0, 1e-4, 0.05, _MIN_WIDTH],
                                    [np.inf, np.inf, 1.5, 20.0, 0.3]),
                            x_scale=[0.01, 1.0, 0.05, 0.5, 0.02])
        if best is None or fit.cost < best.cost:
            best = fit
        if n == 0 and fit.status > 0 and 2.0 * fit.cost / dof <= _GOOD_CHI2 \
                and starts[1] <= fit.x[2] <= starts[2]:
            break
    chi2_red = 2.0 * best.cost / dof
    off, s, i_th, q, w = best.x
    try:
        cov = np.linalg.inv(best.jac.T @ best.jac) * max(1.0, chi2_red)
        err = math.sqrt(max(cov[2, 2], 0.0)) * scale_i
    except np.linalg.LinAlgError:
        err = math.inf
    i_th *= scale_i
    # The onset is smeared over ~w (1 + Q) I_th (thermal noise, and the constrictions'
    # slightly different thresholds): where in that smear "the" threshold sits depends on
    # the model, so half of it is added as a systematic uncertainty.
    systematic = 0.5 * w * (1.0 + q) * i_th
    return PowerThreshold(i_th=float(i_th), i_th_err=float(math.hypot(err, systematic)),
                          i_th_err_stat=float(err), q=float(q), width=float(w),
                          scale=float(s * scale_p / scale_i**2), offset=float(off * scale_p),
                          chi2_red=float(chi2_red), n_above=int(np.count_nonzero(x > i_th)),
                          n_below=int(np.count_nonzero(x <= i_th)),
                          significance=significance)
