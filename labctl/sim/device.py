"""Physics model of the simulated probe station (provisional simple form; API is final)."""

from __future__ import annotations

import math
import threading

import numpy as np

from labctl.analysis.kittel import kittel_frequency
from labctl.errors import ConfigError


class Magnet:
    """Electromagnet on a bipolar supply (provisional: first-order lag, fixed remanence)."""

    def __init__(self, clock, seed: int = 1):
        self._clock = clock
        self._seed = seed
        self._set = 0.0
        self._i = 0.0
        self._t = clock.now()
        self._reads = 0

    def _advance(self):
        now = self._clock.now()
        dt = now - self._t
        self._i = self._set + (self._i - self._set) * math.exp(-dt / 0.2)
        self._t = now

    def set_supply_current(self, amps: float) -> None:
        self._advance()
        self._set = float(amps)
        self._reads = 0

    def supply_setpoint(self) -> float:
        return self._set

    def coil_current(self) -> float:
        self._advance()
        return self._i

    def field(self) -> float:
        return 0.06 * self.coil_current()

    def gaussmeter_reading(self) -> float:
        self._reads += 1
        rng = np.random.default_rng([self._seed, 2, round(self._set * 1e6) & 0xFFFFFFFF,
                                     self._reads])
        return self.field() + 2e-5 + 5e-5 * rng.standard_normal()


class Terminal:
    """A two-terminal load behind a source: stripe (ohmic + I^2) or memristor gate."""

    def __init__(self, model: DeviceModel, role: str):
        self._model = model
        self.role = role
        self._v = 0.0
        self._i = 0.0

    def _r(self, amps: float) -> float:
        if self.role == "shno_source":
            return 150.0 + 2e6 * amps * amps
        return 5e9

    def source_current(self, amps: float, voltage_compliance: float) -> tuple[float, float]:
        r = self._r(amps)
        v = amps * r
        if abs(v) > voltage_compliance:
            v = math.copysign(voltage_compliance, v)
            amps = v / r
        self._v, self._i = v, amps
        return v, amps

    def source_voltage(self, volts: float, current_compliance: float) -> tuple[float, float]:
        r = self._r(0.0)
        i = volts / r
        if abs(i) > current_compliance:
            i = math.copysign(current_compliance, i)
            volts = i * r
        self._v, self._i = volts, i
        return volts, i

    def off(self) -> None:
        self._v = self._i = 0.0

    def read(self) -> tuple[float, float]:
        return self._v, self._i


class DeviceModel:
    """The four-SHNO chain with three memristors, magnet and analyzer front end."""

    def __init__(self, clock, seed: int = 1, **overrides):
        for key, value in overrides.items():
            raise ConfigError(f"sim.device: unknown key '{key}' = {value!r}")
        self.clock = clock
        self.seed = seed
        self.params = None
        self.stripe = Terminal(self, "shno_source")
        self.gate = Terminal(self, "gate")
        self.magnet = Magnet(clock, seed)
        self._lock = threading.RLock()
        self._count = 0

    def terminal(self, role: str) -> Terminal:
        if role == "shno_source":
            return self.stripe
        if role == "gate":
            return self.gate
        raise ValueError(f"unknown terminal role {role!r}")

    def _lines(self):
        b = abs(self.magnet.field())
        f0 = float(kittel_frequency(b, math.radians(75), 0.45, 28.5e9))
        i = abs(self.stripe.read()[1])
        ith = np.array([0.88e-3, 0.92e-3, 0.86e-3, 0.95e-3])
        z = i / ith
        p0 = np.clip((z - 1) / (z + 1), 0, None)
        f = f0 - 0.9e9 * p0 + np.array([0, 10e6, -10e6, 20e6])
        p = 1e-12 * (i / 1e-3) ** 2 * (p0 + 1e-3 / np.maximum(abs(1 - z), 0.08)) * 0.587
        w = np.where(z < 1, np.maximum(500e6 * (1 - z), 40e6), 20e6)
        return f, w, p

    def spectrum(self, f_start: float, f_stop: float, points: int, rbw: float, vbw: float,
                 averages: int, detector: str = "average",
                 average_type: str = "power") -> np.ndarray:
        """Trace in dBm as the analyzer displays it."""
        with self._lock:
            freq = np.linspace(f_start, f_stop, points)
            floor = 10 ** ((-174 + 34.5) / 10) * 1e-3 * 1.06 * rbw
            lin = np.full(points, floor)
            for fc, w, p in zip(*self._lines()):
                if p <= 0:
                    continue
                ww = math.hypot(w, rbw)
                peak = p * 10 ** 3.2 * 0.675 * rbw / math.hypot(w, 0.675 * rbw)
                lin += peak / (1 + ((freq - fc) * 2 / ww) ** 2)
            self._count += 1
            rng = np.random.default_rng([self.seed, 1, self._count])
            db = 10 * np.log10(lin / 1e-3) + 5.57 / math.sqrt(averages) * rng.standard_normal(
                points)
            return db.astype(np.float32)

    def sweep_time(self, f_start, f_stop, points, rbw, vbw, averages) -> float:
        return averages * max(2.5 * abs(f_stop - f_start) / (rbw * vbw), 1e-3)

    def truth(self) -> dict:
        f, w, p = self._lines()
        return {
            "thresholds": [0.88e-3, 0.92e-3, 0.86e-3, 0.95e-3],
            "frequencies": list(f), "clusters": [[0], [1], [2], [3]],
            "line_frequencies": list(f), "line_linewidths": list(w), "line_powers": list(p),
            "memristor_resistance": [5e9] * 3, "memristor_broken": [False] * 3,
            "field": self.magnet.field(), "current": self.stripe.read()[1],
            "gate_voltage": self.gate.read()[0], "meff": 0.45, "gamma": 28.5e9,
            "theta_h": math.radians(75), "df_di": -0.5e12,
            "noise_floor_dbm_hz": -174 + 34.5,
        }
