"""Mutual synchronization of an open chain of phase oscillators with nearest-neighbour coupling."""

from __future__ import annotations

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

    The coupling is carried by the oscillation amplitudes, so it grows as sqrt(p_k p_k+1)
    and vanishes below threshold; this is what makes the chain lock at higher current.
    """
    return p.coupling * np.sqrt(p0[:-1] * p0[1:]) / p.coupling_p_ref


def find_clusters(freq: np.ndarray, k_links: np.ndarray) -> list[list[int]]:
    """Split the chain into locked clusters (Kuramoto open chain, nearest neighbours).

    A segment locks iff every partial sum of deviations from its mean frequency stays
    within the coupling of the link it ends at; otherwise split at the worst link.
    """
    out: list[list[int]] = []
    stack = [(0, len(freq))]
    while stack:
        a, b = stack.pop()
        if b - a == 1:
            out.append([a])
            continue
        seg = freq[a:b]
        partial = np.abs(np.cumsum(seg - seg.mean())[:-1])
        k = k_links[a:b - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(k > 0, partial / np.where(k > 0, k, 1.0),
                             np.where(partial > 0, np.inf, 0.0))
        worst = int(np.argmax(ratio))
        if ratio[worst] <= 1.0:
            out.append(list(range(a, b)))
        else:
            stack.append((a + worst + 1, b))
            stack.append((a, a + worst + 1))
    out.sort(key=lambda c: c[0])
    return out


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
