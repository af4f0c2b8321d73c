"""Parameters of the simulated device, all in SI units; every one settable from [sim.device].

Tags as in PHYSICS.md: [paper] published, [est] engineering estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from labctl.errors import ConfigError

N_OSC = 4  # constrictions in the chain
N_MEM = N_OSC - 1  # memristors, one over each gap


def _pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and math.isfinite(v)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _nonneg(v: Any) -> bool:
    return _num(v) and v >= 0


def _vec(n: int, check):
    def ok(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and len(v) == n and all(check(x) for x in v)
    return ok


def _p(default, check, doc: str):
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass
class DeviceParams:
    """Defaults of the simulated W/CoFeB/MgO SHNO chain, its memristors, magnet and analyzer."""

    # ---- oscillators [PHYSICS §1] ----
    i_th: list = _p([0.90e-3, 0.87e-3, 0.93e-3, 0.89e-3], _vec(N_OSC, _pos),
                    "threshold current of each constriction, A [est]")
    q_nl: float = _p(1.0, _pos, "Q of the universal model p0=(zeta-1)/(zeta+Q)")
    df_di: float = _p(-0.5e12, _num,
                      "nonlinear frequency slope just above threshold, Hz/A (<0: red shift)")
    df_di_from_tilt: bool = _p(False, lambda v: isinstance(v, bool),
                               "derive the sign of df_di from tilt_deg vs tilt_crit_deg")
    tilt_crit_deg: float = _p(65.0, _num, "tilt where the nonlinear shift changes sign, deg")
    f_offsets: list = _p([42e6, 25e6, -27e6, -40e6], _vec(N_OSC, _num),
                         "static frequency offset of each constriction (width spread), Hz")
    meff: float = _p(0.45, _pos, "mu0*Meff, T")
    gamma: float = _p(28.5e9, _pos, "gamma/2pi, Hz/T")
    tilt_deg: float = _p(75.0, lambda v: _num(v) and 0 < v <= 90,
                         "field angle out of the film plane, deg")
    phi_deg: float = _p(25.0, _num, "field (and magnetization) angle in the plane, deg")
    linewidth_fmr: float = _p(300e6, _pos, "sub-threshold linewidth at I=0 (Delta f0), Hz")
    linewidth_threshold: float = _p(15e6, _pos, "linewidth at threshold, Hz")
    linewidth_min: float = _p(5e6, _pos, "linewidth far above threshold, Hz")
    thermal_power: float = _p(0.25, _pos,
                              "thermal (FMR-like) level eps: p = eps/(1-zeta) below threshold, "
                              "in units of power_scale*(I_th/1 mA)^2; 0.25 makes the peak "
                              "measurable from ~0.6-0.7 I_th at RBW 1 MHz")
    threshold_rounding: float = _p(0.035, _pos,
                                   "|1-zeta| within which the thermal branch saturates at "
                                   "eps/rounding (kept above threshold as a plateau); sets "
                                   "how sharp the onset is, independently of eps")
    power_scale: float = _p(1.5e-12, _pos, "power at I=1 mA, p=1, sin^2(2phi)=1, W [paper]")
    # ---- chain [PHYSICS §2] ----
    coupling: float = _p(50e6, _nonneg, "K/2pi between neighbours at p0 = coupling_p_ref, Hz")
    coupling_p_ref: float = _p(0.3, _pos, "p0 at which K reaches `coupling`")
    coupling_exponent: float = _p(2.0, _pos,
                                  "K = coupling * (sqrt(p_i p_j)/coupling_p_ref)**exponent")
    sync_power_exponent: float = _p(0.0, _nonneg,
                                    "line power = sum(P_i) * n**x; peak then ~ n**(2+x)")
    # ---- stripe ----
    r0: float = _p(150.0, _pos, "stripe resistance at zero current, ohm")
    r_quad: float = _p(2.0e6, _nonneg, "a of R(I) = R0 + a*I^2, ohm/A^2 (Joule heating)")
    # ---- memristors [PHYSICS §3] ----
    gated_memristor: int = _p(1, lambda v: isinstance(v, int) and 0 <= v < N_MEM,
                              "index of the memristor whose top electrode is the gate")
    formed: bool = _p(True, lambda v: isinstance(v, bool), "memristors already formed")
    memristor_lrs: list = _p([False] * N_MEM, _vec(N_MEM, lambda v: isinstance(v, bool)),
                             "initial state of each memristor (True = LRS)")
    r_lrs_initial: float = _p(10e3, _pos, "resistance of an initially-LRS memristor, ohm")
    r_hrs: float = _p(5e9, _pos, "HRS resistance, ohm (>1 GOhm)")
    r_pristine: float = _p(50e9, _pos, "resistance before forming, ohm")
    r_broken: float = _p(300.0, _pos, "resistance after breakdown, ohm")
    v_forming: float = _p(6.0, _pos, "median forming voltage, V")
    v_set: float = _p(3.0, _pos, "median SET voltage, V")
    v_set_spread: float = _p(0.15, _nonneg, "log-normal sigma of the SET voltage per cycle")
    v_reset: float = _p(-0.8, lambda v: _num(v) and v < 0, "RESET voltage threshold, V")
    reset_current_ratio: float = _p(1.0, _pos,
                                    "RESET also once |I| >= this x the SET compliance")
    v_lrs: float = _p(0.4, _pos, "LRS = v_lrs / compliance (analog level), V")
    i_breakdown: float = _p(1e-3, _pos, "SET/LRS current that destroys the memristor, A")
    v_breakdown: float = _p(9.0, _pos, "|V| that breaks down an HRS/pristine memristor, V")
    gate_df_dv: float = _p(20e6, _num, "HRS field effect: frequency shift of neighbours, Hz/V")
    gate_dith_dv: float = _p(-5e-6, _num, "HRS field effect: threshold shift of neighbours, A/V")
    # ---- magnet ----
    coil_constant: float = _p(0.06, _pos, "field per coil current, T/A")
    coil_inductance: float = _p(0.2, _pos, "L, H")
    coil_resistance: float = _p(1.0, _pos, "R, ohm")
    supply_voltage_limit: float = _p(20.0, _pos, "supply output voltage limit, V")
    supply_loop_gain: float = _p(0.0, _nonneg,
                                 "extra proportional gain of the supply loop (0: lag = L/R)")
    remanence: float = _p(3e-3, _nonneg,
                          "field offset along the last excursion (+ after coming down), T")
    hysteresis_width: float = _p(0.5, _pos,
                                 "current reversal over which the remanence flips sign, A")
    hall_noise: float = _p(5e-5, _nonneg, "gaussmeter noise rms, T")
    hall_offset: float = _p(2e-5, _num, "gaussmeter zero offset, T")
    # ---- amplifier and analyzer [PHYSICS §4] ----
    amp_gain_db: float = _p(32.0, _num, "amplifier gain, dB")
    amp_nf_db: float = _p(2.5, _nonneg, "amplifier noise figure, dB")
    analyzer_floor_dbm_hz: float = _p(-155.0, _num, "analyzer's own noise floor, dBm/Hz")
    sweep_k: float = _p(2.5, _pos, "sweep time = k*span/(RBW*VBW)")

    @property
    def n(self) -> int:
        return N_OSC

    def nonlinear_slope(self) -> float:
        """df/dI just above threshold (Hz/A) with the sign rule applied."""
        if not self.df_di_from_tilt:
            return self.df_di
        # the default sign holds above the critical tilt and flips below it
        return self.df_di if self.tilt_deg >= self.tilt_crit_deg else -self.df_di

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> DeviceParams:
        """Defaults with the [sim.device] overrides applied; ConfigError on any bad entry."""
        known = {f.name: f for f in fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(f"sim.device: unknown key '{key}' = {value!r}")
            f = known[key]
            v = value
            if isinstance(v, tuple):
                v = list(v)
            if isinstance(f.default, float) and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if not f.metadata["check"](v):
                raise ConfigError(f"sim.device: {key} = {value!r}: expected {f.metadata['doc']}")
            clean[key] = v
        p = replace(cls(), **clean)
        if p.linewidth_min > p.linewidth_threshold:
            raise ConfigError(f"sim.device: linewidth_min = {p.linewidth_min!r}: "
                              "must not exceed linewidth_threshold")
        return p

    @classmethod
    def documentation(cls) -> dict[str, str]:
        """Name -> 'default: description' for every parameter."""
        return {f.name: f"{getattr(cls(), f.name)!r}: {f.metadata['doc']}" for f in fields(cls)}
