"""Filamentary (Cu-ion) memristor: a threshold switch with a compliance-set analog LRS.

The state only moves beyond the SET/RESET thresholds (VTEAM-like); switching is fast
compared with any source step, so each applied level switches at once.
"""

from __future__ import annotations

import math

import numpy as np

from labctl.sim.params import DeviceParams

_TAG_SET = 0x5E7  # separate random streams for SET and forming voltages
_TAG_FORM = 0xF0


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

    @property
    def resistance(self) -> float:
        """Present resistance in ohm."""
        if self.broken:
            return self.p.r_broken
        if not self.formed:
            return self.p.r_pristine
        return self.r_lrs if self.lrs else self.p.r_hrs

    def _spread(self, tag: int) -> float:
        # drawn from (seed, memristor, cycle) so a replay on a fresh simulator repeats it
        z = np.random.default_rng([self.seed, tag, self.index, self.cycles]).standard_normal()
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
