"""Fit of FMR / oscillator frequencies vs field to the tilted-field Kittel formula (§1, §6).

f(B) = γ/2π · K(B; θ_H, μ0Meff) [+ δ]: for a given μ0Meff the model is linear in γ (and in a
field-independent offset δ, the nonlinear shift of an auto-oscillating line), so those are
solved exactly and only μ0Meff is searched. Uncertainties come from the Jacobian at the
optimum and the residual scatter.
"""

from __future__ import annotations

import math
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
    meff_err: float = math.nan  # T, 1 σ
    gamma_err: float = math.nan  # Hz/T, 1 σ
    offset: float = 0.0  # Hz, the fitted field-independent offset (0 when not fitted)
    offset_err: float = math.nan  # Hz

    @property
    def g_factor_err(self) -> float:
        return self.gamma_err * h / _MU_B


def _linear_part(shape: np.ndarray, f: np.ndarray, gamma: float | None, offset: bool
                 ) -> tuple[float, float]:
    """Least-squares (γ, δ) for this field shape; a given γ or no offset fixes that part."""
    if gamma is not None:
        return gamma, float(np.mean(f - gamma * shape)) if offset else 0.0
    if not offset:
        den = float(shape @ shape)
        return (float(shape @ f) / den if den > 0 else math.nan), 0.0
    a = np.stack([shape, np.ones_like(shape)], axis=1)
    (g, d), *_ = np.linalg.lstsq(a, f, rcond=None)
    return float(g), float(d)


def _profile(meff: float, b: np.ndarray, f: np.ndarray, theta_h: float, gamma: float | None,
             offset: bool) -> tuple[float, float, float]:
    """Residual sum of squares, γ/2π and δ at this μ0Meff."""
    shape = kittel_frequency(b, theta_h, meff, gamma=1.0)
    g, d = _linear_part(shape, f, gamma, offset)
    r = f - g * shape - d
    return float(r @ r), g, d


def fit_kittel(fields: np.ndarray, frequencies: np.ndarray, theta_h: float,
               gamma: float | None = None, offset: bool = False) -> KittelFit:
    """μ0Meff (and γ/2π unless given, Hz/T) from f(B) at out-of-plane field angle ``theta_h``
    (rad), with a field-independent frequency offset δ when ``offset``.

    Without ``offset`` the frequencies must be the FMR (small-amplitude) ones.
    """
    b = np.asarray(fields, dtype=float)
    f = np.asarray(frequencies, dtype=float)
    if b.shape != f.shape or b.ndim != 1:
        raise ValueError(f"fields and frequencies must be equal 1-D arrays, got {b.shape}, "
                         f"{f.shape}")
    ok = np.isfinite(b) & np.isfinite(f)
    b, f = b[ok], f[ok]
    n_par = 1 + (gamma is None) + bool(offset)
    if b.size < n_par + 1:
        raise ValueError(f"too few points for a Kittel fit: {b.size}")
    # The cost is not convex in Meff, and over a narrow field range Meff and γ trade off
    # along a shallow valley with false minima: a dense grid, then refine the best few
    # local minima and keep the best.
    grid = np.geomspace(*_MEFF_RANGE, 400)
    costs = np.array([_profile(m, b, f, theta_h, gamma, offset)[0] for m in grid])
    interior = np.flatnonzero((costs[1:-1] <= costs[:-2]) & (costs[1:-1] <= costs[2:])) + 1
    candidates = sorted({*interior.tolist(), int(np.argmin(costs))}, key=lambda k: costs[k])
    best = None
    for i in candidates[:3]:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(lambda m: _profile(m, b, f, theta_h, gamma, offset)[0],
                              bounds=(lo, hi), method="bounded", options={"xatol": 1e-7})
        if best is None or res.fun < best.fun:
            best = res
    meff = float(best.x)
    sse, g, d = _profile(meff, b, f, theta_h, gamma, offset)
    errs = _uncertainties(b, theta_h, meff, g, sse, gamma is None, offset)
    return KittelFit(meff=meff, gamma=g, g_factor=g * h / _MU_B,
                     residual_rms=float(np.sqrt(sse / b.size)), meff_err=errs[0],
                     gamma_err=errs[1], offset=d, offset_err=errs[2])


def _uncertainties(b: np.ndarray, theta_h: float, meff: float, gamma: float, sse: float,
                   fit_gamma: bool, offset: bool) -> tuple[float, float, float]:
    """1 σ of (μ0Meff, γ/2π, δ) from the Jacobian and the residual variance."""
    step = 1e-6 * max(meff, 1e-3)
    shape = kittel_frequency(b, theta_h, meff, gamma=1.0)
    d_meff = gamma * (kittel_frequency(b, theta_h, meff + step, gamma=1.0)
                      - kittel_frequency(b, theta_h, meff - step, gamma=1.0)) / (2 * step)
    cols = [d_meff] + ([shape] if fit_gamma else []) + ([np.ones_like(b)] if offset else [])
    jac = np.stack(cols, axis=1)
    dof = b.size - jac.shape[1]
    if dof <= 0:
        return math.nan, math.nan, math.nan
    try:
        cov = np.linalg.inv(jac.T @ jac) * (sse / dof)
    except np.linalg.LinAlgError:
        return math.inf, math.inf, math.inf
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None)).tolist()
    out = [err[0], err[1] if fit_gamma else 0.0, math.nan]
    if offset:
        out[2] = err[-1]
    return out[0], out[1], out[2]
