"""One spin Hall nano-oscillator: the universal auto-oscillator model, vectorised over the chain."""

from __future__ import annotations

from dataclasses import dataclass

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
    # dp0/dzeta = 1/(1+Q) at zeta = 1, so N = slope * I_th * (1+Q)
    return p.nonlinear_slope() * float(np.mean(p.i_th)) * (1.0 + p.q_nl)


def oscillator_state(p: DeviceParams, currents: np.ndarray, thresholds: np.ndarray,
                     f_fmr: float, gate_shift: np.ndarray) -> OscillatorState:
    """State of each constriction carrying ``currents`` (A) with the given thresholds."""
    i_abs = np.abs(currents)
    zeta = i_abs / thresholds
    p0 = normalized_power(zeta, p.q_nl)
    freq = f_fmr + np.asarray(p.f_offsets) + nonlinear_shift_scale(p) * p0 + gate_shift

    # Thermal (FMR-like) peak below threshold: p = eps/(1 - zeta), so 1/P falls linearly and
    # reaches zero at I_th [paper]. It saturates at eps/rounding within ~rounding of I_th and
    # stays as an incoherent plateau above, under the universal p0 = (zeta-1)/(zeta+Q): P is
    # continuous and monotonic, and the thermal level (eps) is independent of how sharp the
    # onset is (rounding), unlike a single smoothed branch whose width is sqrt(eps).
    x = zeta - 1.0
    below = np.minimum(x, 0.0)
    thermal = p.thermal_power / np.sqrt(below * below + p.threshold_rounding**2)

    # Delta f0 (1 - zeta) below threshold [paper], ~1/p0 narrowing above, same smooth join
    lw_excess = p.linewidth_threshold - p.linewidth_min
    delta = lw_excess / p.linewidth_fmr
    linewidth = p.linewidth_min + p.linewidth_fmr * 0.5 * (np.sqrt(x * x + 4 * delta**2) - x)

    # AMR rectification: P ~ I^2 p sin^2(2 phi). The thermal part is read out at I_th (its
    # 1/P stays linear as measured, its plateau does not grow with I); the ramp factor only
    # makes it vanish at I = 0.
    amr = p.power_scale * np.sin(2.0 * np.radians(p.phi_deg)) ** 2
    ramp = np.minimum(1.0, i_abs / (0.2 * thresholds)) ** 2
    power = amr * ((i_abs / 1e-3) ** 2 * p0 + (thresholds / 1e-3) ** 2 * ramp * thermal)
    return OscillatorState(zeta, p0, freq, linewidth, power)
