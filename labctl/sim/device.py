"""Physics model of the simulated probe station: the public entry for simulated instruments.

A stripe with four constrictions in series (the SHNO chain), three memristors over the
gaps (one of them wired to the gate source), an electromagnet, and the amplifier +
analyzer front end. Pure numpy; spectra are cached per physical state so a sweep costs
little more than drawing its noise.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np

from labctl.analysis.kittel import kittel_frequency
from labctl.sim.chain import Lines, lines_from_values
from labctl.sim.magnet import Magnet
from labctl.sim.memristor import Memristor, Source, solve_circuit
from labctl.sim.noise import DB, TraceNoise, text_hash, thermal_floor_dbm_hz
from labctl.sim.oscillators import oscillator_values
from labctl.sim.params import N_MEM, N_OSC, DeviceParams

__all__ = ["DeviceModel", "DeviceParams", "Magnet", "Terminal"]

# rounding of the state that seeds the noise and feeds the physics, so that a replay whose
# field settled a hair differently still gives the identical trace
_Q_CURRENT = 1e-9  # A
_Q_FIELD = 1e-6  # T
_Q_VOLT = 1e-6  # V
_ENBW = 1.06  # noise bandwidth / RBW of the analyzer's Gaussian filter
_PEAK_NARROW = _ENBW * 2.0 / math.pi  # displayed/integrated power of a line far narrower than RBW
_TAIL = 1e-3  # Lorentzian tails below this fraction of the floor are not computed
_BLOCK_MAX = 1 << 16  # all lines at once while their work array stays in cache (floats)
_DETECTORS = {"average", "rms", "sample", "peak", "positive", "normal", "negative"}


@lru_cache(maxsize=64)
def _harmonic_db(k: int) -> float:
    """DB * ln(H_k): the peak detector's offset over k exponentially distributed cells."""
    return DB * math.log(sum(1.0 / j for j in range(1, k + 1)))


class Terminal:
    """A load seen by one source: the SHNO stripe or the gated memristor's top electrode."""

    def __init__(self, model: DeviceModel, role: str):
        self._model = model
        self.role = role

    def source_current(self, amps: float, voltage_compliance: float) -> tuple[float, float]:
        """Apply a current; returns (V, I) at the terminals after any compliance limiting."""
        return self._model._drive(self.role, Source("I", float(amps), abs(voltage_compliance)))

    def source_voltage(self, volts: float, current_compliance: float) -> tuple[float, float]:
        """Apply a voltage; returns (V, I) at the terminals after any compliance limiting."""
        return self._model._drive(self.role, Source("V", float(volts), abs(current_compliance)))

    def off(self) -> None:
        """Output off: the terminal is left open."""
        self._model._drive(self.role, Source("off", 0.0, 0.0))

    def read(self) -> tuple[float, float]:
        """(V, I) at the terminals now."""
        return self._model._read(self.role)


