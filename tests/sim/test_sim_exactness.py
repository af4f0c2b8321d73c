"""The simulator's fast paths give what the plain vectorised formulas give.

Resumed runs must reproduce uninterrupted ones exactly, so every shortcut (scalar physics,
cached draws, the direct 3x3 solve, the all-lines-at-once Lorentzian sum, the seeding)
is checked here against the straightforward numpy version it replaces: bit for bit where
the operations are the same, to rounding where the formula is written differently.
"""

import math

import numpy as np
import pytest

import labctl.sim.device as device_mod
from labctl.clock import VirtualClock
from labctl.sim.chain import Lines, chain_lines, find_clusters, link_coupling
from labctl.sim.device import DeviceModel
from labctl.sim.memristor import Memristor, _solve3
from labctl.sim.noise import TraceNoise, _Bounded, generator, state_hash, text_hash
from labctl.sim.oscillators import (
    OscillatorState,
    field_state,
    nonlinear_shift_scale,
    normalized_power,
    oscillator_state,
)
from labctl.sim.params import DeviceParams

PARAMS = [{}, {"coupling_exponent": 1.5}, {"sync_power_exponent": 0.5}, {"phi_deg": 40.0},
          {"q_nl": 2.5, "coupling": 400e6}, {"coupling": 0.0}, {"f_offsets": [0, 0, 0, 0]},
          {"preset": "gentle"}, {"tilt_deg": 60.0, "shape_anisotropy": 0.0}]
PLAIN_LINES = {"edge_broadening": 0.0, "sideband_orders": 0}  # what reference_lines covers


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def reference_oscillators(p, currents, thresholds, fs, gate_shift):
    polarity = -1.0 if fs.field < 0 else 1.0  # anti-damping for one sign of I x B
    zeta = polarity * np.asarray(currents) / thresholds
    p0 = normalized_power(zeta, p.q_nl)
    x = zeta - 1.0
    u = x / (np.maximum(zeta, 1.0) + p.q_nl)
    pn = 0.5 * (u + np.sqrt(u * u + 4 * p.thermal_power))
    currents = np.asarray(currents, dtype=float)
    freq = (fs.f_fmr + p.frequency_offset + np.asarray(p.f_offsets)
            + nonlinear_shift_scale(p, fs) * pn + p.joule_df_di2 * currents**2 + gate_shift)
    delta = (p.linewidth_threshold - 0.5 * p.linewidth_min) / p.linewidth_fmr
    r = np.sqrt(x * x + 4 * delta**2)
    linewidth = p.linewidth_fmr * 0.5 * (r - x) + 0.5 * p.linewidth_min * (1 + x / r)
    i_abs = np.abs(currents)
    ramp = np.minimum(1.0, i_abs / (0.2 * thresholds))
    power = fs.amr * (np.maximum(i_abs, thresholds) * ramp / 1e-3) ** 2 * pn
    return OscillatorState(zeta, p0, freq, linewidth, power)


def reference_clusters(freq, k_links):
    f, k = [float(x) for x in freq], [float(x) for x in k_links]
    n = len(f)

    def ratio(a, b):
        mean = sum(f[a:b]) / (b - a)
        worst = partial = 0.0
        for j in range(a, b - 1):
            partial += f[j] - mean
            if k[j] <= 0.0:  # no coupling (an end below threshold): never locked
                return math.inf
            worst = max(worst, abs(partial) / k[j])
        return worst

    best = None
    for cuts in range(1 << (n - 1)):
        bounds = [0] + [j + 1 for j in range(n - 1) if cuts >> j & 1] + [n]
        segs = list(zip(bounds[:-1], bounds[1:]))
        worst = max(ratio(a, b) for a, b in segs)
        if worst <= 1.0 and (best is None or (len(segs), worst) < best[:2]):
            best = (len(segs), worst, segs)
    return [list(range(a, b)) for a, b in best[2]]


def reference_lines(p, osc):
    """Clusters at their mean frequency, linewidth / n, summed power, Adler pulling."""
    k_links = link_coupling(p, osc.p0)
    clusters = reference_clusters(osc.frequency, k_links)
    n = len(clusters)
    freq, width, power, size = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for j, members in enumerate(clusters):
        m = len(members)
        size[j] = m
        freq[j] = osc.frequency[members].mean()
        width[j] = osc.linewidth[members].mean() / m
        power[j] = osc.power[members].sum() * m ** p.sync_power_exponent
    shift = np.zeros(n)
    for j in range(n - 1):
        kc = k_links[clusters[j][-1]] * (1.0 / size[j] + 1.0 / size[j + 1])
        delta = freq[j + 1] - freq[j]
        if kc <= 0.0 or delta == 0.0:
            continue
        moved = delta - np.sign(delta) * np.sqrt(max(delta * delta - kc * kc, 0.0))
        total = size[j] + size[j + 1]
        shift[j] += moved * size[j + 1] / total
        shift[j + 1] -= moved * size[j] / total
    return Lines(clusters, freq + shift, width, power, np.empty((0, 3)))


