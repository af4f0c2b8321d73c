"""Reproducible noise: analyzer trace scatter and gaussmeter noise.

Every random draw comes from a generator seeded by (seed, a hash of the rounded physical
state and settings, how many times in a row that state was seen), never from global state,
so a resumed run on a fresh simulator reproduces an uninterrupted run exactly.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np
from scipy.special import digamma, gammainc, polygamma

DB = 10.0 / math.log(10.0)  # dB per neper of power
_TABLE_BITS = 20  # 2^20 precomputed deviates: drawing 10^4 fresh normals costs ~0.1 ms
_TAG_SWEEP = 0x5EE9
_TAG_HALL = 0x4A11
_TAG_TABLE = 0x7AB1
_SMOOTHED_KEPT = 4  # smoothed tables kept (4 MB each): one per RBW/bin ratio in use


def state_hash(values: tuple) -> int:
    """Stable 63-bit hash of a tuple of ints/strings (Python's hash() is salted per process)."""
    return text_hash(repr(values))


def text_hash(text: str) -> int:
    """Stable 63-bit hash of a text: state_hash(values) is text_hash(repr(values))."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _words(n: int) -> list[int]:
    """The uint32 words numpy's SeedSequence makes of a non-negative int (low word first)."""
    if n < 0:
        raise ValueError("seed words must be non-negative")
    if n == 0:
        return [0]
    words = []
    while n:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
    return words


def generator(seed: int, tag: int, key: int, count: int) -> np.random.Generator:
    """A generator that depends only on its arguments.

    The same stream as ``PCG64([seed & (2**63 - 1), tag, key, count])``: the entropy is
    handed to SeedSequence as the uint32 words it would assemble itself from the list,
    which skips its slow per-int coercion.
    """
    words = _words(seed & (2**63 - 1)) + _words(tag) + _words(key) + _words(count)
    entropy = np.random.SeedSequence(np.array(words, dtype=np.uint32))
    return np.random.Generator(np.random.PCG64(entropy))


def gaussmeter_noise(seed: int, setpoint: float, reads: int) -> float:
    """Standard-normal deviate for the ``reads``-th reading since the setpoint changed.

    Box-Muller on a 128-bit hash of the reading (as the source meters' read noise): one
    deviate per reading, where a seeded Generator costs ~16 µs and this ~3.
    """
    text = repr((seed & (2**63 - 1), _TAG_HALL, round(setpoint * 1e6), reads)).encode()
    digest = hashlib.blake2b(text, digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "little") + 1) / 2.0**64  # (0, 1]: log is finite
    u2 = int.from_bytes(digest[8:], "little") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class _Bounded:
    """Successive ``rng.integers(0, high)`` (0 < high < 2**32) of a fresh Generator, cheaper.

    numpy draws these with Lemire's method on 32-bit halves of the bit generator's 64-bit
    outputs, low half first; doing that here on ``random_raw`` skips the per-call overhead
    of Generator.integers and gives the same numbers. The rng is used up by it.
    """

    def __init__(self, rng: np.random.Generator):
        self._raw = rng.bit_generator.random_raw
        self._half: int | None = None  # the unused high half of the last 64-bit output

    def _next32(self) -> int:
        if self._half is not None:
            value, self._half = self._half, None
            return value
        raw = self._raw()
        self._half = raw >> 32
        return raw & 0xFFFFFFFF

    def __call__(self, high: int) -> int:
        if high == 1:
            return 0  # numpy draws nothing for a single value
        if not 1 < high < 2**32:
            raise ValueError(f"bounded draw: high = {high} out of range")
        m = self._next32() * high
        low = m & 0xFFFFFFFF
        if low < high:
            threshold = (2**32 - high) % high
            while low < threshold:
                m = self._next32() * high
                low = m & 0xFFFFFFFF
        return m >> 32


