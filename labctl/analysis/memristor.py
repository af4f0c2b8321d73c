"""Memristor cycle analysis: SET/RESET voltages from a staircase I–V, read resistance (§3, §6)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Readings this close to the compliance count as clamped (source meters report ~I_cc).
_COMPLIANCE_FRACTION = 0.95
# Points before a step whose conductance forms the baseline: one noisy reading is not a state.
_BASELINE = 3
_CURRENT_FLOOR = 1e-15  # A, below any source meter's resolution


@dataclass(frozen=True)
class Switching:
    v_set: float  # V, NaN if no SET was seen
    v_reset: float  # V, NaN if no RESET was seen
    set_index: int | None
    reset_index: int | None


def _first_jump(v: np.ndarray, i: np.ndarray, idx: np.ndarray, factor: float,
                up: bool, compliance: float | None) -> int | None:
    """First index in ``idx`` where conductance rises (``up``) or falls by ``factor``.

    Conductance rather than current, because within a state the current still follows V.
    The state before is the median of the last few readings and the state after must hold
    for the next reading too, so that one noisy reading can trigger neither.
    """
    idx = idx[v[idx] != 0]
    g = np.abs(i[idx]) / np.abs(v[idx])
    for n, k in enumerate(idx.tolist()):
        if up and compliance is not None and abs(i[k]) >= _COMPLIANCE_FRACTION * compliance:
            return k
        if n == 0:
            continue
        before = float(np.median(g[max(0, n - _BASELINE):n]))
        after = g[n:n + 2]
        if up and after.min() >= factor * max(before, _CURRENT_FLOOR / abs(v[k])):
            return k
        if not up and after.max() * factor <= before and before * abs(v[k]) > _CURRENT_FLOOR:
            return k
    return None


def detect_switching(voltages: np.ndarray, currents: np.ndarray, compliance: float | None = None,
                     jump_factor: float = 10.0) -> Switching:
    """V_SET and V_RESET of one staircase cycle 0 → +Vmax → 0 → Vmin → 0.

    SET: first point of the positive up-sweep where |I| jumps by ``jump_factor`` (or reaches
    ``compliance``); RESET: first point of the negative down-sweep where |I| drops by it.
    """
    v = np.asarray(voltages, dtype=float)
    i = np.asarray(currents, dtype=float)
    if v.shape != i.shape or v.ndim != 1 or v.size < 2:
        raise ValueError(f"voltages and currents must be equal 1-D arrays, got {v.shape}, "
                         f"{i.shape}")
    top = int(np.argmax(v))
    up = np.arange(0, top + 1)
    up = up[v[up] > 0]
    set_k = _first_jump(v, i, up, jump_factor, True, compliance) if v[top] > 0 else None
    bottom = top + int(np.argmin(v[top:]))
    down = np.arange(top, bottom + 1)
    down = down[v[down] < 0]
    reset_k = _first_jump(v, i, down, jump_factor, False, None) if down.size else None
    return Switching(v_set=float(v[set_k]) if set_k is not None else math.nan,
                     v_reset=float(v[reset_k]) if reset_k is not None else math.nan,
                     set_index=set_k, reset_index=reset_k)


def resistance_at(v_read: np.ndarray | float, i_read: np.ndarray | float,
                  current_floor: float = _CURRENT_FLOOR) -> np.ndarray | float:
    """|V/I| (Ω) of a read; inf when |I| is below ``current_floor`` (open), NaN at V = 0.

    An HRS read (> 1 GΩ at 0.1 V) is pA-level and its sign can flip with noise, hence the
    magnitude; a read at 0 V carries no resistance information at all.
    """
    v = np.asarray(v_read, dtype=float)
    i = np.asarray(i_read, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(v / i)
    r = np.where(np.abs(i) <= current_floor, np.inf, r)
    r = np.where((v == 0) | ~np.isfinite(v) | ~np.isfinite(i), np.nan, r)
    return float(r) if r.ndim == 0 else r