@pytest.mark.parametrize("overrides", PARAMS)
def test_scalar_physics_matches_vectorised_formulas(overrides):
    p = DeviceParams.from_overrides({**overrides, **PLAIN_LINES})
    rng = np.random.default_rng(4)
    clusters_seen = set()
    for _ in range(400):
        currents = rng.uniform(-0.5e-3, 3e-3, 4) * rng.choice([1.0, 0.0], 4, p=[0.95, 0.05])
        thresholds = np.maximum(np.array(p.i_th, dtype=float) + rng.normal(0, 5e-5, 4), 1e-6)
        shift = rng.normal(0, 2e7, 4) * (rng.random() < 0.5)
        fs = field_state(p, rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.9))
        fast = oscillator_state(p, currents, thresholds, fs, shift)
        ref = reference_oscillators(p, currents, thresholds, fs, shift)
        for name in ("zeta", "p0", "frequency", "linewidth", "power"):
            assert np.allclose(getattr(fast, name), getattr(ref, name), rtol=1e-12,
                               atol=1e-300), name
        lines, ref_lines = chain_lines(p, fast), reference_lines(p, fast)
        assert lines.clusters == ref_lines.clusters
        for name in ("frequency", "linewidth", "power"):
            assert np.allclose(getattr(lines, name), getattr(ref_lines, name), rtol=1e-12,
                               atol=1e-300), name
        assert lines.sidebands.shape == (0, 3)
        clusters_seen.add(len(lines.clusters))
    if p.coupling > 0:
        assert len(clusters_seen) >= 2


def test_find_clusters_matches_exhaustive_search():
    rng = np.random.default_rng(9)
    for _ in range(3000):
        n = int(rng.integers(1, 7))
        f = rng.normal(10e9, rng.choice([1e6, 3e7, 1e8]), n)
        k = np.abs(rng.normal(3e7, 3e7, n - 1)) * (rng.random(n - 1) > 0.1)
        assert find_clusters(f, k) == reference_clusters(f, k)


def test_seeding_shortcut_gives_numpy_streams():
    rng = np.random.default_rng(2)
    for _ in range(500):
        seed = int(rng.integers(0, 2**63)) >> int(rng.integers(0, 64))
        key = int(rng.integers(0, 2**63)) >> int(rng.integers(0, 64))
        count = int(rng.choice([0, 1, 3, 2**32 - 1, 2**32 + 7]))
        fast = generator(seed, 0x5EE9, key, count)
        ref = np.random.Generator(np.random.PCG64([seed & (2**63 - 1), 0x5EE9, key, count]))
        assert fast.bit_generator.state == ref.bit_generator.state
    values = ((1, -2, 3, 4, True), 9.5e9, 11e9, 10001, 1e6, 1e5, 50, "average", "power")
    assert state_hash(values) == text_hash(repr(values))
    assert 0 <= state_hash(values) < 2**63


def test_direct_solve_matches_numpy():
    """To rounding: within a few ulps times the condition number, as any LU solve."""
    rng = np.random.default_rng(3)
    for _ in range(2000):
        a = rng.normal(size=(3, 3)) * 10.0 ** rng.uniform(-6, 3, (3, 3))
        a[rng.random((3, 3)) < 0.2] = 0.0  # the circuit's rows have zeros (pivoting)
        b = rng.normal(size=3)
        if np.linalg.matrix_rank(a) < 3:
            continue
        ref = np.linalg.solve(a, b)
        x = np.array(_solve3(a.tolist(), b.tolist(), True))
        assert np.max(np.abs(x - ref)) <= 1e-14 * np.linalg.cond(a) * np.max(np.abs(ref))
    # the circuit's systems themselves (every pairing of source modes) agree to 1e-12
    for _ in range(500):
        g_up, g_dn, g_m = 10.0 ** rng.uniform(-6, -2, 3)
        sv, gv = rng.normal(size=2)
        for row0 in ([1.0, 0.0, 0.0], [g_up, -g_up, 0.0]):
            for row1 in ([0.0, 0.0, 1.0], [0.0, -g_m, g_m]):
                a = [row0, row1, [g_up, -(g_up + g_m + g_dn), g_m]]
                ref = np.linalg.solve(np.array(a), [sv, gv, 0.0])
                assert np.allclose(_solve3(a, [sv, gv, 0.0], True), ref, rtol=1e-12,
                                   atol=1e-12 * np.max(np.abs(ref)))
    with pytest.raises(np.linalg.LinAlgError):
        _solve3(np.zeros((3, 3)), np.ones(3), False)


def test_memristor_draws_are_kept_per_cycle():
    p = DeviceParams()
    kept, fresh = Memristor(p, 1, 17), Memristor(p, 1, 17)
    for cycle in range(6):
        kept.cycles = fresh.cycles = cycle
        assert kept.set_voltage() == kept.set_voltage() == fresh.set_voltage()
        assert kept.reset_voltage() == fresh.reset_voltage()
        assert kept.forming_voltage() == fresh.forming_voltage()
        fresh._draws.clear()
    assert len(kept._draws) <= 16


