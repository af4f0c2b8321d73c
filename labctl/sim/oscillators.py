"""One spin Hall nano-oscillator: the universal auto-oscillator model, evaluated over the chain.

References for the numbers and rules here are collected in docs/physics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labctl.analysis.kittel import kittel_frequency, magnetization_angle
from labctl.sim.params import DeviceParams


@dataclass
class OscillatorState:
    """Free-running state of each constriction (arrays of length N_OSC)."""

    zeta: np.ndarray  # I / I_th, signed by the torque (anti-damping > 0)
    p0: np.ndarray  # coherent auto-oscillation power (universal model), 0 below threshold
    frequency: np.ndarray  # Hz
    linewidth: np.ndarray  # FWHM, Hz
    power: np.ndarray  # integrated power at the device, W


@dataclass(frozen=True)
class FieldState:
    """What the field sets for every constriction alike."""

    field: float  # T, signed
    f_fmr: float  # Hz
    theta_m: float  # rad, magnetization out of the plane
    nonlinear_factor: float  # df/dI just above threshold / df_di
    amr: float  # W: power_scale x sin^2(2 phi_M)


def normalized_power(zeta: np.ndarray, q: float) -> np.ndarray:
    """p0 = (zeta - 1)/(zeta + Q) above threshold, 0 below."""
    return np.where(zeta > 1.0, (zeta - 1.0) / (zeta + q), 0.0)


def in_plane_angle(field: float, p: DeviceParams) -> float:
    """In-plane magnetization angle from the stripe axis (rad): the in-plane field against
    the stripe's shape anisotropy, B_ip sin(phi_H - phi) = (B_k/2) sin 2phi (bisection)."""
    phi_h = math.radians(p.phi_deg)
    b_ip = abs(field) * math.cos(math.radians(p.tilt_deg))
    half_k = 0.5 * p.shape_anisotropy
    if half_k <= 0.0:
        return phi_h
    lo, hi = 0.0, phi_h
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if b_ip * math.sin(phi_h - mid) > half_k * math.sin(2.0 * mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def field_state(p: DeviceParams, field: float) -> FieldState:
    """FMR frequency, magnetization angles and their consequences at ``field`` (T)."""
    theta_h = math.radians(p.tilt_deg)
    f_fmr = float(kittel_frequency(field, theta_h, p.meff, p.gamma))
    theta_m = float(magnetization_angle(max(abs(field), 1e-9), theta_h, p.meff))
    factor = 1.0
    if p.df_di_from_tilt:
        # Macrospin [Slavin & Tiberkevich 2009]: N ~ (3 sin^2 theta_M - 1), negative with M
        # near the plane, positive near the normal. Measured constrictions cross over at a
        # larger tilt (edge-localized modes, Oersted field [Dvornik 2018]), so the crossing
        # is placed at the magnetization angle the field tilt_crit_deg gives; the factor is 1
        # with M in the plane, 0 at the crossing, negative (blue) beyond.
        crit = float(magnetization_angle(max(abs(field), 1e-9), math.radians(p.tilt_crit_deg),
                                         p.meff))
        s_c = math.sin(crit) ** 2
        factor = (s_c - math.sin(theta_m) ** 2) / s_c if s_c > 0 else 1.0
    amr = p.power_scale * math.sin(2.0 * in_plane_angle(field, p)) ** 2
    return FieldState(float(field), f_fmr, theta_m, factor, amr)


def nonlinear_shift_scale(p: DeviceParams, fs: FieldState) -> float:
    """N/2pi (Hz): df/dI just above the mean threshold is df_di x the angle factor."""
    # dp0/dzeta = 1/(1+Q) at zeta = 1, so N = slope * I_th * (1+Q)
    mean_th = sum(float(x) for x in p.i_th) / len(p.i_th)
    return p.df_di * fs.nonlinear_factor * mean_th * (1.0 + p.q_nl)


def oscillator_state(p: DeviceParams, currents, thresholds, fs: FieldState,
                     gate_shift) -> OscillatorState:
    """State of each constriction carrying ``currents`` (A) with the given thresholds."""
    return OscillatorState(*(np.array(v) for v in oscillator_values(
        p, currents, thresholds, fs, gate_shift)))


def oscillator_values(p: DeviceParams, currents, thresholds, fs: FieldState,
                      gate_shift) -> tuple[list[float], ...]:
    """oscillator_state as lists of floats: (zeta, p0, frequency, linewidth, power).

    Four oscillators: plain floats, numpy would only add per-call overhead.
    """
    q = p.q_nl
    eta4 = 4.0 * p.thermal_power
    n_scale = nonlinear_shift_scale(p, fs)
    base = fs.f_fmr + p.frequency_offset
    lw_min, lw_fmr = p.linewidth_min, p.linewidth_fmr
    delta = (p.linewidth_threshold - 0.5 * lw_min) / lw_fmr
    delta2 = 4 * delta**2
    lw_half = lw_fmr * 0.5
    # the spin Hall torque is anti-damping for one sign of I x B only
    polarity = -1.0 if fs.field < 0 else 1.0
    zeta_l, p0_l, freq_l, lw_l, pw_l = [], [], [], [], []
    for i_j, th, off, shift in zip(currents, thresholds, p.f_offsets, gate_shift):
        i_j = float(i_j)
        i_abs = abs(i_j)
        th = float(th)
        zeta = polarity * i_j / th
        x = zeta - 1.0
        p0 = x / (zeta + q) if x > 0.0 else 0.0
        # Universal model with thermal noise: p solves p^2 - u p - eta = 0, u the deterministic
        # gain (1-zeta)/(1+Q) below and p0 above threshold (same slope at zeta = 1): p0 far
        # above, eta (1+Q)/(1-zeta) below -- 1/P falls linearly to zero at I_th [paper] --
        # and a smooth onset ~sqrt(eta) wide.
        u = x / (max(zeta, 1.0) + q)
        pn = 0.5 * (u + math.sqrt(u * u + eta4))
        freq = base + float(off) + n_scale * pn + p.joule_df_di2 * i_j * i_j + float(shift)
        # Delta f0 (1 - zeta) below threshold [paper], narrowing ~1/(zeta-1) above to lw_min;
        # one smooth curve through linewidth_threshold at zeta = 1
        r = math.sqrt(x * x + delta2)
        linewidth = lw_half * (r - x) + 0.5 * lw_min * (1.0 + x / r)
        # AMR rectification P ~ I^2 p sin^2(2 phi_M). Below threshold the thermal part is
        # read out at I_th (its 1/P stays linear as measured); it vanishes at I = 0.
        ramp = min(1.0, i_abs / (0.2 * th))
        a = max(i_abs, th) * ramp / 1e-3
        power = fs.amr * a * a * pn
        zeta_l.append(zeta)
        p0_l.append(p0)
        freq_l.append(freq)
        lw_l.append(linewidth)
        pw_l.append(power)
    return zeta_l, p0_l, freq_l, lw_l, pw_l
