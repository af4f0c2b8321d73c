"""Spectrum-analyzer traces: dBm in a resolution bandwidth to device-referred PSD, noise floor."""

from __future__ import annotations

import math

import numpy as np

# Standard deviation of a normal distribution in units of its interquartile range.
_IQR_TO_SIGMA = 1.0 / 1.3489795
# Every n-th point is plenty for a robust floor on 10^4-point traces and keeps fits fast.
MAX_FLOOR_SAMPLES = 600


def dbm_to_psd(trace_dbm: np.ndarray | float, rbw: float, gain_db: float = 0.0,
               noise_bandwidth_factor: float = 1.06) -> np.ndarray | float:
    """Power spectral density (W/Hz) at the device from a trace in dBm per ``rbw`` (Hz).

    The analyzer integrates over its noise bandwidth (≈1.06·RBW for a Gaussian filter);
    ``gain_db`` is the amplifier chain between device and analyzer.
    """
    if rbw <= 0:
        raise ValueError(f"rbw must be positive, got {rbw!r}")
    if isinstance(trace_dbm, float):  # one level per fitted line: skip numpy's overhead
        return 1e-3 * 10.0 ** ((trace_dbm - gain_db) / 10.0) / (noise_bandwidth_factor * rbw)
    watts = 1e-3 * np.power(10.0, (np.asarray(trace_dbm, dtype=float) - gain_db) / 10.0)
    psd = watts / (noise_bandwidth_factor * rbw)
    return float(psd) if np.ndim(psd) == 0 else psd


