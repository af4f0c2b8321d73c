"""Filamentary (Cu-ion) memristor: a threshold switch with a compliance-set analog LRS.

The state only moves beyond the SET/RESET thresholds (VTEAM-like); switching is fast
compared with any source step, so each applied level switches at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.linalg import _umath_linalg

from labctl.sim.params import N_OSC, DeviceParams

_TAG_SET = 0x5E7  # separate random streams for SET and forming voltages
_TAG_FORM = 0xF0
_G_MIN, _G_MAX = 1e-100, 1e100  # conductances (S) and levels for the direct solve


class Memristor:
    """One memristor over the gap between constrictions ``index`` and ``index + 1``."""

    def __init__(self, params: DeviceParams, index: int, seed: int):
        self.p = params
        self.index = index
        self.seed = seed
        self.formed = params.formed
        self.lrs = bool(params.memristor_lrs[index]) and params.formed
        self.broken = False
        self.r_lrs = params.r_lrs_initial
        # the compliance that set the present LRS (RESET needs about this much current)
        self.i_set = params.v_lrs / params.r_lrs_initial
        self.cycles = 0  # completed SET/RESET cycles: selects this cycle's SET voltage
        self._draws: dict[tuple[int, int], float] = {}  # (tag, cycle) -> standard normal

    @property
    def resistance(self) -> float:
        """Present resistance in ohm."""
        if self.broken:
            return self.p.r_broken
        if not self.formed:
            return self.p.r_pristine
        return self.r_lrs if self.lrs else self.p.r_hrs

    def _spread(self, tag: int) -> float:
        # drawn from (seed, memristor, cycle) so a replay on a fresh simulator repeats it;
        # the draw of the present cycle is kept (every source step asks for it again)
        key = (tag, self.cycles)
        z = self._draws.get(key)
        if z is None:
            if len(self._draws) >= 4:
                self._draws.clear()
            z = np.random.default_rng([self.seed, tag, self.index, self.cycles]).standard_normal()
            self._draws[key] = z
        return math.exp(self.p.v_set_spread * z)

    def set_voltage(self) -> float:
        """SET voltage of the present cycle (log-normal cycle-to-cycle spread), V."""
        return self.p.v_set * self._spread(_TAG_SET)

    def forming_voltage(self) -> float:
        """Forming voltage of this device, V."""
        return self.p.v_forming * self._spread(_TAG_FORM)

    def break_down(self) -> None:
        """Permanent breakdown: a low-ohmic short that no RESET recovers."""
        self.broken = True
        self.formed = True
        self.lrs = True

    def update(self, v_mem: float, current: float, compliance: float) -> bool:
        """Apply ``v_mem`` across the device carrying ``current``; True if the state changed.

        ``compliance`` is the source's current limit; it clamps the SET and so sets the
        LRS level (0.4 V / I_cc) — and above ``i_breakdown`` it cannot stop the runaway.
        """
        p = self.p
        if self.broken:
            return False
        if not self.lrs:
            if abs(v_mem) >= p.v_breakdown:
                self.break_down()
                return True
            threshold = self.set_voltage() if self.formed else self.forming_voltage()
            if v_mem >= threshold:
                self.formed = True
                self._set(compliance)
                return True
            return False
        if abs(current) > p.i_breakdown:
            self.break_down()
            return True
        if v_mem > 0 and compliance > self.i_set * 1.000001 and v_mem >= self.set_voltage():
            self._set(compliance)  # a larger compliance grows the filament further
            return True
        # ECM rule: the filament dissolves once the reverse current reaches about the SET
        # compliance, or at the RESET voltage, whichever comes first
        if v_mem < 0 and (v_mem <= p.v_reset
                          or abs(current) >= p.reset_current_ratio * self.i_set * 0.999999):
            self.lrs = False
            self.cycles += 1
            return True
        return False

    def _set(self, compliance: float) -> None:
        if compliance > self.p.i_breakdown:
            self.break_down()
            return
        self.lrs = True
        self.i_set = compliance
        self.r_lrs = self.p.v_lrs / compliance


# ---- the gate network: stripe segments and the gated memristor ---------------------------
@dataclass(frozen=True)
class Source:
    """What a source applies: mode "I", "V" or "off", level, and compliance of the other."""

    mode: str
    value: float
    compliance: float


@dataclass(frozen=True)
class Solution:
    """Terminal readings and branch currents of the stripe + gate network."""

    v_stripe: float
    i_stripe: float
    v_gate: float
    i_gate: float
    v_mem: float  # across the gated memristor (top electrode minus node)
    i_upstream: float  # through constrictions 0..k
    i_downstream: float  # through constrictions k+1..N-1 (the gate current joins at the node)


def _segments(p: DeviceParams, current: float, count: int) -> float:
    # each constriction carries a quarter of R0 and heats with its own current
    return count * (p.r0 + p.r_quad * current * current) / N_OSC


def solve_circuit(p: DeviceParams, stripe: Source, gate: Source, r_mem: float) -> Solution:
    """DC solution: stripe source into the chain top, gate source into the node after k.

    A source whose level would exceed its compliance becomes the other kind of source at
    the compliance value (I = +-I_cc, V = I R), as a source meter does.
    """
    k = p.gated_memristor
    n_up, n_dn = k + 1, N_OSC - 1 - k
    modes = [_primary(stripe), _primary(gate)]
    i_up = i_dn = 0.0
    g_m = 1.0 / r_mem
    for _ in range(12):
        g_up = 1.0 / _segments(p, i_up, n_up)
        g_dn = 1.0 / _segments(p, i_dn, n_dn)
        # unknowns: stripe top V_A, node V_N, gate electrode V_G
        (sm, sv), (gm, gv) = modes
        row0 = [1.0, 0.0, 0.0] if sm == "V" else [g_up, -g_up, 0.0]
        row1 = [0.0, 0.0, 1.0] if gm == "V" else [0.0, -g_m, g_m]
        a = np.array([row0, row1, [g_up, -(g_up + g_m + g_dn), g_m]])
        regular = (_G_MIN < g_up < _G_MAX and _G_MIN < g_dn < _G_MAX and _G_MIN < g_m < _G_MAX
                   and abs(sv) < _G_MAX and abs(gv) < _G_MAX)
        v_a, v_n, v_g = _solve3(a, np.array([sv, gv, 0.0]), regular)
        i_s = g_up * (v_a - v_n)
        i_g = g_m * (v_g - v_n)
        changed = _limit(modes, 0, stripe, v_a, i_s) | _limit(modes, 1, gate, v_g, i_g)
        new_up, new_dn = i_s, i_s + i_g
        settled = abs(new_up - i_up) < 1e-12 and abs(new_dn - i_dn) < 1e-12
        i_up, i_dn = new_up, new_dn
        if settled and not changed:
            break
    s_off, g_off = stripe.mode == "off", gate.mode == "off"
    return Solution(
        v_stripe=0.0 if s_off else float(v_a), i_stripe=0.0 if s_off else float(i_s),
        v_gate=0.0 if g_off else float(v_g), i_gate=0.0 if g_off else float(i_g),
        v_mem=0.0 if g_off else float(v_g - v_n),
        i_upstream=float(i_up), i_downstream=float(i_dn))


def _solve3(a: np.ndarray, rhs: np.ndarray, regular: bool) -> list[float]:
    """np.linalg.solve(a, rhs) as Python floats.

    A ``regular`` system (every conductance and level of sane size: it cannot be singular
    and nothing can overflow) goes straight to the LAPACK gufunc that np.linalg.solve ends
    in (identical results, without its per-call wrapping); anything else through
    np.linalg.solve itself.
    """
    if regular:
        return _umath_linalg.solve1(a, rhs, signature="dd->d").tolist()
    return np.linalg.solve(a, rhs).tolist()


def _primary(src: Source) -> tuple[str, float]:
    return ("I", 0.0) if src.mode == "off" else (src.mode, src.value)


def _limit(modes: list, j: int, src: Source, v: float, i: float) -> bool:
    mode, _ = modes[j]
    if src.mode == "off":
        return False
    if src.mode == "I" and mode == "I" and abs(v) > src.compliance * (1 + 1e-12):
        modes[j] = ("V", math.copysign(src.compliance, v))
        return True
    if src.mode == "V" and mode == "V" and abs(i) > src.compliance * (1 + 1e-12):
        modes[j] = ("I", math.copysign(src.compliance, i))
        return True
    return False
