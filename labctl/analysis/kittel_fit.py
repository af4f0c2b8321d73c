"""Fit of FMR / oscillator frequencies vs field to the tilted-field Kittel formula (§1, §6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.constants import h, physical_constants
from scipy.optimize import minimize_scalar

from labctl.analysis.kittel import kittel_frequency

_MU_B = physical_constants["Bohr magneton"][0]
# magnetization_angle brackets θ_M in [0, θ_H], which holds for in-plane easy films only.
_MEFF_RANGE = (1e-3, 3.0)


@dataclass(frozen=True)
class KittelFit:
    meff: float  # μ0Meff, T
    gamma: float  # γ/2π, Hz/T
    g_factor: float
    residual_rms: float  # Hz


def _profile(meff: float, b: np.ndarray, f: np.ndarray, theta_h: float,
             gamma: float | None) -> tuple[float, float]:
    """Residual sum of squares and γ/2π at this μ0Meff; f is linear in γ, so γ is exact."""
    shape = kittel_frequency(b, theta_h, meff, gamma=1.0)
    if gamma is None:
        den = float(shape @ shape)
        gamma = float(shape @ f) / den if den > 0 else float("nan")
    r = f - gamma * shape
    return float(r @ r), gamma


def fit_kittel(fields: np.ndarray, frequencies: np.ndarray, theta_h: float,
               gamma: float | None = None) -> KittelFit:
    """μ0Meff (and γ/2π unless given, Hz/T) from f(B) at out-of-plane field angle ``theta_h`` (rad).

    The frequencies must be the FMR (small-amplitude) ones, i.e. without nonlinear shift.
    """
    b = np.asarray(fields, dtype=float)
    f = np.asarray(frequencies, dtype=float)
    if b.shape != f.shape or b.ndim != 1:
        raise ValueError(f"fields and frequencies must be equal 1-D arrays, got {b.shape}, "
                         f"{f.shape}")
    ok = np.isfinite(b) & np.isfinite(f)
    b, f = b[ok], f[ok]
    if b.size < (1 if gamma is not None else 2) + 1:
        raise ValueError(f"too few points for a Kittel fit: {b.size}")
    # The cost is not convex in Meff, and over a narrow field range Meff and γ trade off
    # along a shallow valley with false minima: a dense grid, then refine the best few
    # local minima and keep the best.
    grid = np.geomspace(*_MEFF_RANGE, 400)
    costs = np.array([_profile(m, b, f, theta_h, gamma)[0] for m in grid])
    interior = np.flatnonzero((costs[1:-1] <= costs[:-2]) & (costs[1:-1] <= costs[2:])) + 1
    candidates = sorted({*interior.tolist(), int(np.argmin(costs))}, key=lambda k: costs[k])
    best = None
    for i in candidates[:3]:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(lambda m: _profile(m, b, f, theta_h, gamma)[0], bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-7})
        if best is None or res.fun < best.fun:
            best = res
    meff = float(best.x)
    sse, g = _profile(meff, b, f, theta_h, gamma)
    return KittelFit(meff=meff, gamma=g, g_factor=g * h / _MU_B,
                     residual_rms=float(np.sqrt(sse / b.size)))
