"""Peak identity across current steps, line counting and synchronization state."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.analysis.lorentz import Peak
from labctl.analysis.peaks import classify_sync, count_lines, track_peaks


def peak(f: float) -> Peak:
    return Peak(frequency=f, fwhm=10e6, peak_psd=1e-20, integrated_power=1e-13, snr_db=6.0)


def test_tracks_small_moves_and_flags_new_lines():
    prev = [peak(8.0e9), peak(8.2e9), peak(8.4e9)]
    cur = [peak(8.01e9), peak(8.3e9), peak(8.43e9)]
    assert track_peaks(prev, cur, max_jump=50e6) == [0, None, 2]


def test_two_lines_locking_into_one_keep_one_identity():
    prev = [peak(8.00e9), peak(8.04e9)]
    cur = [peak(8.015e9)]
    assert track_peaks(prev, cur) == [0]


def test_matching_is_one_to_one_and_minimises_total_jump():
    prev = [peak(8.00e9), peak(8.03e9)]
    cur = [peak(8.02e9), peak(8.045e9)]
    # Greedy nearest would give both to index 1; the assignment keeps them apart.
    assert track_peaks(prev, cur) == [0, 1]


def test_empty_inputs():
    assert track_peaks([], [peak(8e9)]) == [None]
    assert track_peaks([peak(8e9)], []) == []


@settings(max_examples=50, derandomize=True)
@given(st.lists(st.floats(7e9, 12e9), min_size=1, max_size=6, unique=True),
       st.floats(-20e6, 20e6))
def test_rigid_shift_keeps_every_identity(freqs, shift):
    freqs = sorted(freqs)
    if any(b - a < 100e6 for a, b in zip(freqs, freqs[1:])):
        return  # lines closer than two jumps are genuinely ambiguous
    prev = [peak(f) for f in freqs]
    cur = [peak(f + shift) for f in freqs]
    assert track_peaks(prev, cur) == list(range(len(freqs)))


def test_count_lines_merges_close_peaks():
    peaks = [peak(8.000e9), peak(8.005e9), peak(8.1e9), peak(8.3e9), peak(8.308e9)]
    assert count_lines(peaks, merge_distance=10e6) == 3
    assert count_lines([]) == 0


@pytest.mark.parametrize(("n_lines", "state"),
                         [(0, "off"), (1, "full"), (2, "partial"), (3, "partial"),
                          (4, "none"), (6, "none")])
def test_classify_sync(n_lines, state):
    assert classify_sync(n_lines, 4) == state


def test_classify_sync_rejects_negative_count():
    with pytest.raises(ValueError, match="n_lines"):
        classify_sync(-1)