def reference_mean(model, lines, f_start, f_stop, points, rbw):
    step = (f_stop - f_start) / (points - 1) if points > 1 else 1.0
    floor_w = 10 ** (model.noise_floor_dbm_hz() / 10.0) * 1e-3 * device_mod._ENBW * rbw
    axis = np.linspace(0.0, f_stop - f_start, points).astype(np.float32)
    lin = model._floor(f_start, f_stop, points, rbw).copy()
    every = np.concatenate([np.stack([lines.frequency, lines.linewidth, lines.power], 1),
                            lines.sidebands])
    for fc, width, power in every:
        if power <= 0.0:
            continue
        narrow = device_mod._PEAK_NARROW * rbw
        p_an = power * model._gain * 10 ** (float(model._ripple_db(fc)) / 10)
        peak = p_an * device_mod._PEAK_NARROW * rbw / math.hypot(width, narrow)
        half = 0.5 * math.hypot(width, narrow)
        reach = half * math.sqrt(max(peak / (floor_w * device_mod._TAIL), 1.0))
        i0 = max(0, math.floor((fc - reach - f_start) / step))
        i1 = min(points, math.ceil((fc + reach - f_start) / step) + 1)
        if i1 <= i0:
            continue
        x = axis[i0:i1] - np.float32(fc - f_start)
        x *= np.float32(1.0 / half)
        np.multiply(x, x, out=x)
        x += np.float32(1.0)
        np.divide(np.float32(peak), x, out=x)
        lin[i0:i1] += x
    mean = np.log10(lin)
    mean *= np.float32(10.0)
    mean += np.float32(30.0)
    return mean


@pytest.mark.parametrize("block", [0, device_mod._BLOCK_MAX])
def test_mean_trace_matches_line_by_line_sum(monkeypatch, block):
    monkeypatch.setattr(device_mod, "_BLOCK_MAX", block)
    clock = VirtualClock()
    model = DeviceModel(clock, seed=2)
    model.magnet.set_supply_current(0.65 / model.params.coil_constant)
    clock.advance(10.0)
    settings = [(9.5e9, 11e9, 10001, 1e6), (9.0e9, 12e9, 2001, 3e6), (10.1e9, 10.2e9, 1001, 1e5),
                (9.5e9, 11e9, 40001, 1e6), (10e9, 10e9, 1, 1e6)]
    for current in (0.3e-3, 0.8e-3, 1.0e-3, 1.2e-3, 1.4e-3, 2.2e-3):
        model.stripe.source_current(current, 5.0)
        state, _, lines = model._physics()
        for f_start, f_stop, points, rbw in settings:
            got = model._mean_trace(state, lines, f_start, f_stop, points, rbw).copy()
            ref = reference_mean(model, lines, f_start, f_stop, points, rbw)
            assert got.tobytes() == ref.tobytes()


@pytest.mark.parametrize("high", [1, 2, 3, 5, 1 << 19, (1 << 20) - 10001, 3_000_000_000,
                                  4_000_000_000, 2**32 - 1])
def test_bounded_draws_match_generator_integers(high):
    for key in range(300):
        ref = generator(1, 0x5EE9, key, 0)
        draw = _Bounded(generator(1, 0x5EE9, key, 0))
        for _ in range(3):  # successive draws share numpy's buffered 32-bit half
            assert draw(high) == int(ref.integers(0, high))


def test_long_traces_draw_several_chunks_like_numpy():
    noise = TraceNoise(3)
    size = noise._normal.size
    rng = generator(3, 0x5EE9, 77, 0)
    starts = [int(rng.integers(0, size - size // 2)) for _ in range(2)]
    starts.append(int(rng.integers(0, size - 100)))
    want = np.concatenate([noise._normal[s:s + n]
                           for s, n in zip(starts, (size // 2, size // 2, 100))])
    got = noise.deviates(generator(3, 0x5EE9, 77, 0), size + 100)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("points", [0, 1, 7, 10001, 250_000])
def test_binary_blocks_are_pyvisas_ieee_blocks(points):
    from pyvisa.util import to_ieee_block

    from labctl.sim.instrument import SimInstrument

    values = np.random.default_rng(points).normal(-80.0, 3.0, points).astype(np.float32)
    for datatype in "fd":
        for big_endian in (False, True):
            want = bytes(to_ieee_block(values, datatype=datatype, is_big_endian=big_endian))
            assert SimInstrument.block(values, datatype, big_endian) == want


@pytest.mark.parametrize("size", [2, 7, 32767, 32768, 32769, 100_003])
def test_moving_sums_are_the_running_sum_differences(size):
    from labctl.sim.noise import moving_sums

    x = np.random.default_rng(size).standard_normal(size, dtype=np.float32)
    x[::97] = -0.0
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    for width in (2, 3, 25, 40_000):
        if width <= size:
            want = ((c[width:] - c[:-width]) / math.sqrt(width)).astype(np.float32)
            assert moving_sums(x, width).tobytes() == want.tobytes()