class DeviceModel:
    """The simulated device: oscillator chain, memristors, magnet, analyzer front end."""

    def __init__(self, clock, seed: int = 1, **overrides):
        self.params = DeviceParams.from_overrides(overrides)
        self.clock = clock
        self.seed = int(seed)
        p = self.params
        self.memristors = [Memristor(p, k, self.seed) for k in range(N_MEM)]
        self.stripe = Terminal(self, "shno_source")
        self.gate = Terminal(self, "gate")
        self.magnet = Magnet(clock, p, self.seed)
        self._lock = threading.RLock()
        self._sources = {"shno_source": Source("off", 0.0, 0.0),
                         "gate": Source("off", 0.0, 0.0)}
        self._solution = solve_circuit(p, self._sources["shno_source"],
                                       self._sources["gate"], self._gated.resistance)
        self._noise = TraceNoise(self.seed)
        self._floor_dbm_hz = thermal_floor_dbm_hz(p.amp_gain_db, p.amp_nf_db,
                                                  p.analyzer_floor_dbm_hz)
        self._gain = 10 ** (p.amp_gain_db / 10.0)
        self._theta_h = math.radians(p.tilt_deg)
        self._fmr_cache: tuple[float, float] = (math.nan, 0.0)
        self._phys_key: tuple | None = None
        self._phys: tuple[tuple[list[float], ...], Lines] | None = None
        self._axis_key: tuple | None = None
        self._axis = np.empty(0, dtype=np.float32)
        self._lin = self._scratch = self._axis  # float32 work buffers, sized with the axis
        self._block_buf = self._axis  # all lines at once (allocated on first use)
        self._mean_key: tuple | None = None
        self._mean_db = np.empty(0, dtype=np.float32)
        self._last_sweep: tuple | None = None
        self._repeats = 0
        self._settings_key: tuple | None = None
        self._settings_repr = ""

    # ---- terminals ----------------------------------------------------------------------
    @property
    def _gated(self) -> Memristor:
        return self.memristors[self.params.gated_memristor]

    def terminal(self, role: str) -> Terminal:
        """The load of a station role: "shno_source" -> stripe, "gate" -> gate."""
        if role == "shno_source":
            return self.stripe
        if role == "gate":
            return self.gate
        raise ValueError(f"no terminal for role {role!r}")

    def _drive(self, role: str, source: Source) -> tuple[float, float]:
        with self._lock:
            self._sources[role] = source
            mem = self._gated
            # the memristor switches on the voltage actually across it, which depends on its
            # own resistance: re-solve after each switch (SET then breakdown is two steps)
            for _ in range(4):
                sol = solve_circuit(self.params, self._sources["shno_source"],
                                    self._sources["gate"], mem.resistance)
                if self._sources["gate"].mode == "off":
                    break
                if not mem.update(sol.v_mem, sol.i_gate, self._sources["gate"].compliance):
                    break
            self._solution = sol
            return self._read(role)

    def _read(self, role: str) -> tuple[float, float]:
        sol = self._solution
        if role == "shno_source":
            return sol.v_stripe, sol.i_stripe
        if role == "gate":
            return sol.v_gate, sol.i_gate
        raise ValueError(f"no terminal for role {role!r}")

    def break_memristor(self, index: int | None = None) -> None:
        """Destroy a memristor (default: the gated one), e.g. for fault injection."""
        with self._lock:
            k = self.params.gated_memristor if index is None else index
            self.memristors[k].break_down()
            self._drive("gate", self._sources["gate"])

    # ---- physics ------------------------------------------------------------------------
    def _state_key(self) -> tuple:
        sol = self._solution
        b = round(self.magnet.field() / _Q_FIELD)
        return (b, round(sol.i_upstream / _Q_CURRENT), round(sol.i_downstream / _Q_CURRENT),
                round(sol.v_mem / _Q_VOLT), self._gated.lrs or self._gated.broken)

    def _physics(self) -> tuple[tuple, tuple[list[float], ...], Lines]:
        """(state key, oscillator values as in oscillator_values, lines), once per state."""
        key = self._state_key()
        if key != self._phys_key or self._phys is None:
            p = self.params
            b_q, i_up, i_dn, v_q, conducting = key
            field = b_q * _Q_FIELD
            if field != self._fmr_cache[0]:
                f = float(kittel_frequency(field, self._theta_h, p.meff, p.gamma))
                self._fmr_cache = (field, f)
            k = p.gated_memristor
            i_up_a, i_dn_a = i_up * _Q_CURRENT, i_dn * _Q_CURRENT
            currents = [i_up_a if j <= k else i_dn_a for j in range(N_OSC)]
            thresholds = [float(x) for x in p.i_th]
            shift = [0.0] * N_OSC
            if not conducting:
                # field effect of the top electrode on the two constrictions beside the gap
                v = v_q * _Q_VOLT
                for j in (k, k + 1):
                    shift[j] = p.gate_df_dv * v
                    thresholds[j] += p.gate_dith_dv * v
                thresholds = [max(t, 1e-6) for t in thresholds]
            osc = oscillator_values(p, currents, thresholds, self._fmr_cache[1], shift)
            self._phys = (osc, lines_from_values(p, osc[1], osc[2], osc[3], osc[4]))
            self._phys_key = key
        return (key, *self._phys)

    # ---- analyzer -----------------------------------------------------------------------
    def noise_floor_dbm_hz(self) -> float:
        """Analyzer-referred noise density (dBm/Hz) of amplifier + analyzer."""
        return self._floor_dbm_hz

    def sweep_time(self, f_start, f_stop, points, rbw, vbw, averages) -> float:
        """Realistic duration (s) of the whole measurement, swept-tuned analyzer: the one rule
        (labctl.duration.sweep_time) that a run's duration estimate uses too."""
        from labctl.duration import sweep_time

        return sweep_time(f_start, f_stop, points, rbw, vbw, averages, self.params.sweep_k)

    def _mean_trace(self, state: tuple, lines: Lines, f_start: float, f_stop: float,
                    points: int, rbw: float) -> np.ndarray:
        """Expected displayed power in dBm (float32), cached per state and settings.

        A new array per state: a spectrum adds its noise to it outside the lock.
        """
        mkey = (state, f_start, f_stop, points, rbw)
        if mkey == self._mean_key:
            return self._mean_db
        akey = (f_start, f_stop, points)
        if akey != self._axis_key:
            self._axis = np.linspace(0.0, f_stop - f_start, points).astype(np.float32)
            self._lin = np.empty(points, dtype=np.float32)
            self._scratch = np.empty(points, dtype=np.float32)
            self._axis_key = akey
        axis, lin, scratch = self._axis, self._lin, self._scratch
        step = (f_stop - f_start) / (points - 1) if points > 1 else 1.0
        floor_w = 10 ** (self._floor_dbm_hz / 10.0) * 1e-3 * _ENBW * rbw
        lin.fill(floor_w)
        gain = self._gain
        narrow = _PEAK_NARROW * rbw
        tail_w = floor_w * _TAIL
        shapes = []  # (i0, i1, centre, 1/half-width, peak) of each line that shows
        for fc, width, power in zip(lines.frequency.tolist(), lines.linewidth.tolist(),
                                    lines.power.tolist()):
            if power <= 0.0:
                continue
            p_an = power * gain
            # integrated over the RBW filter: a narrow line shows its full power, a broad
            # one its density x noise bandwidth; the shape widens to sqrt(df^2 + RBW^2)
            peak = p_an * _PEAK_NARROW * rbw / math.hypot(width, narrow)
            half = 0.5 * math.hypot(width, rbw)
            reach = half * math.sqrt(max(peak / tail_w, 1.0))
            i0 = max(0, math.floor((fc - reach - f_start) / step))
            i1 = min(points, math.ceil((fc + reach - f_start) / step) + 1)
            if i1 > i0:
                shapes.append((i0, i1, fc - f_start, 1.0 / half, peak))
        if shapes:
            # peak / (1 + ((f - fc) / half)^2), step by step in float32 and added to the
            # floor line by line; all lines at once over the union of their ranges when they
            # overlap well (elementwise the same operations, so the same bits)
            u0 = min(sh[0] for sh in shapes)
            u1 = max(sh[1] for sh in shapes)
            used = sum(sh[1] - sh[0] for sh in shapes)
            block = len(shapes) * (u1 - u0)
            if len(shapes) > 1 and 4 * used >= 3 * block and block <= _BLOCK_MAX:
                x = self._block(len(shapes), u1 - u0)
                col = np.array([[sh[2], sh[3], sh[4]] for sh in shapes], dtype=np.float32)
                np.subtract(axis[u0:u1], col[:, 0:1], out=x)
                np.multiply(x, col[:, 1:2], out=x)
                np.multiply(x, x, out=x)
                np.add(x, np.float32(1.0), out=x)
                np.divide(col[:, 2:3], x, out=x)
                for row, (i0, i1, _, _, _) in zip(x, shapes):
                    target = lin[i0:i1]
                    np.add(target, row[i0 - u0:i1 - u0], out=target)
            else:
                for i0, i1, centre, inv_half, peak in shapes:
                    x = scratch[:i1 - i0]
                    np.subtract(axis[i0:i1], np.float32(centre), out=x)
                    np.multiply(x, np.float32(inv_half), out=x)
                    np.multiply(x, x, out=x)
                    np.add(x, np.float32(1.0), out=x)
                    np.divide(np.float32(peak), x, out=x)
                    target = lin[i0:i1]
                    np.add(target, x, out=target)
        mean = np.log10(lin)
        mean *= np.float32(10.0)
        mean += np.float32(30.0)  # W -> dBm
        self._mean_db = mean
        self._mean_key = mkey
        return mean

    def _block(self, rows: int, cols: int) -> np.ndarray:
        """A float32 (rows, cols) work array (at most _BLOCK_MAX), reused between calls."""
        if self._block_buf.size < rows * cols:
            self._block_buf = np.empty(_BLOCK_MAX, dtype=np.float32)
        return self._block_buf[:rows * cols].reshape(rows, cols)

    def spectrum(self, f_start: float, f_stop: float, points: int, rbw: float, vbw: float,
                 averages: int, detector: str = "average",
                 average_type: str = "power") -> np.ndarray:
        """One measured trace (float32 dBm) as the analyzer displays it after the amplifier."""
        f_start, f_stop, rbw, vbw = float(f_start), float(f_stop), float(rbw), float(vbw)
        points, averages = int(points), int(averages)
        if points < 1 or rbw <= 0 or vbw <= 0 or averages < 1 or f_stop < f_start:
            raise ValueError("spectrum: need points>=1, rbw>0, vbw>0, averages>=1, stop>=start")
        detector = detector.lower()
        if detector not in _DETECTORS:
            raise ValueError(f"spectrum: unknown detector {detector!r}")
        if average_type not in ("power", "log"):
            raise ValueError(f"spectrum: unknown average type {average_type!r}")
        with self._lock:
            state, _, lines = self._physics()
            mean = self._mean_trace(state, lines, f_start, f_stop, points, rbw)
            settings = (f_start, f_stop, points, rbw, vbw, averages, detector, average_type)
            sweep = (state, *settings)
            self._repeats = self._repeats + 1 if sweep == self._last_sweep else 0
            self._last_sweep = sweep
            # state_hash(sweep), with the settings' part of the repr kept between sweeps
            # (the signs tell -0.0 from 0.0, which compare equal but print differently)
            skey = (settings, math.copysign(1.0, f_start), math.copysign(1.0, f_stop))
            if skey != self._settings_key:
                self._settings_repr = repr(settings)[1:]
                self._settings_key = skey
            key = text_hash("(" + repr(state) + ", " + self._settings_repr)
            rng = self._noise.sweep_rng(self.seed, key, self._repeats)
        bin_width = (f_stop - f_start) / (points - 1) if points > 1 else 0.0
        samples = max(1, int(bin_width / rbw))  # independent RBW cells per trace point
        offset = 0.0
        if detector in ("average", "rms"):
            n_eff = averages * samples
        else:
            n_eff = averages
            if detector in ("peak", "positive", "normal"):
                # max of k exponentials: mean power x harmonic number H_k
                offset = _harmonic_db(min(max(2, samples), 10000))
            elif detector == "negative":
                offset = -DB * math.log(max(2, samples))
        out = np.empty(points, dtype=np.float32)
        z = self._noise.deviates(rng, points, n_eff)
        if n_eff <= 1:
            np.add(mean, z, out=out)
        else:
            mu, sigma = self._noise.stats(n_eff, average_type)
            np.multiply(z, np.float32(sigma), out=out)
            out += mean
            offset += mu
        if offset:
            out += np.float32(offset)
        return out

    # ---- ground truth -------------------------------------------------------------------
    def truth(self) -> dict:
        """The model's true state, for tests and for checking analyses."""
        with self._lock:
            _, (zeta, p0, freq, linewidth, power), lines = self._physics()
            p = self.params
            sol = self._solution
            return {
                "thresholds": [float(x) for x in p.i_th],
                "constriction_currents": [sol.i_upstream] * (p.gated_memristor + 1)
                + [sol.i_downstream] * (N_OSC - 1 - p.gated_memristor),
                "zeta": list(zeta),
                "p0": list(p0),
                "frequencies": list(freq),
                "linewidths": list(linewidth),
                "powers": list(power),
                "clusters": [list(c) for c in lines.clusters],
                "line_frequencies": lines.frequency.tolist(),
                "line_linewidths": lines.linewidth.tolist(),
                "line_powers": lines.power.tolist(),
                "memristor_resistance": [m.resistance for m in self.memristors],
                "memristor_broken": [m.broken for m in self.memristors],
                "memristor_lrs": [m.lrs for m in self.memristors],
                "field": self.magnet.field(),
                "coil_current": self.magnet.coil_current(),
                "current": sol.i_stripe,
                "stripe_voltage": sol.v_stripe,
                "gate_voltage": sol.v_gate,
                "gate_current": sol.i_gate,
                "meff": p.meff,
                "gamma": p.gamma,
                "theta_h": self._theta_h,
                "phi_h": math.radians(p.phi_deg),
                "df_di": p.nonlinear_slope(),
                "f_fmr": self._fmr_cache[1],
                "noise_floor_dbm_hz": self._floor_dbm_hz,
                "gain_db": p.amp_gain_db,
            }
