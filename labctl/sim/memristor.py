"""Filamentary (Cu-ion) memristor: a threshold switch with a compliance-set analog LRS.

The state only moves beyond the SET/RESET thresholds (VTEAM-like); switching is fast
compared with any source step, so each applied level switches at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labctl.sim.params import N_OSC, DeviceParams

_TAG_SET = 0x5E7  # separate random streams per quantity drawn
_TAG_FORM = 0xF0
_TAG_RESET = 0x4E5
_TAG_LRS = 0x14
_TAG_HRS = 0x415
_TAG_DEVICE = 0xDE0  # device-to-device: one draw per memristor and quantity
_TAG_READ = 0x4EAD
_GROWTH = 1.02  # an LRS filament grows once the current exceeds its SET current by this
_G_MIN, _G_MAX = 1e-100, 1e100  # conductances (S) and levels for the direct solve


class Memristor:
    """One memristor over the gap between constrictions ``index`` and ``index + 1``.

    Every random quantity is drawn from (seed, quantity, memristor, cycle), never from
    history, so a replay on a fresh simulator repeats it: the SET and RESET voltages and the
    HRS level vary from cycle to cycle, the LRS level from one SET to the next, and the SET
    voltage, LRS level and endurance from one memristor to the next.
    """

    def __init__(self, params: DeviceParams, index: int, seed: int):
        self.p = params
        self.index = index
        self.seed = seed
        self.formed = params.formed
        self.lrs = bool(params.memristor_lrs[index]) and params.formed
        self.broken = False
        self.r_lrs = params.r_lrs_initial
        # the current that set the present LRS (RESET needs about this much current)
        self.i_set = params.v_lrs / params.r_lrs_initial
        self.cycles = 0  # completed SET/RESET cycles: selects this cycle's draws
        self.sets = 0  # SET events: selects the LRS level's draw
        self._draws: dict[tuple[int, int], float] = {}  # (tag, count) -> standard normal
        self.endurance = params.endurance * math.exp(
            params.endurance_spread * self._normal(_TAG_DEVICE, 2))

    @property
    def resistance(self) -> float:
        """Present resistance in ohm."""
        if self.broken:
            return self.p.r_broken
        if not self.formed:
            return self.p.r_pristine
        if self.lrs:
            return self.r_lrs
        return self.p.r_hrs * math.exp(self.p.r_hrs_spread * self._normal(_TAG_HRS, self.cycles))

    @property
    def worn_out(self) -> bool:
        """The filament no longer dissolves: RESET fails from here on (stuck in LRS)."""
        return self.cycles >= self.endurance

    def _normal(self, tag: int, count: int) -> float:
        # the draws of the present cycle are kept (every source step asks for them again)
        key = (tag, count)
        z = self._draws.get(key)
        if z is None:
            if len(self._draws) >= 16:
                self._draws.clear()
            z = float(np.random.default_rng([self.seed, tag, self.index, count])
                      .standard_normal())
            self._draws[key] = z
        return z

    def _spread(self, tag: int) -> float:
        return math.exp(self.p.v_set_spread * self._normal(tag, self.cycles))

    def set_voltage(self) -> float:
        """SET voltage of the present cycle (log-normal cycle-to-cycle spread), V."""
        return (self.p.v_set * self._spread(_TAG_SET)
                * math.exp(self.p.device_spread * self._normal(_TAG_DEVICE, 0)))

    def reset_voltage(self) -> float:
        """RESET voltage of the present cycle (log-normal spread of its magnitude), V."""
        return self.p.v_reset * math.exp(self.p.v_reset_spread
                                         * self._normal(_TAG_RESET, self.cycles))

    def forming_voltage(self) -> float:
        """Forming voltage of this device, V."""
        return self.p.v_forming * self._spread(_TAG_FORM)

    def read_deviate(self, count: int, drive: int = 0) -> float:
        """Standard normal of the ``count``-th read after the ``drive``-th drive of the gate,
        in the present state (read noise)."""
        level = round(self.resistance) % 2**32
        return float(np.random.default_rng([self.seed, _TAG_READ, self.index, level,
                                            self.sets, self.cycles, count, drive]
                                           ).standard_normal())

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
                self.sets += 1
                self._set(compliance)
                return True
            return False
        if abs(current) > p.i_breakdown:
            self.break_down()
            return True
        if v_mem > 0 and current > self.i_set * _GROWTH:
            # more current than the SET allowed grows the filament: the compliance of a
            # repeated SET sets a lower LRS (R ~ 0.4 V / I)
            self._set(min(current, compliance))
            return True
        # the filament dissolves at the RESET voltage, given about the SET current (Joule
        # heat); a worn-out one no longer does
        if (v_mem < 0 and v_mem <= self.reset_voltage() and not self.worn_out
                and abs(current) >= p.reset_current_ratio * self.i_set):
            self.lrs = False
            self.cycles += 1
            return True
        return False

    def _set(self, current: float) -> None:
        if current > self.p.i_breakdown:
            self.break_down()
            return
        p = self.p
        self.lrs = True
        self.i_set = current
        self.r_lrs = (p.v_lrs / current * math.exp(p.r_lrs_spread * self._normal(_TAG_LRS,
                                                                                  self.sets))
                      * math.exp(p.device_spread * self._normal(_TAG_DEVICE, 1)))


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
    v_mem: float  # across the gated memristor itself (top electrode side minus node)
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
    # the lead and spreading resistance sit in series with the memristor
    g_m = 1.0 / (r_mem + p.gate_series_resistance)
    for _ in range(12):
        g_up = 1.0 / _segments(p, i_up, n_up)
        g_dn = 1.0 / _segments(p, i_dn, n_dn)
        # unknowns: stripe top V_A, node V_N, gate electrode V_G
        (sm, sv), (gm, gv) = modes
        row0 = [1.0, 0.0, 0.0] if sm == "V" else [g_up, -g_up, 0.0]
        row1 = [0.0, 0.0, 1.0] if gm == "V" else [0.0, -g_m, g_m]
        a = [row0, row1, [g_up, -(g_up + g_m + g_dn), g_m]]
        regular = (_G_MIN < g_up < _G_MAX and _G_MIN < g_dn < _G_MAX and _G_MIN < g_m < _G_MAX
                   and abs(sv) < _G_MAX and abs(gv) < _G_MAX)
        v_a, v_n, v_g = _solve3(a, [sv, gv, 0.0], regular)
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
        v_mem=0.0 if g_off else float(i_g * r_mem),
        i_upstream=float(i_up), i_downstream=float(i_dn))


def _solve3(a, rhs, regular: bool) -> list[float]:
    """np.linalg.solve(a, rhs) as Python floats (to rounding).

    A ``regular`` system (every conductance and level of sane size: it cannot be singular
    and nothing can overflow) is solved here by Gaussian elimination with partial pivoting,
    as LAPACK would, in Python floats: a source setting solves it a few times, and numpy's
    arrays and call cost ~7 µs per solve against ~2 here. Anything else goes through
    np.linalg.solve itself (which raises on a singular system).
    """
    if not regular:
        return np.linalg.solve(np.asarray(a, dtype=float), np.asarray(rhs, dtype=float)).tolist()
    (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a
    b0, b1, b2 = rhs
    # column 0: the largest pivot to the top, then eliminate below it
    if abs(a10) > abs(a00) and abs(a10) >= abs(a20):
        a00, a01, a02, b0, a10, a11, a12, b1 = a10, a11, a12, b1, a00, a01, a02, b0
    elif abs(a20) > abs(a00):
        a00, a01, a02, b0, a20, a21, a22, b2 = a20, a21, a22, b2, a00, a01, a02, b0
    f1, f2 = a10 / a00, a20 / a00
    a11, a12, b1 = a11 - f1 * a01, a12 - f1 * a02, b1 - f1 * b0
    a21, a22, b2 = a21 - f2 * a01, a22 - f2 * a02, b2 - f2 * b0
    if abs(a21) > abs(a11):  # column 1
        a11, a12, b1, a21, a22, b2 = a21, a22, b2, a11, a12, b1
    f = a21 / a11
    x2 = (b2 - f * b1) / (a22 - f * a12)
    x1 = (b1 - a12 * x2) / a11
    return [(b0 - a01 * x1 - a02 * x2) / a00, x1, x2]


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
