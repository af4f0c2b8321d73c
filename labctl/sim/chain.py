"""Mutual synchronization of an open chain of phase oscillators with nearest-neighbour coupling."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def find_clusters(freq: np.ndarray, k_links: np.ndarray) -> list[list[int]]:
    """Split the chain into locked clusters (Kuramoto open chain, nearest neighbours).

    A segment locks iff every partial sum of deviations from its mean frequency stays
    within the coupling of the link it ends at. Of all ways to cut the chain into such
    segments (2^(n-1), 8 for four) take the fewest clusters, then the most robust one;
    unlike a greedy split this never unlocks a pair when the coupling grows.
    """
    f = [float(x) for x in freq]
    k = [float(x) for x in k_links]
    n = len(f)
    ratio = {(a, b): _lock_ratio(f, k, a, b) for a in range(n) for b in range(a + 1, n + 1)}
    best: tuple[int, float, list[tuple[int, int]]] | None = None
    for cuts in range(1 << (n - 1)):
        bounds = [0] + [j + 1 for j in range(n - 1) if cuts >> j & 1] + [n]
        segs = list(zip(bounds[:-1], bounds[1:]))
        worst = max(ratio[s] for s in segs)
        if worst > 1.0:
            continue
        if best is None or (len(segs), worst) < best[:2]:
            best = (len(segs), worst, segs)
    assert best is not None  # all singletons always qualify
    return [list(range(a, b)) for a, b in best[2]]


def chain_lines(p: DeviceParams, osc: OscillatorState) -> Lines:
    """Spectral lines of the chain: clusters at their mean frequency, pulled near the edge."""
    k_links = link_coupling(p, osc.p0)
    clusters = find_clusters(osc.frequency, k_links)
    n = len(clusters)
    freq = np.empty(n)
    width = np.empty(n)
    power = np.empty(n)
    size = np.empty(n)
    for j, members in enumerate(clusters):
        m = len(members)
        size[j] = m
        freq[j] = osc.frequency[members].mean()
        # phase locking averages out each member's phase noise: linewidth / n [PHYSICS §2]
        width[j] = osc.linewidth[members].mean() / m
        power[j] = osc.power[members].sum() * m ** p.sync_power_exponent
    # Adler pulling between neighbouring clusters: the beat Delta shrinks to
    # sqrt(Delta^2 - Kc^2), Kc = K (1/nA + 1/nB), which is 0 exactly at the locking edge
    shift = np.zeros(n)
    for j in range(n - 1):
        link = clusters[j][-1]
        kc = k_links[link] * (1.0 / size[j] + 1.0 / size[j + 1])
        delta = freq[j + 1] - freq[j]
        if kc <= 0.0 or delta == 0.0:
            continue
        pulled = np.sign(delta) * np.sqrt(max(delta * delta - kc * kc, 0.0))
        moved = delta - pulled
        total = size[j] + size[j + 1]
        shift[j] += moved * size[j + 1] / total
        shift[j + 1] -= moved * size[j] / total
    return Lines(clusters, freq + shift, width, power)
