"""Electromagnet on a bipolar supply, with pole-piece hysteresis and a Hall gaussmeter."""

from __future__ import annotations

import math
import threading

from labctl.sim.noise import gaussmeter_noise
from labctl.sim.params import DeviceParams


class Magnet:
    """Coil current, field and gaussmeter reading, evolving in virtual clock time."""

    def __init__(self, clock, params: DeviceParams, seed: int = 1):
        self._clock = clock
        self.p = params
        self._seed = seed
        self._setpoint = 0.0
        self._i = 0.0
        self._t = clock.now()
        # play operator (backlash) of the coil current: the pole pieces' memory
        self._play = 0.0
        self._reads = 0
        self._context = 0.0
        self._lock = threading.RLock()

    @property
    def tau(self) -> float:
        """Time constant L/R of the coil, s."""
        return self.p.coil_inductance / self.p.coil_resistance

    def _advance(self) -> None:
        now = self._clock.now()
        dt = now - self._t
        if dt <= 0:
            return
        self._t = now
        p = self.p
        r, lim, g = p.coil_resistance, p.supply_voltage_limit, p.supply_loop_gain
        target = self._setpoint
        tau = self.tau
        while dt > 0 and self._i != target:
            # L dI/dt = V - R I with V = R I_set + R g (I_set - I), clamped at +-lim
            v = r * target + r * g * (target - self._i)
            if abs(v) <= lim * (1 + 1e-9) and abs(r * target) <= lim:
                # |V| only falls on the way to the setpoint: linear all the way
                tau_eff = tau / (1.0 + g)
                self._i = target + (self._i - target) * math.exp(-dt / tau_eff)
                break
            v_lim = math.copysign(lim, v)
            i_inf = v_lim / r
            # the clamp releases where the unclamped V comes back to the limit
            i_exit = target + (r * target - v_lim) / (r * g) if g > 0 else i_inf
            frac = (i_exit - i_inf) / (self._i - i_inf) if self._i != i_inf else 0.0
            t_exit = -tau * math.log(frac) if 0.0 < frac < 1.0 else math.inf
            h = min(dt, t_exit)
            self._i = i_inf + (self._i - i_inf) * math.exp(-h / tau)
            dt -= h
            if h == t_exit:
                self._i = i_exit
            self._update_play()
        self._update_play()

    def _update_play(self) -> None:
        w = self.p.hysteresis_width
        self._play = min(max(self._play, self._i - w), self._i + w)

    # ---- supply side --------------------------------------------------------------------
    def set_supply_current(self, amps: float) -> None:
        """Program the supply's output current (A)."""
        with self._lock:
            self._advance()
            if amps != self._setpoint:
                self._reads = 0
            self._setpoint = float(amps)

    def supply_setpoint(self) -> float:
        """The programmed current (A)."""
        return self._setpoint

    def coil_current(self) -> float:
        """Actual coil current now (A)."""
        with self._lock:
            self._advance()
            return self._i

    def supply_voltage(self) -> float:
        """Output voltage the supply applies now (V): R*I plus L dI/dt."""
        with self._lock:
            self._advance()
            p = self.p
            v = p.coil_resistance * (self._setpoint
                                     + p.supply_loop_gain * (self._setpoint - self._i))
            return max(-p.supply_voltage_limit, min(p.supply_voltage_limit, v))

    # ---- field --------------------------------------------------------------------------
    def field(self) -> float:
        """True field at the sample now (T), signed, including the pole-piece remanence."""
        with self._lock:
            self._advance()
            return self._field()

    def _field(self) -> float:
        p = self.p
        # the play output lags the current by up to the backlash: after coming down it sits
        # above the current, leaving the poles magnetized along the last excursion
        lag = (self._play - self._i) / p.hysteresis_width
        return p.coil_constant * self._i + p.remanence * lag

    def gaussmeter_reading(self, context: float = 0.0) -> float:
        """Hall-probe reading (T): true field + noise + offset.

        ``context`` is the rest of the station's state (the I_SHNO the gaussmeter's reader
        saw): the noise of a reading depends only on the state and the readings taken since
        it last changed, so a resumed run reads exactly what an uninterrupted one did.
        """
        with self._lock:
            self._advance()
            if context != self._context:
                self._context = context
                self._reads = 0
            self._reads += 1
            noise = gaussmeter_noise(self._seed, self._setpoint + 1e3 * context, self._reads)
            return self._field() + self.p.hall_offset + self.p.hall_noise * noise
