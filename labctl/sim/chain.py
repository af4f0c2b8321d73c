"""Mutual synchronization of an open chain of phase oscillators with nearest-neighbour coupling."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labctl.sim.oscillators import OscillatorState
from labctl.sim.params import DeviceParams


@dataclass
class Lines:
    """What the analyzer sees: one spectral line per synchronized cluster."""

    clusters: list[list[int]]
    frequency: np.ndarray  # Hz
    linewidth: np.ndarray  # FWHM, Hz
    power: np.ndarray  # integrated, at the device, W


def link_coupling(p: DeviceParams, p0: np.ndarray) -> np.ndarray:
    """K/2pi (Hz) of each link k between constrictions k and k+1.

    The coupling is carried by the oscillation amplitudes (spin waves and dipolar fields of
    the precessing neighbours), so it vanishes below threshold and grows with p0; this is
    what makes the chain lock at higher current.
    """
    mean_p = np.sqrt(p0[:-1] * p0[1:])
    return p.coupling * (mean_p / p.coupling_p_ref) ** p.coupling_exponent


def _link_coupling_list(p: DeviceParams, p0: list[float]) -> list[float]:
    """link_coupling on plain floats, identical to the last bit."""
    if p.coupling_exponent != 2:
        return link_coupling(p, np.array(p0)).tolist()
    # numpy squares for ** 2: x * x, not pow()
    c, ref = p.coupling, p.coupling_p_ref
    out = []
    for a, b in zip(p0[:-1], p0[1:]):
        x = math.sqrt(a * b) / ref
        out.append(c * (x * x))
    return out


def _lock_ratio(freq: list[float], k_links: list[float], a: int, b: int) -> float:
    """Largest |partial sum of deviations| / coupling of segment [a, b); <= 1 means locked."""
    mean = sum(freq[a:b]) / (b - a)
    worst = 0.0
    partial = 0.0
    for j in range(a, b - 1):  # plain floats: four oscillators, numpy would only add overhead
        partial += freq[j] - mean
        need = abs(partial)
        k = k_links[j]
        if k > 0.0:
            worst = max(worst, need / k)
        elif need > 0.0:
            return math.inf
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
    return _find_clusters([float(x) for x in freq], [float(x) for x in k_links])


def _find_clusters(f: list[float], k: list[float]) -> list[list[int]]:
    """find_clusters on lists of floats."""
    ratio: dict[tuple[int, int], float] = {}  # of the segments looked at; one alone is 0
    # fewest clusters first; within a count the most robust, the first of equals winning
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
            return [list(c) for c in best]
    raise AssertionError("all singletons always qualify")


def chain_lines(p: DeviceParams, osc: OscillatorState) -> Lines:
    """Spectral lines of the chain: clusters at their mean frequency, pulled near the edge."""
    return lines_from_values(p, osc.p0.tolist(), osc.frequency.tolist(),
                             osc.linewidth.tolist(), osc.power.tolist())


def lines_from_values(p: DeviceParams, p0: list[float], f_osc: list[float],
                      lw_osc: list[float], pw_osc: list[float]) -> Lines:
    """chain_lines from the oscillators' values as lists of floats."""
    k_links = _link_coupling_list(p, p0)
    clusters = _find_clusters(f_osc, k_links)
    n = len(clusters)
    freq = []
    width = []
    power = []
    size = []
    sync = p.sync_power_exponent
    for members in clusters:
        a, b = members[0], members[-1] + 1
        m = b - a
        size.append(float(m))
        # means summed in order, as numpy does for so few elements
        freq.append(sum(f_osc[a:b]) / m)
        # phase locking averages out each member's phase noise: linewidth / n [PHYSICS §2]
        width.append(sum(lw_osc[a:b]) / m / m)
        power.append(sum(pw_osc[a:b]) * m**sync)
    # Adler pulling between neighbouring clusters: the beat Delta shrinks to
    # sqrt(Delta^2 - Kc^2), Kc = K (1/nA + 1/nB), which is 0 exactly at the locking edge
    shift = [0.0] * n
    for j in range(n - 1):
        link = clusters[j][-1]
        kc = k_links[link] * (1.0 / size[j] + 1.0 / size[j + 1])
        delta = freq[j + 1] - freq[j]
        if kc <= 0.0 or delta == 0.0:
            continue
        pulled = math.copysign(math.sqrt(max(delta * delta - kc * kc, 0.0)), delta)
        moved = delta - pulled
        total = size[j] + size[j + 1]
        shift[j] += moved * size[j + 1] / total
        shift[j + 1] -= moved * size[j] / total
    values = np.array([[a + b for a, b in zip(freq, shift)], width, power])
    return Lines(clusters, values[0], values[1], values[2])