def floor_statistics(trace_dbm: np.ndarray) -> tuple[float, float]:
    """Robust noise floor (dBm) and point-to-point scatter (dB) of a trace with a few peaks.

    The median is taken twice: the second time without points far above the first
    estimate, so that strong peaks covering part of the span do not lift the floor.
    """
    y = np.asarray(trace_dbm, dtype=float).ravel()
    sample = y[:: max(1, y.size // MAX_FLOOR_SAMPLES)]
    if not np.all(np.isfinite(sample)):
        sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return float("nan"), float("nan")
    return sample_floor_statistics(sample)


def sample_floor_statistics(sample: np.ndarray) -> tuple[float, float]:
    """:func:`floor_statistics` of an already thinned, finite, 1-D float sample.

    Median and σ come from the quartiles (the interquartile range is as efficient as the
    median absolute deviation for normal scatter, and cheaper), read from one sort: on a
    trace's samples, which are far from random order, a sort of ~600 values is quicker
    than numpy's partition at three points, and it serves the second pass as well.
    """
    x = np.sort(sample)
    n = x.size
    q1, q2, q3 = n // 4, n // 2, (3 * n) // 4
    med = float(x[q2])
    sigma = float(x[q3] - x[q1]) * _IQR_TO_SIGMA
    limit = med + 3.0 * sigma
    # Pure noise leaves ~0.1 % above 3σ; only a trace with lines needs the second pass.
    if sigma <= 0 or not x[q3] < limit:
        return med, sigma
    high = n - int(np.searchsorted(x, limit))  # how many reach the limit
    if 0.02 * n < high <= 0.5 * n:
        # Clipping the top 3σ of pure noise would pull the median down by only ~0.003σ.
        # The quartiles of the rest, its m lowest samples, are read from the same sort.
        m = n - high
        q1, q2, q3 = m // 4, m // 2, (3 * m) // 4
        med = float(x[q2])
        sigma = float(x[q3] - x[q1]) * _IQR_TO_SIGMA
    return med, sigma


def estimate_background(trace_dbm: np.ndarray, segments: int = 1) -> float | np.ndarray:
    """Noise floor (dBm) of a trace when no background trace was recorded.

    With ``segments`` > 1 the floor is estimated piecewise and interpolated to every point,
    for spans over which the amplifier gain is not flat.
    """
    y = np.asarray(trace_dbm, dtype=float)
    if segments <= 1:
        return floor_statistics(y)[0]
    edges = np.linspace(0, y.size, segments + 1).astype(int)
    centres = 0.5 * (edges[:-1] + edges[1:]) - 0.5
    levels = np.array([floor_statistics(y[a:b])[0] for a, b in zip(edges[:-1], edges[1:])])
    # A segment filled by a broad line reads high; never let it exceed the global floor by
    # more than 3σ of the trace scatter.
    glob, sigma = floor_statistics(y)
    levels = np.minimum(levels, glob + 3.0 * sigma)
    return np.interp(np.arange(y.size), centres, levels)


SMOOTH_SPAN = 20e6  # Hz: the floor (gain ripple) varies slowly against this
_SPUR_Z = 6.0  # a background point this many σ above its smoothed floor is a spur: kept raw
_SPUR_MIN_DB = 1.0  # ... and at least this much (a CW spur stands several dB out)


def smooth_background(trace_dbm: np.ndarray, df: float) -> np.ndarray:
    """A recorded background trace with its noise averaged over ~20 MHz, spurs kept as they are.

    Subtracting a raw background doubles the noise variance of every point; the floor it
    corrects (amplifier gain ripple) is smooth, and what is not smooth (the analyzer's own
    CW spurs) stands far out of the noise and is left untouched.
    """
    return _smooth_and_spurs(trace_dbm, df)[0]


def background_spurs(trace_dbm: np.ndarray, freq: np.ndarray) -> list[float]:
    """Frequencies (Hz) of the spurs in a background trace: CW lines of the analyzer or the
    lab that are there without the device, so a peak at one is not an oscillator."""
    y = np.asarray(trace_dbm, dtype=float)
    _, peaks = _smooth_and_spurs(y, float(freq[1] - freq[0]))
    out: list[float] = []
    for run in np.split(peaks, np.flatnonzero(np.diff(peaks) > 1) + 1):
        if run.size:
            out.append(float(freq[run[np.argmax(y[run])]]))
    return out


def _smooth_and_spurs(trace_dbm: np.ndarray, df: float) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed background and the indices of the points standing out as spurs."""
    y = np.asarray(trace_dbm, dtype=float)
    k = max(1, int(round(SMOOTH_SPAN / df)) | 1)  # odd, centred
    if k == 1 or y.size < 4 * k:
        return y.copy(), np.empty(0, dtype=int)
    lin = np.power(10.0, y / 10.0)
    c = np.concatenate([[0.0], np.cumsum(lin)])
    half = k // 2
    lo = np.clip(np.arange(y.size) - half, 0, y.size)
    hi = np.clip(np.arange(y.size) + half + 1, 0, y.size)
    smooth = 10.0 * np.log10((c[hi] - c[lo]) / (hi - lo))
    _, sigma = floor_statistics(y - smooth)
    # a spur lifts its neighbourhood's average too: widen the kept region by the window
    spur = y - smooth > max(_SPUR_Z * sigma, _SPUR_MIN_DB)
    tops = np.flatnonzero(spur)
    if spur.any():
        spur = np.convolve(spur, np.ones(k), mode="same") > 0
        smooth[spur] = y[spur]
    return smooth, tops


def excess_profile(trace_dbm: np.ndarray, background_dbm: np.ndarray | float, rbw: float,
                   df: float, block: int, gain_db: float = 0.0,
                   flatten: bool = True) -> np.ndarray:
    """Power above the background, integrated over blocks of ``block`` points: W at the device.

    Each trace point reads the power in one noise bandwidth; its density times the point
    spacing, summed over a block, is the power in that block. The floor is taken out as
    measured, so the noise of a block averages to zero and lines of any width are counted
    whole, however faint — the basis of a threshold that does not depend on detecting lines.
    With ``flatten`` the excess is divided by the background's shape relative to its median:
    the floor is the amplifier's noise, so its ripple is the gain's ripple, which a line
    passes through too (±0.4 dB is ±10 % of power, enough to bend a threshold fit).
    """
    return BandPower(background_dbm, rbw, df, block, gain_db, flatten)(trace_dbm)


class BandPower:
    """:func:`excess_profile` against one background, which is prepared once."""

    def __init__(self, background_dbm: np.ndarray | float, rbw: float, df: float, block: int,
                 gain_db: float = 0.0, flatten: bool = True):
        self.block = max(1, int(block))
        self._scale = np.float32(math.log(10.0) / 10.0)
        bg = np.asarray(background_dbm, dtype=np.float32)
        if bg.ndim:
            self._floor = np.exp(bg * self._scale)
            self._shape = (np.float32(np.median(self._floor)) / self._floor if flatten
                           else None)
        else:
            self._floor = np.float32(math.exp(float(bg) * float(self._scale)))
            self._shape = None
        self._units = 1e-3 * df / (1.06 * rbw) * 10.0 ** (-gain_db / 10.0)
        self._ones = np.ones(self.block)

    def __call__(self, trace_dbm: np.ndarray) -> np.ndarray:
        lin = np.asarray(trace_dbm, dtype=np.float32) * self._scale
        np.exp(lin, out=lin)
        lin -= self._floor
        if self._shape is not None:
            lin *= self._shape
        m = lin.size // self.block
        # in float64, as a product with ones: twice as fast as numpy's cast-and-reduce
        # along a short axis (the same sums to the last bit of the float32 stored)
        sums = lin[:m * self.block].astype(np.float64).reshape(m, self.block) @ self._ones
        sums *= self._units
        return sums
