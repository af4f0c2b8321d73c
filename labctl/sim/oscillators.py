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

    # Below threshold the thermal mode narrows as Delta f0 (1 - zeta) [paper]; the clip at the
    # threshold linewidth joins it continuously to the auto-oscillation branch.
    sub = np.maximum(p.linewidth_fmr * (1.0 - zeta), p.linewidth_threshold)
    above = p.linewidth_min + (p.linewidth_threshold - p.linewidth_min) * np.exp(
        -p0 / p.linewidth_p)
    linewidth = np.where(zeta < 1.0, sub, above)

    # thermal population ~ 1/(1 - zeta) so 1/P is linear in I and vanishes at I_th [paper];
    # the floor at the same 1 - zeta as the linewidth clip keeps it finite near threshold
    delta = p.linewidth_threshold / p.linewidth_fmr
    thermal = p.thermal_power / np.maximum(np.abs(1.0 - zeta), delta)
    # rectified output ~ I^2 p sin^2(2 phi) (AMR); but the thermal peak of the model is the
    # mode population seen through a fixed read current so 1/P stays linear: see docs
    amr = np.sin(2.0 * np.radians(p.phi_deg)) ** 2
    scale = p.power_scale * amr
    power = scale * ((i_abs / 1e-3) ** 2 * p0 + _thermal_weight(i_abs, thresholds) * thermal)
    return OscillatorState(zeta, p0, freq, linewidth, power)


def _thermal_weight(i_abs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Read-out weight of the thermal mode: (I/1 mA)^2 near threshold, ~0 at zero current."""
    return (i_abs / 1e-3) ** 2
