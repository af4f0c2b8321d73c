"""Peak identity across current steps, line counting and synchronization state."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.analysis.lorentz import Peak
from labctl.analysis.peaks import (
    MergeTracker,
    SyncTracker,
    classify_sync,
    count_lines,
    oscillator_lines,
    sidebands,
    track_peaks,
)


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


def line(f: float, power: float = 1e-13, fwhm: float = 10e6) -> Peak:
    return Peak(frequency=f, fwhm=fwhm, peak_psd=1e-20, integrated_power=power, snr_db=6.0)


def test_classify_sync_with_what_the_sweep_has_shown():
    # one line is "full" only once more than one oscillator is known to exist
    assert classify_sync(1, 4, n_known=1) == "uncertain"
    assert classify_sync(1, 4, n_known=4) == "full"
    assert classify_sync(1, 4, n_known=2) == "full"
    # fewer lines than the chain and never more seen: partial or not all above threshold
    assert classify_sync(2, 4, n_known=2) == "uncertain"
    assert classify_sync(2, 4, n_known=4) == "partial"
    assert classify_sync(4, 4, n_known=0) == "none"
    assert classify_sync(0, 4, n_known=4) == "off"


def test_sync_tracker_learns_the_count_from_two_spectra_in_a_row():
    tracker = SyncTracker(4)
    states = [tracker.update(n) for n in (0, 2, 4, 4, 3, 2, 5, 1, 1)]
    assert states == ["off", "uncertain", "none", "none", "partial", "partial", "none",
                      "full", "full"]
    # a single spurious count does not raise what is known
    spurious = SyncTracker(4)
    assert [spurious.update(n) for n in (2, 2, 4, 2, 1)] == [
        "uncertain", "uncertain", "none", "uncertain", "full"]
    resumed = SyncTracker(4)
    resumed.restore([0, 2, 4, 4])
    assert resumed.update(3) == "partial"


def test_sidebands_one_beat_outside_a_beating_pair_are_set_aside():
    a, b = line(10.20e9, 4e-13), line(10.25e9, 3.5e-13)  # sidebands below 0.7 of the parent
    first = [line(10.15e9, 1e-13), line(10.30e9, 0.9e-13)]  # 2 f_a - f_b, 2 f_b - f_a
    second = [line(10.10e9, 0.2e-13)]  # 3 f_a - 2 f_b
    peaks = [a, b, *first, *second]
    assert sidebands(peaks) == {2, 3, 4}
    assert oscillator_lines(peaks, 30e6) == [a, b]


def test_equally_spaced_free_lines_of_similar_power_are_all_lines():
    peaks = [line(10.1e9, 1.0e-13), line(10.2e9, 1.1e-13), line(10.3e9, 0.95e-13),
             line(10.4e9, 1.05e-13)]
    assert sidebands(peaks) == set()
    assert len(oscillator_lines(peaks, 30e6)) == 4


def test_broad_thermal_peaks_are_not_oscillator_lines():
    peaks = [line(10.1e9, 1e-13, fwhm=120e6), line(10.3e9, 1e-13)]
    assert oscillator_lines(peaks, 30e6) == [peaks[1]]


def test_two_lines_blurred_while_beating_still_count_as_two_until_they_narrow():
    merges = MergeTracker()
    assert merges.update([(1, 10.20e9, 10e6), (2, 10.26e9, 11e6)]) == 2
    # the pair beats near its locking edge: one broad blob where two lines were
    assert merges.update([(1, 10.23e9, 60e6)]) == 2
    assert merges.update([(1, 10.23e9, 45e6)]) == 2
    # locked: one line, narrower than the lines that joined
    assert merges.update([(1, 10.23e9, 7e6)]) == 1
    # a lock seen at once (no blurred step) is one line too
    fresh = MergeTracker()
    fresh.update([(1, 10.20e9, 10e6), (2, 10.21e9, 12e6)])
    assert fresh.update([(2, 10.205e9, 6e6)]) == 1
