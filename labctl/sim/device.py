"""Physics model of the simulated probe station: the public entry for simulated instruments.

A stripe with four constrictions in series (the SHNO chain), three memristors over the
gaps (one of them wired to the gate source), an electromagnet, and the amplifier +
analyzer front end. Pure numpy; spectra are cached per physical state so a sweep costs
little more than drawing its noise.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from labctl.duration import sweep_time
from labctl.sim.chain import Lines, lines_from_values
from labctl.sim.magnet import Magnet
from labctl.sim.memristor import Memristor, Source, solve_circuit
from labctl.sim.noise import TraceNoise, detector_statistics, text_hash, thermal_floor_dbm_hz
from labctl.sim.oscillators import FieldState, field_state, oscillator_values
from labctl.sim.params import N_MEM, N_OSC, DeviceParams

__all__ = ["DeviceModel", "DeviceParams", "Magnet", "Terminal"]

# rounding of the state that seeds the noise and feeds the physics, so that a replay whose
# field settled a hair differently still gives the identical trace
_Q_CURRENT = 1e-9  # A
_Q_FIELD = 1e-6  # T
_Q_VOLT = 1e-6  # V
_ENBW = 1.06  # noise bandwidth / RBW of the analyzer's Gaussian filter
_PEAK_NARROW = _ENBW * 2.0 / math.pi  # displayed/integrated power of a line far narrower than RBW
_TAIL = 1e-4  # Lorentzian tails below this fraction of the floor are not computed (the power
# they carry beyond that reach, (2/pi) sqrt(tail / peak), is 0.6 % of a line at the floor)
_BLOCK_MAX = 1 << 16  # all lines at once while their work array stays in cache (floats)
_DETECTORS = {"average": "mean", "rms": "mean", "sample": "sample", "peak": "max",
              "positive": "max", "normal": "max", "negative": "min"}
_SPUR_REACH = 3.0  # a CW spur is drawn over +-this many RBW (Gaussian RBW filter)


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
        # the amplifier's noise rides on the gain ripple, the analyzer's own floor does not
        self._amp_floor = 10 ** ((-174.0 + p.amp_gain_db + p.amp_nf_db) / 10.0) * 1e-3
        self._analyzer_floor = 10 ** (p.analyzer_floor_dbm_hz / 10.0) * 1e-3
        self._gain = 10 ** (p.amp_gain_db / 10.0)
        rng = np.random.default_rng([self.seed, 0x41BB])
        self._ripple_phase = rng.uniform(0.0, 2 * math.pi, 2).tolist()
        self._theta_h = math.radians(p.tilt_deg)
        self._field_state: FieldState = field_state(p, 0.0)
        self._gate_reads = 0
        # gate drives so far: a read of the same state after another pulse or ramp is another
        # draw of the read noise (a retention series is not one value repeated)
        self._gate_drives = 0
        self._floor_key: tuple | None = None
        self._floor_w = np.empty(0, dtype=np.float32)
        self._floor_dbm = self._floor_w  # the same in dBm
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
            self._gate_reads = 0
            if role == "gate":
                self._gate_drives += 1
            mem = self._gated
            # the memristor switches on the voltage actually across it, which depends on its
            # own resistance: re-solve after each switch (SET then breakdown is two steps; a
            # growing filament converges geometrically)
            for _ in range(12):
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
            src = self._sources["gate"]
            mem = self._gated
            i = sol.i_gate
            # read noise of the filament (RTN, 1/f); a source in compliance holds I itself
            if (src.mode != "off" and not mem.broken and self.params.read_noise > 0
                    and abs(i) < src.compliance * (1 - 1e-9)):
                self._gate_reads += 1
                i *= 1.0 + self.params.read_noise * mem.read_deviate(self._gate_reads,
                                                                  self._gate_drives)
            return sol.v_gate, i
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
            if field != self._field_state.field:
                self._field_state = field_state(p, field)
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
            osc = oscillator_values(p, currents, thresholds, self._field_state, shift)
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
        return sweep_time(f_start, f_stop, points, rbw, vbw, averages, self.params.sweep_k)

    def _ripple_db(self, f: np.ndarray | float) -> np.ndarray | float:
        """Gain ripple of the amplifier chain (dB) at ``f`` (Hz): cables and bias-T."""
        p = self.params
        if p.ripple_db == 0.0:
            return 0.0 * f
        a, b = self._ripple_phase
        w = 2.0 * math.pi / p.ripple_period
        sin = math.sin if isinstance(f, float) else np.sin
        return p.ripple_db * (0.7 * sin(w * f + a) + 0.3 * sin(2.7 * w * f + b))

    def _floor(self, f_start: float, f_stop: float, points: int, rbw: float) -> np.ndarray:
        """Displayed noise (W, float32) without the device: amplifier noise on the gain
        ripple, the analyzer's own floor and its spurs; cached per settings."""
        key = (f_start, f_stop, points, rbw)
        if key != self._floor_key:
            f = np.linspace(f_start, f_stop, points)
            bw = _ENBW * rbw
            floor = self._amp_floor * bw * 10 ** (self._ripple_db(f) / 10.0)
            floor += self._analyzer_floor * bw
            sigma = rbw / (2.0 * math.sqrt(2.0 * math.log(2.0)))  # RBW is the FWHM
            for f_spur, dbm in self.params.spurs:
                near = np.abs(f - f_spur) < _SPUR_REACH * rbw
                if near.any():
                    floor[near] += 1e-3 * 10 ** (dbm / 10.0) * np.exp(
                        -0.5 * ((f[near] - f_spur) / sigma) ** 2)
            self._floor_w = floor.astype(np.float32)
            self._floor_dbm = _dbm(self._floor_w)
            self._floor_key = key
        return self._floor_w

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
        floor = self._floor(f_start, f_stop, points, rbw)
        np.copyto(lin, floor)
        floor_w = float(self._amp_floor + self._analyzer_floor) * _ENBW * rbw
        gain = self._gain
        narrow = _PEAK_NARROW * rbw
        tail_w = floor_w * _TAIL
        shapes = []  # (i0, i1, centre, 1/half-width, peak) of each line that shows
        every = zip(lines.frequency.tolist() + lines.sidebands[:, 0].tolist(),
                    lines.linewidth.tolist() + lines.sidebands[:, 1].tolist(),
                    lines.power.tolist() + lines.sidebands[:, 2].tolist())
        for fc, width, power in every:
            if power <= 0.0:
                continue
            p_an = power * gain * 10 ** (float(self._ripple_db(fc)) / 10.0)
            # integrated over the RBW filter: a narrow line shows its full power, a broad
            # one its density x noise bandwidth; the shape widens to sqrt(df^2 + c^2 RBW^2)
            # with c = 2.12/pi, so that its area is the power in every case
            peak = p_an * _PEAK_NARROW * rbw / math.hypot(width, narrow)
            half = 0.5 * math.hypot(width, narrow)
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
        # in dBm: where no line reaches, the floor's (computed once per settings); the
        # logarithm, the sweep's costliest step, only over the lines' reach
        mean = self._floor_dbm.copy()
        for a, b in _union(sorted((sh[0], sh[1]) for sh in shapes)):
            mean[a:b] = _dbm(lin[a:b])
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
        """One measured trace (float32 dBm) as the analyzer displays it after the amplifier.

        The scatter follows from the settings as on a swept analyzer: each trace point
        dwells sweep_time/points, which holds dwell·RBW independent noise samples; the
        video filter averages RBW/VBW of them; the detector reduces them to one value
        (mean, one sample, maximum or minimum); the sweeps are averaged in power or in log.
        Points closer than one RBW see correlated noise.
        """
        f_start, f_stop, rbw, vbw = float(f_start), float(f_stop), float(rbw), float(vbw)
        points, averages = int(points), int(averages)
        if points < 1 or rbw <= 0 or vbw <= 0 or averages < 1 or f_stop < f_start:
            raise ValueError("spectrum: need points>=1, rbw>0, vbw>0, averages>=1, stop>=start")
        kind = _DETECTORS.get(detector.lower())
        if kind is None:
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
        dwell = self.sweep_time(f_start, f_stop, points, rbw, vbw, 1) / points
        samples = max(1.0, dwell * rbw)
        video = min(max(1.0, rbw / vbw), samples)
        mu, sigma, exact = detector_statistics(kind, samples, video, averages, average_type)
        bin_width = (f_stop - f_start) / (points - 1) if points > 1 else rbw
        out = np.empty(points, dtype=np.float32)
        if exact:  # one exponential sample per point: the skewed log distribution itself
            np.add(mean, self._noise.single(rng, points), out=out)
            return out
        z = self._noise.deviates(rng, points, rbw / bin_width)
        np.multiply(z, np.float32(sigma), out=out)
        out += mean
        if mu:
            out += np.float32(mu)
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
                "oscillating": [z > 1.0 for z in zeta],
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
                "df_di": p.df_di * self._field_state.nonlinear_factor,
                "theta_m": self._field_state.theta_m,
                "f_fmr": self._field_state.f_fmr,
                "sidebands": lines.sidebands.tolist(),
                "sync_state": _sync_truth(zeta, lines.clusters),
                "noise_floor_dbm_hz": self._floor_dbm_hz,
                "gain_db": p.amp_gain_db,
            }


def _dbm(watts: np.ndarray) -> np.ndarray:
    """float32 W -> dBm, step by step in float32 (the same bits for any slice)."""
    out = np.log10(watts)
    out *= np.float32(10.0)
    out += np.float32(30.0)
    return out


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted index ranges [a, b) merged where they overlap or touch."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _sync_truth(zeta: list[float], clusters: list[list[int]]) -> str:
    """The true synchronization state among the constrictions above threshold: 'off' (none
    oscillates), 'none' (each on its own line), 'partial' or 'full' (all in one line)."""
    groups = [c for c in clusters if all(zeta[j] > 1.0 for j in c)]
    oscillating = sum(len(c) for c in groups)
    if oscillating == 0:
        return "off"
    if all(len(c) == 1 for c in groups):
        return "none"
    if len(groups) == 1 and oscillating > 1:
        return "full"
    return "partial"
