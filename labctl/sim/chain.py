"""Mutual synchronization of an open chain of phase oscillators with nearest-neighbour coupling."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labctl.sim.oscillators import OscillatorState
from labctl.sim.params import DeviceParams

_MAX_SIDEBAND_RATIO = 0.9  # an Adler sideband never carries as much as its main line
_FAINTEST_SIDEBAND = 0.01  # of the main line's power: not drawn below this


@dataclass
class Lines:
    """What the analyzer sees: one spectral line per synchronized cluster, plus the
    modulation sidebands of clusters that beat near a locking edge."""

    clusters: list[list[int]]
    frequency: np.ndarray  # Hz, one per cluster
    linewidth: np.ndarray  # FWHM, Hz
    power: np.ndarray  # integrated, at the device, W
    sidebands: np.ndarray  # (k, 3): frequency, linewidth, power of each sideband


def link_coupling(p: DeviceParams, p0) -> np.ndarray:
    """K/2pi (Hz) of each link k between constrictions k and k+1.

    The coupling is carried by the oscillation amplitudes (spin waves and dipolar fields of
    the precessing neighbours), so it vanishes below threshold and grows with p0; this is
    what makes the chain lock at higher current.
    """
    p0 = np.asarray(p0, dtype=float)
    mean_p = np.sqrt(p0[:-1] * p0[1:])
    return p.coupling * (mean_p / p.coupling_p_ref) ** p.coupling_exponent


def _lock_ratio(freq: list[float], k_links: list[float], a: int, b: int) -> float:
    """Largest |partial sum of deviations| / coupling of segment [a, b); <= 1 means locked.

    A link without coupling (an end below threshold) never locks, even at equal frequencies.
    """
    mean = sum(freq[a:b]) / (b - a)
    worst = 0.0
    partial = 0.0
    for j in range(a, b - 1):
        partial += freq[j] - mean
        k = k_links[j]
        if k <= 0.0:
            return math.inf
        worst = max(worst, abs(partial) / k)
    return worst


@lru_cache(maxsize=16)
def _partitions(n: int) -> tuple[tuple[tuple[list[list[int]], tuple[tuple[int, int], ...]], ...],
                                 ...]:
    """All cuts of a chain of n into segments, grouped by segment count (fewest first), each
    group in ascending order of the cut bit mask: (clusters, segments longer than one)."""
    groups: list[list] = [[] for _ in range(n)]
    for cuts in range(1 << (n - 1)):
        bounds = [0] + [j + 1 for j in range(n - 1) if cuts >> j & 1] + [n]
        segs = list(zip(bounds[:-1], bounds[1:]))
        clusters = [list(range(a, b)) for a, b in segs]
        groups[len(segs) - 1].append((clusters, tuple(s for s in segs if s[1] - s[0] > 1)))
    return tuple(tuple(g) for g in groups)


def find_clusters(freq, k_links) -> list[list[int]]:
    """Split the chain into locked clusters (Kuramoto open chain, nearest neighbours).

    A segment locks iff every partial sum of deviations from its mean frequency stays
    within the coupling of the link it ends at. Of all ways to cut the chain into such
    segments (2^(n-1), 8 for four) take the fewest clusters, then the most robust one;
    unlike a greedy split this never unlocks a pair when the coupling grows.
    """
    return _find_clusters([float(x) for x in freq], [float(x) for x in k_links])[0]


def _find_clusters(f: list[float], k: list[float]) -> tuple[list[list[int]], list[float]]:
    """find_clusters on lists of floats, with the lock ratio of each cluster (0 alone)."""
    ratio: dict[tuple[int, int], float] = {}
    for group in _partitions(len(f)):
        best = None
        best_worst = math.inf
        for clusters, multi in group:
            worst = 0.0
            for s in multi:
                r = ratio.get(s)
                if r is None:
                    r = ratio[s] = _lock_ratio(f, k, s[0], s[1])
                if r > worst:
                    worst = r
                    if worst > 1.0:
                        break
            if worst <= 1.0 and (best is None or worst < best_worst):
                best, best_worst = clusters, worst
        if best is not None:
            return ([list(c) for c in best],
                    [ratio.get((c[0], c[-1] + 1), 0.0) for c in best])
    raise AssertionError("all singletons always qualify")


def chain_lines(p: DeviceParams, osc: OscillatorState) -> Lines:
    """Spectral lines of the chain: clusters at their mean frequency, pulled near the edge."""
    return lines_from_values(p, osc.p0.tolist(), osc.frequency.tolist(),
                             osc.linewidth.tolist(), osc.power.tolist())


def lines_from_values(p: DeviceParams, p0: list[float], f_osc: list[float],
                      lw_osc: list[float], pw_osc: list[float]) -> Lines:
    """chain_lines from the oscillators' values as lists of floats."""
    c, ref, x = p.coupling, p.coupling_p_ref, p.coupling_exponent
    k_links = [c * (math.sqrt(a * b) / ref) ** x for a, b in zip(p0[:-1], p0[1:])]
    clusters, ratios = _find_clusters(f_osc, k_links)
    n = len(clusters)
    freq, width, power, size = [], [], [], []
    margin = p.lock_margin
    for members, r in zip(clusters, ratios):
        a, b = members[0], members[-1] + 1
        m = b - a
        size.append(float(m))
        freq.append(sum(f_osc[a:b]) / m)
        # phase locking averages out each member's phase noise: linewidth / n [PHYSICS §2];
        # close to the edge thermal phase slips broaden it again
        w = sum(lw_osc[a:b]) / m / m
        if r > margin:
            w *= 1.0 + p.edge_broadening * ((r - margin) / (1.0 - margin)) ** 2
        width.append(w)
        power.append(sum(pw_osc[a:b]) * m**p.sync_power_exponent)
    # Adler beating between neighbouring clusters: the beat Delta shrinks to
    # Omega = sqrt(Delta^2 - Kc^2), Kc = K (1/nA + 1/nB), 0 exactly at the locking edge; the
    # phase slips modulate each line, giving sidebands n*Omega away from the partner with
    # amplitudes ~ q^n, q = (Delta - Omega)/Kc [Adler; Pikovsky et al., Synchronization]
    shift = [0.0] * n
    broaden = [0.0] * n
    bands: list[tuple[int, float, float]] = []  # cluster, signed beat, amplitude ratio
    for j in range(n - 1):
        kc = k_links[clusters[j][-1]] * (1.0 / size[j] + 1.0 / size[j + 1])
        delta = freq[j + 1] - freq[j]
        if kc <= 0.0 or delta == 0.0:
            continue
        omega = math.sqrt(max(delta * delta - kc * kc, 0.0))
        moved = delta - math.copysign(omega, delta)
        total = size[j] + size[j + 1]
        shift[j] += moved * size[j + 1] / total
        shift[j + 1] -= moved * size[j] / total
        q = min((abs(delta) - omega) / kc, 1.0)
        broaden[j] = max(broaden[j], q * q)
        broaden[j + 1] = max(broaden[j + 1], q * q)
        if p.sideband_orders and omega > 0.0:
            # each side is pulled in proportion to the other's size
            bands.append((j, -math.copysign(omega, delta), q * 2.0 * size[j + 1] / total))
            bands.append((j + 1, math.copysign(omega, delta), q * 2.0 * size[j] / total))
    freq = [f + s for f, s in zip(freq, shift)]
    width = [w * (1.0 + p.edge_broadening * b) for w, b in zip(width, broaden)]
    side: list[tuple[float, float, float]] = []
    kept = power[:]
    for j, beat, ratio in bands:
        ratio = min(ratio, _MAX_SIDEBAND_RATIO)
        weights = [ratio ** (2 * k) for k in range(1, p.sideband_orders + 1)]
        share = power[j] / (1.0 + sum(weights))  # the modulation moves power, adds none
        kept[j] -= share * sum(weights)
        for k, wgt in enumerate(weights, start=1):
            if wgt >= _FAINTEST_SIDEBAND:  # fainter ones are far below any floor
                side.append((freq[j] + k * beat, width[j], share * wgt))
    return Lines(clusters, np.array(freq), np.array(width), np.array(kept),
                 np.array(side, dtype=float).reshape(-1, 3))
