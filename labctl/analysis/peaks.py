"""Peak identity across current steps, line counting and the synchronization state (§2, §6).

Near a locking edge two beating clusters modulate each other: besides their (pulled) lines
the analyzer shows sidebands one beat outside the pair, 2f_a - f_b, and weaker ones further
out. Those are not oscillators, so they are set aside before lines are counted. And one line
alone says nothing about synchronization unless more lines were seen before it: "full" needs
the count of oscillating constrictions that merged to be known to be more than one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from labctl.analysis.lorentz import Peak

SYNC_STATES = ("off", "none", "partial", "full", "uncertain")
_SIDEBAND_TOLERANCE = 3e6  # Hz: how close to 2 f_a - f_b a sideband sits (fit precision)
_SIDEBAND_WIDTHS = 0.3  # ... or this fraction of the parent's linewidth, if larger
_SIDEBAND_ORDERS = 3  # f_a - n (f_b - f_a), n = 1..3
_SIDEBAND_WEAKER = 0.7  # a sideband carries clearly less power than the line it belongs to
# (equally spaced free lines of similar power look like a pair with its sidebands)


def track_peaks(previous: Sequence[Peak], current: Sequence[Peak],
                max_jump: float = 50e6) -> list[int | None]:
    """For each current peak, the index of the same peak in ``previous`` (or None if new).

    Matching is one-to-one and minimises the total frequency jump, so when two lines lock
    into one, the merged line keeps one identity and the other ends.
    """
    if not previous or not current:
        return [None] * len(current)
    prev_f = np.array([p.frequency for p in previous])
    cur_f = np.array([p.frequency for p in current])
    jump = np.abs(cur_f[:, None] - prev_f[None, :])
    # Forbidden pairs cost more than any allowed assignment could add up to.
    cost = np.where(jump < max_jump, jump, max_jump * (len(current) + len(previous) + 1))
    rows, cols = linear_sum_assignment(cost)
    match: list[int | None] = [None] * len(current)
    for r, c in zip(rows.tolist(), cols.tolist()):
        if jump[r, c] < max_jump:
            match[r] = c
    return match


def count_lines(peaks: Sequence[Peak], merge_distance: float = 10e6) -> int:
    """Number of distinct lines: peaks closer than ``merge_distance`` (Hz) count once."""
    if not peaks:
        return 0
    f = np.sort([p.frequency for p in peaks])
    return 1 + int(np.count_nonzero(np.diff(f) >= merge_distance))


def sidebands(peaks: Sequence[Peak]) -> set[int]:
    """Indices of the peaks that are modulation sidebands of two stronger lines.

    Taken strongest first, a peak is a sideband when it sits at f_a - n (f_b - f_a) for two
    lines a, b already taken as lines (n = 1..3, on the side away from b) and carries less
    power than a. Equally spaced free lines of similar power are not mistaken for sidebands
    because a sideband must be weaker than its parent.
    """
    order = sorted(range(len(peaks)), key=lambda k: -peaks[k].integrated_power)
    lines: list[int] = []
    side: set[int] = set()
    for k in order:
        p = peaks[k]
        if any(_is_sideband(p, peaks[a], peaks[b]) for a in lines for b in lines if a != b):
            side.add(k)
        else:
            lines.append(k)
    return side


def _is_sideband(p: Peak, a: Peak, b: Peak) -> bool:
    if p.integrated_power >= _SIDEBAND_WEAKER * a.integrated_power:
        return False
    beat = b.frequency - a.frequency
    if beat == 0.0:
        return False
    tolerance = max(_SIDEBAND_TOLERANCE, _SIDEBAND_WIDTHS * a.fwhm)
    n = (a.frequency - p.frequency) / beat  # orders away from b
    return 0.5 < n < _SIDEBAND_ORDERS + 0.5 and abs(p.frequency - (a.frequency - round(n)
                                                                   * beat)) < tolerance


def classify_sync(n_lines: int, n_oscillators: int = 4, n_known: int | None = None) -> str:
    """Synchronization state from the number of oscillator lines in a spectrum.

    ``n_known`` is how many oscillating constrictions are known to exist (the most lines
    seen so far in a sweep; None: all ``n_oscillators``). 'off': no line; 'none': a line per
    oscillator; 'partial': fewer lines than known oscillators, more than one; 'full': one
    line where more than one oscillator is known; 'uncertain': no more lines ever seen than
    now, fewer than the chain has (one line of unknown origin, or a partial lock that cannot
    be told from oscillators still below threshold).
    """
    if n_lines < 0 or n_oscillators < 1:
        raise ValueError(f"need n_lines >= 0 and n_oscillators >= 1, "
                         f"got n_lines={n_lines}, n_oscillators={n_oscillators}")
    known = n_oscillators if n_known is None else min(max(n_known, n_lines), n_oscillators)
    if n_lines == 0:
        return "off"
    # More lines than oscillators: beating sidebands near a locking edge, still unlocked.
    if n_lines >= n_oscillators:
        return "none"
    if n_lines < known:
        return "full" if n_lines == 1 else "partial"
    return "uncertain"


@dataclass
class SyncTracker:
    """Classifies each spectrum of a sweep with what the sweep has shown so far.

    The number of oscillators known is the most lines seen in two consecutive spectra (one
    spurious maximum does not count), at most the chain's size.
    """

    n_oscillators: int = 4
    known: int = 0
    last: int = 0

    def update(self, n_lines: int) -> str:
        """The state of a spectrum with ``n_lines`` oscillator lines; learns from it."""
        self.known = min(max(self.known, min(n_lines, self.last)), self.n_oscillators)
        self.last = n_lines
        return classify_sync(n_lines, self.n_oscillators, self.known)

    def restore(self, counts: Sequence[int]) -> None:
        """Continue after a resume from the line counts already recorded."""
        for n in counts:
            self.known = min(max(self.known, min(int(n), self.last)), self.n_oscillators)
            self.last = int(n)


def oscillator_lines(peaks: Sequence[Peak], max_linewidth: float,
                     merge_distance: float = 10e6) -> list[Peak]:
    """The peaks that are auto-oscillation lines: not broad thermal peaks, not sidebands."""
    narrow = [p for p in peaks if p.fwhm <= max_linewidth and math.isfinite(p.frequency)]
    side = sidebands(narrow)
    lines = [p for k, p in enumerate(narrow) if k not in side]
    # peaks closer than merge_distance are one line
    lines.sort(key=lambda p: p.frequency)
    out: list[Peak] = []
    for p in lines:
        if out and p.frequency - out[-1].frequency < merge_distance:
            if p.integrated_power > out[-1].integrated_power:
                out[-1] = p
            continue
        out.append(p)
    return out


_BEAT_BROADER = 1.3  # a merged line this much broader than its parents still beats


@dataclass
class MergeTracker:
    """How many oscillators each tracked line carries, so that two lines blurred into one
    broad line while they beat near a locking edge still count as two.

    When lines of the previous spectrum end where a line continues (their identities merge),
    the merged line is locked if it is narrower than its parents were (locking averages
    their phase noise), and still two beating lines if it is broader: it keeps counting as
    its parents until it narrows.
    """

    _last: dict[int, tuple[float, float, int, float]] = None  # id -> f, fwhm, count, width

    def __post_init__(self):
        if self._last is None:
            self._last = {}

    def update(self, lines: Sequence[tuple[int, float, float]]) -> int:
        """Oscillators behind ``lines`` (id, frequency, fwhm) of one spectrum."""
        now = {i for i, _, _ in lines}
        ended = {i: v for i, v in self._last.items() if i not in now}
        state: dict[int, tuple[float, float, int, float]] = {}
        for i, f, w in lines:
            count, ref = 1, w
            if i in self._last:
                _, w0, count, ref = self._last[i]
                if count == 1:
                    ref = w0
            parents = [v for v in ended.values() if abs(v[0] - f) < max(w, 20e6)]
            if parents and i in self._last:
                # locking narrows a line below the broader of the lines it joins
                ref = max([ref] + [v[1] if v[2] == 1 else v[3] for v in parents])
                count += sum(v[2] for v in parents)
                for j in [j for j, v in ended.items() if abs(v[0] - f) < max(w, 20e6)]:
                    del ended[j]
            if count > 1 and not w > _BEAT_BROADER * ref:
                count = 1  # narrowed: locked
            state[i] = (f, w, count, ref)
        self._last = state
        return sum(v[2] for v in state.values())
