"""Parameters of the simulated device, all in SI units; every one settable from [sim.device].

The defaults make the realistic device of PHYSICS.md: faint single lines a few dB above the
analyzer floor, a memristor that varies from cycle to cycle and wears out, an analyzer with
ripple and spurs. Each default carries its source: [paper] published (the reference is in
docs/physics.md), [est] an engineering estimate within the range PHYSICS.md allows.
``preset = "gentle"`` starts from strong, clean lines instead (demos only).
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


def _flag(v: Any) -> bool:
    return isinstance(v, bool)


def _vec(n: int, check):
    def ok(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and len(v) == n and all(check(x) for x in v)
    return ok


def _spurs(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(_vec(2, _num)(s) and s[0] > 0 for s in v)


def _p(default, check, doc: str):
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass
class DeviceParams:
    """Defaults of the simulated W/CoFeB/MgO SHNO chain, its memristors, magnet and analyzer."""

    # ---- oscillators [PHYSICS §1] ----
    i_th: list = _p([0.90e-3, 0.87e-3, 0.93e-3, 0.89e-3], _vec(N_OSC, _pos),
                    "threshold current of each constriction, A [est: J_th 1.7e8 A/cm2 x "
                    "width, a few % spread, paper]")
    q_nl: float = _p(1.0, _pos, "Q of the universal model p0=(zeta-1)/(zeta+Q) [est]")
    thermal_power: float = _p(3e-4, _pos,
                              "eta = kT/E0: normalised thermal power; below threshold "
                              "p = eta(1+Q)/(1-zeta), and it rounds the onset over "
                              "~sqrt(eta) [est: E0 of a 100 nm constriction]")
    df_di: float = _p(-0.6e12, _num,
                      "nonlinear frequency slope just above threshold with the magnetization "
                      "in the film plane, Hz/A (<0: red shift) [est]")
    df_di_from_tilt: bool = _p(True, _flag,
                               "scale df_di with the magnetization's out-of-plane angle: red "
                               "near the plane, blue near the normal [paper: macrospin]")
    tilt_crit_deg: float = _p(65.0, _num,
                              "field tilt where the nonlinear shift changes sign, deg "
                              "[est: 60-70 measured; 55 in the pure macrospin picture]")
    joule_df_di2: float = _p(-50e12, _num,
                             "red drift from Joule heating (lowers Meff): df = this x I^2, "
                             "Hz/A^2 [est]")
    f_offsets: list = _p([110e6, 40e6, -30e6, -120e6], _vec(N_OSC, _num),
                         "frequency offset of each constriction (width spread in the chain), "
                         "Hz [est]")
    frequency_offset: float = _p(-100e6, _num,
                                 "offset of the whole chain from f_FMR: the mode localized in "
                                 "the constriction sits below FMR, Hz [est; device-to-device "
                                 "spread ~270 MHz, paper]")
    meff: float = _p(0.45, _pos, "mu0*Meff, T [paper: 0.3-0.5 T]")
    gamma: float = _p(28.5e9, _pos, "gamma/2pi, Hz/T [paper: 28-29.4 GHz/T]")
    tilt_deg: float = _p(75.0, lambda v: _num(v) and 0 < v <= 90,
                         "field angle out of the film plane, deg [paper: 60-80]")
    phi_deg: float = _p(25.0, _num, "field angle in the plane, from the stripe, deg "
                        "[paper: 20-30]")
    shape_anisotropy: float = _p(0.03, _nonneg,
                                 "in-plane shape anisotropy of the stripe, T: at low field M "
                                 "turns along the stripe and the AMR output sin^2(2phi) "
                                 "vanishes [est]")
    linewidth_fmr: float = _p(300e6, _pos, "sub-threshold linewidth at I=0 (Delta f0), Hz "
                              "[est]")
    linewidth_threshold: float = _p(29e6, _pos, "linewidth at threshold, Hz [est]")
    linewidth_min: float = _p(10e6, _pos, "linewidth far above threshold, Hz [est: 5-50 MHz]")
    power_scale: float = _p(0.5e-12, _pos,
                            "integrated power at I=1 mA, p=1, sin^2(2phi)=1, W [paper: "
                            "0.1-1 pW per constriction]")
    # ---- chain [PHYSICS §2] ----
    coupling: float = _p(90e6, _nonneg, "K/2pi between neighbours at p0 = coupling_p_ref, Hz "
                         "[est: 20-100 MHz]")
    coupling_p_ref: float = _p(0.3, _pos, "p0 at which K reaches `coupling` [est]")
    coupling_exponent: float = _p(3.0, _pos,
                                  "K = coupling * (sqrt(p_i p_j)/coupling_p_ref)**exponent "
                                  "[est]")
    sync_power_exponent: float = _p(0.0, _nonneg,
                                    "line power = sum(P_i) * n**x; peak then ~ n**(2+x) "
                                    "[est]")
    edge_broadening: float = _p(2.0, _nonneg,
                                "linewidth growth near a locking edge: x(1 + this*q^2) "
                                "unlocked, q the Adler sideband ratio; the same near the "
                                "edge on the locked side [est]")
    lock_margin: float = _p(0.7, lambda v: _num(v) and 0 <= v < 1,
                            "lock ratio above which a locked cluster broadens (phase "
                            "slips) [est]")
    sideband_orders: int = _p(2, lambda v: isinstance(v, int) and 0 <= v <= 4,
                              "Adler modulation sidebands drawn per side of a beating pair "
                              "[paper: Adler]")
    # ---- stripe ----
    r0: float = _p(150.0, _pos, "stripe resistance at zero current, ohm [est]")
    r_quad: float = _p(2.0e6, _nonneg, "a of R(I) = R0 + a*I^2, ohm/A^2 (Joule heating) "
                       "[est]")
    # ---- memristors [PHYSICS §3] ----
    gated_memristor: int = _p(1, lambda v: isinstance(v, int) and 0 <= v < N_MEM,
                              "index of the memristor whose top electrode is the gate")
    formed: bool = _p(True, _flag, "memristors already formed")
    memristor_lrs: list = _p([False] * N_MEM, _vec(N_MEM, _flag),
                             "initial state of each memristor (True = LRS)")
    r_lrs_initial: float = _p(10e3, _pos, "resistance of an initially-LRS memristor, ohm")
    r_hrs: float = _p(5e9, _pos, "median HRS resistance, ohm [est: > 1 GOhm]")
    r_hrs_spread: float = _p(0.5, _nonneg, "log-normal sigma of R_HRS per cycle [est]")
    r_pristine: float = _p(50e9, _pos, "resistance before forming, ohm [est]")
    r_broken: float = _p(300.0, _pos, "resistance after breakdown, ohm [est: 0.1-1 kOhm]")
    v_forming: float = _p(6.0, _pos, "median forming voltage, V [est: 4-8 V]")
    v_set: float = _p(3.0, _pos, "median SET voltage, V [est: 2-5 V]")
    v_set_spread: float = _p(0.15, _nonneg, "log-normal sigma of the SET voltage per cycle "
                             "[est: ~15 %]")
    v_reset: float = _p(-0.8, lambda v: _num(v) and v < 0, "median RESET voltage, V "
                        "[est: -0.5...-2 V]")
    v_reset_spread: float = _p(0.15, _nonneg, "log-normal sigma of |V_RESET| per cycle [est]")
    reset_current_ratio: float = _p(0.5, _nonneg,
                                    "RESET also needs |I| >= this x the SET compliance "
                                    "(the filament dissolves by Joule heat) [est]")
    v_lrs: float = _p(0.4, _pos, "LRS = v_lrs / compliance (analog level), V [paper]")
    r_lrs_spread: float = _p(0.12, _nonneg, "log-normal sigma of R_LRS per SET (cycle to "
                             "cycle) [est]")
    device_spread: float = _p(0.1, _nonneg, "log-normal sigma of R_LRS and V_SET from one "
                              "memristor to the next (device to device) [est]")
    read_noise: float = _p(0.01, _nonneg, "relative rms noise of the memristor current in "
                           "a read (RTN, 1/f) [est]")
    endurance: float = _p(60.0, _pos, "median SET/RESET cycles before the filament no "
                          "longer dissolves (stuck in LRS) [est: 10-100+]")
    endurance_spread: float = _p(0.3, _nonneg, "log-normal sigma of the endurance per "
                                 "device [est]")
    i_breakdown: float = _p(1e-3, _pos, "SET/LRS current that destroys the memristor, A "
                            "[est]")
    v_breakdown: float = _p(9.0, _pos, "|V| that breaks down an HRS/pristine memristor, V "
                            "[est]")
    gate_series_resistance: float = _p(0.0, _nonneg,
                                       "top electrode lead + spreading resistance in series "
                                       "with the memristor, ohm; limits LRS gating to "
                                       "~20-30 MHz/V [est, sized to the paper's 28 MHz/V]")
    gate_df_dv: float = _p(20e6, _num, "HRS field effect: frequency shift of neighbours, "
                           "Hz/V [paper: up to 28 MHz/V]")
    gate_dith_dv: float = _p(-5e-6, _num, "HRS field effect: threshold shift of neighbours, "
                             "A/V [est]")
    # ---- magnet ----
    coil_constant: float = _p(0.06, _pos, "field per coil current, T/A [est]")
    coil_inductance: float = _p(0.2, _pos, "L, H [est: 0.1-0.5 H]")
    coil_resistance: float = _p(1.0, _pos, "R, ohm [est]")
    supply_voltage_limit: float = _p(20.0, _pos, "supply output voltage limit, V [est]")
    supply_loop_gain: float = _p(0.0, _nonneg,
                                 "extra proportional gain of the supply loop (0: lag = L/R)")
    remanence: float = _p(3e-3, _nonneg,
                          "field offset along the last excursion (+ after coming down), T "
                          "[est]")
    hysteresis_width: float = _p(0.5, _pos,
                                 "current reversal over which the remanence flips sign, A "
                                 "[est]")
    hall_noise: float = _p(5e-5, _nonneg, "gaussmeter noise rms, T [est]")
    hall_offset: float = _p(2e-5, _num, "gaussmeter zero offset, T [est]")
    # ---- amplifier and analyzer [PHYSICS §4] ----
    amp_gain_db: float = _p(32.0, _num, "amplifier gain, dB [paper: 20-35 dB]")
    amp_nf_db: float = _p(2.5, _nonneg, "amplifier noise figure, dB [est]")
    analyzer_floor_dbm_hz: float = _p(-155.0, _num, "analyzer's own noise floor, dBm/Hz "
                                      "[est: -150...-160]")
    ripple_db: float = _p(0.4, _nonneg, "amplitude of the gain ripple (cables, bias-T), dB "
                          "[est]")
    ripple_period: float = _p(650e6, _pos, "period of the gain ripple, Hz [est]")
    spurs: list = _p([[8.75e9, -73.0], [10.4e9, -70.0], [11.55e9, -77.0]], _spurs,
                     "[frequency Hz, power dBm] of the analyzer's own spurs (CW, seen in "
                     "every trace, also the background) [est]")
    sweep_k: float = _p(2.5, _pos, "sweep time = k*span/(RBW*min(VBW, RBW)) [est: "
                        "Gaussian RBW filter]")

    @property
    def n(self) -> int:
        return N_OSC

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> DeviceParams:
        """Defaults (or a preset) with the [sim.device] overrides applied; ConfigError on any
        bad entry."""
        overrides = dict(overrides)
        preset = overrides.pop("preset", "realistic")
        if preset not in PRESETS:
            raise ConfigError(f"sim.device: preset = {preset!r}: expected one of "
                              f"{', '.join(PRESETS)}")
        known = {f.name: f for f in fields(cls)}
        clean: dict[str, Any] = dict(PRESETS[preset])
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


# "gentle": strong, clean lines for demonstrations (the old default). Analyses are tested on
# the realistic default, never only on this.
PRESETS: dict[str, dict[str, Any]] = {
    "realistic": {},
    "gentle": {"power_scale": 40e-12, "thermal_power": 5e-4, "ripple_db": 0.0, "spurs": [],
               "f_offsets": [42e6, 25e6, -27e6, -40e6], "coupling": 50e6,
               "coupling_exponent": 2.0,
               "linewidth_threshold": 15e6, "linewidth_min": 5e6, "edge_broadening": 0.0,
               "sideband_orders": 0, "gate_series_resistance": 0.0, "read_noise": 0.0,
               "r_lrs_spread": 0.0, "device_spread": 0.0, "r_hrs_spread": 0.0,
               "v_reset_spread": 0.0, "endurance": 1e9},
}