class TraceNoise:
    """Sweep-to-sweep scatter of an analyzer trace, in dB, from precomputed deviate tables."""

    def __init__(self, seed: int):
        rng = generator(seed, _TAG_TABLE, 0, 0)
        n = 1 << _TABLE_BITS
        self._normal = rng.standard_normal(n, dtype=np.float32)
        # a single sweep of noise power is exponential; in dB it is skewed (mean -2.51 dB,
        # std 5.57 dB), so draw that exactly instead of a Gaussian
        self._single = (DB * np.log(rng.standard_exponential(n))).astype(np.float32)
        self._smoothed: dict[int, np.ndarray] = {}

    def _table(self, width: int) -> np.ndarray:
        """The normal table smoothed over ``width`` neighbours, still of unit variance."""
        if width <= 1:
            return self._normal
        table = self._smoothed.get(width)
        if table is None:
            if len(self._smoothed) >= _SMOOTHED_KEPT:
                self._smoothed.pop(next(iter(self._smoothed)))
            table = moving_sums(self._normal, width)
            self._smoothed[width] = table
        return table

    def deviates(self, rng: np.random.Generator, points: int,
                 correlation: float = 1.0) -> np.ndarray:
        """``points`` standard normal deviates (float32), correlated over ``correlation``
        neighbours (points per RBW: one RBW filter sees them all)."""
        return self._slices(self._table(int(round(correlation))), rng, points)

    def single(self, rng: np.random.Generator, points: int) -> np.ndarray:
        """``points`` dB values of single exponential noise samples (mean power 1)."""
        return self._slices(self._single, rng, points)

    @staticmethod
    def _slices(table: np.ndarray, rng: np.random.Generator, points: int) -> np.ndarray:
        size = table.size
        draw = _Bounded(rng)
        if points <= size // 2:
            start = draw(size - points)
            return table[start:start + points]
        parts = []
        left = points
        while left > 0:
            chunk = min(left, size // 2)
            start = draw(size - chunk)
            parts.append(table[start:start + chunk])
            left -= chunk
        return np.concatenate(parts)

    def sweep_rng(self, seed: int, key: int, count: int) -> np.random.Generator:
        """The generator of one sweep."""
        return generator(seed, _TAG_SWEEP, key, count)


_CHUNK = 1 << 15  # running-sum values at a time: they stay in cache, no 8 MB temporaries


def moving_sums(x: np.ndarray, width: int) -> np.ndarray:
    """float32 of (c[i + width] - c[i]) / sqrt(width), where c is the float64 running sum of
    ``x`` (c[0] = 0, c[k] = c[k-1] + x[k-1], as np.cumsum adds): unit-variance sums of
    ``width`` neighbours, made a chunk at a time with the same additions in the same order."""
    n = x.size
    out = np.empty(n + 1 - width, dtype=np.float32)
    scale = math.sqrt(width)
    chunk = max(_CHUNK, 2 * width)
    # buf[width + t] = c[p + t] for the chunk [p, q); buf[:width] the c values just before
    buf = np.empty(width + chunk)
    p = 0
    while p <= n:
        q = min(p + chunk, n + 1)
        seg = buf[width:width + q - p]
        if p == 0:
            seg[0] = 0.0
            seg[1:] = x[:q - 1]
        else:
            seg[:] = x[p - 1:q - 1]
            seg[0] += buf[width - 1]  # c[p - 1]
        np.add.accumulate(seg, out=seg)
        lo, hi = max(p - width, 0), q - width
        if hi > lo:
            sums = buf[width + lo + width - p:width + hi + width - p] - buf[
                width + lo - p:width + hi - p]
            sums /= scale
            out[lo:hi] = sums
        buf[:width] = buf[q - p:q - p + width]
        p = q
    return out


def _significant(x: float) -> float:
    return float(f"{x:.3g}")


def detector_statistics(kind: str, samples: float, video: float, averages: int,
                        average_type: str) -> tuple[float, float, bool]:
    """Offset and scatter (dB) of a displayed noise point around the true mean power, and
    whether it is one exponential sample (then drawn exactly rather than as a Gaussian).

    ``samples`` independent noise samples reach the detector per point and sweep, each the
    video average of ``video`` of them; ``kind`` is "mean" (average/RMS detector), "sample",
    "max" (peak) or "min" (negative peak); ``averages`` sweeps are averaged in power or log.
    """
    return _statistics(kind, _significant(samples), _significant(video), int(averages),
                       average_type)


@lru_cache(maxsize=256)
def _statistics(kind: str, samples: float, video: float, n: int,
                average_type: str) -> tuple[float, float, bool]:
    if kind in ("mean", "sample"):
        m = samples if kind == "mean" else video
        if m <= 1.0 and n == 1:
            return 0.0, DB * math.sqrt(math.pi**2 / 6.0), True
        if average_type == "log":
            # mean of n logs of Gamma(m)/m: biased by psi(m) - ln m (-2.51 dB for m = 1)
            return DB * float(digamma(m) - math.log(m)), DB * math.sqrt(
                float(polygamma(1, m)) / n), False
        # power average of n Gamma(m)/m is Gamma(nm)/(nm): unbiased in linear power
        nm = n * m
        return DB * float(digamma(nm) - math.log(nm)), DB * math.sqrt(
            float(polygamma(1, nm))), False
    # the largest (smallest) of k independent video-averaged samples, Gamma(v)/v each
    k = max(1.0, samples / video)
    mean, var, log_mean, log_var = _extreme_moments(kind, k, video)
    if average_type == "log" or n == 1:
        return DB * log_mean, DB * math.sqrt(log_var / n), False
    rel = var / (n * mean * mean)  # of the power average; its log by the delta method
    return DB * (math.log(mean) - 0.5 * rel), DB * math.sqrt(rel), False


@lru_cache(maxsize=64)
def _extreme_moments(kind: str, k: float, v: float) -> tuple[float, float, float, float]:
    """E[X], Var[X], E[ln X], Var[ln X] of the max ("max") or min of k Gamma(v)/v."""
    x = np.geomspace(1e-6, 60.0, 6000)
    cdf = gammainc(v, v * x)
    dist = cdf**k if kind == "max" else 1.0 - (1.0 - cdf) ** k
    pdf = np.gradient(dist, x)
    w = pdf * np.gradient(x)
    w /= w.sum()
    lx = np.log(x)
    mean = float(w @ x)
    log_mean = float(w @ lx)
    return (mean, float(w @ (x - mean) ** 2), log_mean, float(w @ (lx - log_mean) ** 2))


def thermal_floor_dbm_hz(gain_db: float, nf_db: float, analyzer_dbm_hz: float) -> float:
    """Analyzer-referred noise density: kTB*F*G of the amplifier plus the analyzer's own."""
    amp = 10 ** ((-174.0 + gain_db + nf_db) / 10.0)
    return 10.0 * math.log10(amp + 10 ** (analyzer_dbm_hz / 10.0))
