"""Peak identity across current steps, line counting and the synchronization state (§2, §6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from labctl.analysis.lorentz import Peak

SYNC_STATES = ("off", "none", "partial", "full")


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


def classify_sync(n_lines: int, n_oscillators: int = 4) -> str:
    """'off' (no line), 'full' (one line), 'none' (a line per oscillator) or 'partial'."""
    if n_lines < 0 or n_oscillators < 1:
        raise ValueError(f"need n_lines >= 0 and n_oscillators >= 1, "
                         f"got n_lines={n_lines}, n_oscillators={n_oscillators}")
    if n_lines == 0:
        return "off"
    if n_lines == 1:
        return "full"
    # More lines than oscillators: beating sidebands near a locking edge, still unlocked.
    if n_lines >= n_oscillators:
        return "none"
    return "partial"
