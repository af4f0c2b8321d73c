"""Ferromagnetic resonance of a thin film in a tilted field (Kittel / Smit–Beljers).

Angles are measured from the film plane; fields are in tesla (μ0H, μ0Meff).
"""

from __future__ import annotations

import numpy as np


def magnetization_angle(field: np.ndarray | float, theta_h: float, meff: float) -> np.ndarray:
    """Equilibrium out-of-plane angle θ_M (rad) of the magnetization.

    Solves B·sin(θ_H − θ_M) = μ0Meff·sin θ_M·cos θ_M by bisection (vectorised);
    θ_M lies between 0 and θ_H for a positive field.
    """
    b = np.abs(np.asarray(field, dtype=float))
    lo = np.zeros_like(b)
    hi = np.full_like(b, theta_h)
    for _ in range(50):  # 2^-50 of the interval: far below any measurable angle
        mid = 0.5 * (lo + hi)
        g = b * np.sin(theta_h - mid) - meff * np.sin(mid) * np.cos(mid)
        lo = np.where(g > 0, mid, lo)
        hi = np.where(g > 0, hi, mid)
    return 0.5 * (lo + hi)


def kittel_frequency(field: np.ndarray | float, theta_h: float, meff: float,
                     gamma: float = 28.0e9) -> np.ndarray:
    """FMR frequency (Hz) for field magnitude ``field`` (T) at ``theta_h`` (rad) from the plane.

    ``gamma`` is γ/2π in Hz/T, ``meff`` is μ0Meff in T.
    """
    b = np.abs(np.asarray(field, dtype=float))
    tm = magnetization_angle(b, theta_h, meff)
    proj = b * np.cos(theta_h - tm)
    stiff_1 = proj + meff * np.cos(2 * tm)
    stiff_2 = proj - meff * np.sin(tm) ** 2
    return gamma * np.sqrt(np.clip(stiff_1 * stiff_2, 0.0, None))
