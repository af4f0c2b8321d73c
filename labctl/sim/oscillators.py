"""One spin Hall nano-oscillator: the universal auto-oscillator model, evaluated over the chain."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labctl.sim.params import DeviceParams


@dataclass
class OscillatorState:
    """Free-running state of each constriction (arrays of length N_OSC)."""

    zeta: np.ndarray  # I / I_th
    p0: np.ndarray  # normalised auto-oscillation power, 0 below threshold
    frequency: np.ndarray  # Hz
    linewidth: np.ndarray  # FWHM, Hz
    power: np.ndarray  # integrated power at the device, W


def normalized_power(zeta: np.ndarray, q: float) -> np.ndarray:
    """p0 = (zeta - 1)/(zeta + Q) above threshold, 0 below."""
    return np.where(zeta > 1.0, (zeta - 1.0) / (zeta + q), 0.0)


def nonlinear_shift_scale(p: DeviceParams) -> float:
    """N/2pi (Hz) such that df/dI = p.nonlinear_slope() just above the mean threshold."""
    # dp0/dzeta = 1/(1+Q) at zeta = 1, so N = slope * I_th * (1+Q); the mean is summed in
    # order, exactly as numpy sums so few elements
    mean_th = sum(float(x) for x in p.i_th) / len(p.i_th)
    return p.nonlinear_slope() * mean_th * (1.0 + p.q_nl)


@lru_cache(maxsize=16)
def _amr_scale(power_scale: float, phi_deg: float) -> float:
    # numpy's scalar sin/pow on purpose: the values stay those of the vectorised model
    return float(power_scale * np.sin(2.0 * np.radians(phi_deg)) ** 2)


def oscillator_state(p: DeviceParams, currents, thresholds, f_fmr: float,
                     gate_shift) -> OscillatorState:
    """State of each constriction carrying ``currents`` (A) with the given thresholds."""
    return OscillatorState(*(np.array(v) for v in oscillator_values(
        p, currents, thresholds, f_fmr, gate_shift)))


def oscillator_values(p: DeviceParams, currents, thresholds, f_fmr: float,
                      gate_shift) -> tuple[list[float], ...]:
    """oscillator_state as lists of floats: (zeta, p0, frequency, linewidth, power).

    The chain is four oscillators, so the model is evaluated on plain floats (numpy would
    only add per-call overhead); every operation is the elementwise IEEE one of the
    vectorised formulas, in the same order, so the results are identical to the last bit.
    """
    q = p.q_nl
    n_scale = nonlinear_shift_scale(p)
    offsets = p.f_offsets
    eps = p.thermal_power
    rounding2 = p.threshold_rounding**2
    lw_min, lw_fmr = p.linewidth_min, p.linewidth_fmr
    delta = (p.linewidth_threshold - lw_min) / lw_fmr
    delta2 = 4 * delta**2
    lw_half = lw_fmr * 0.5
    amr = _amr_scale(p.power_scale, p.phi_deg)
    zeta_l, p0_l, freq_l, lw_l, pw_l = [], [], [], [], []
    for i_j, th, off, shift in zip(currents, thresholds, offsets, gate_shift):
        i_abs = abs(float(i_j))
        th = float(th)
        zeta = i_abs / th
        p0 = (zeta - 1.0) / (zeta + q) if zeta > 1.0 else 0.0
        freq = f_fmr + float(off) + n_scale * p0 + float(shift)

        # Thermal (FMR-like) peak below threshold: p = eps/(1 - zeta), so 1/P falls linearly
        # and reaches zero at I_th [paper]. It saturates at eps/rounding within ~rounding of
        # I_th and stays as an incoherent plateau above, under the universal
        # p0 = (zeta-1)/(zeta+Q): P is continuous and monotonic, and the thermal level (eps)
        # is independent of how sharp the onset is (rounding), unlike a single smoothed
        # branch whose width is sqrt(eps).
        x = zeta - 1.0
        below = min(x, 0.0)
        thermal = eps / math.sqrt(below * below + rounding2)

        # Delta f0 (1 - zeta) below threshold [paper], ~1/p0 narrowing above, same smooth join
        linewidth = lw_min + lw_half * (math.sqrt(x * x + delta2) - x)

        # AMR rectification: P ~ I^2 p sin^2(2 phi). The thermal part is read out at I_th
        # (its 1/P stays linear as measured, its plateau does not grow with I); the ramp
        # factor only makes it vanish at I = 0.
        ramp = min(1.0, i_abs / (0.2 * th))
        a = i_abs / 1e-3
        b = th / 1e-3
        power = amr * (a * a * p0 + b * b * (ramp * ramp) * thermal)
        zeta_l.append(zeta)
        p0_l.append(p0)
        freq_l.append(freq)
        lw_l.append(linewidth)
        pw_l.append(power)
    return zeta_l, p0_l, freq_l, lw_l, pw_l
