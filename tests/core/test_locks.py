"""Process-exclusive locks: a second holder is refused naming the first; death releases."""

import subprocess
import sys

import pytest

from labctl.locks import ExclusiveLock, LockHeld, file_lock, station_lock


def test_second_holder_is_refused_naming_the_first(tmp_path):
    first = ExclusiveLock(tmp_path / "a.lock", "station 'x'").acquire()
    with pytest.raises(LockHeld, match=r"station 'x' is in use by process \d+"):
        ExclusiveLock(tmp_path / "a.lock", "station 'x'").acquire()
    first.release()
    ExclusiveLock(tmp_path / "a.lock", "station 'x'").acquire().release()


def test_lock_held_by_another_process_is_refused_and_freed_when_it_dies(tmp_path):
    path = tmp_path / "b.lock"
    code = ("import sys, time; from labctl.locks import ExclusiveLock; "
            f"lock = ExclusiveLock({str(path)!r}, 'q').acquire(); print('held', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"process {proc.pid}"):
            ExclusiveLock(path, "q").acquire()
    finally:
        proc.kill()
        proc.wait()
    with ExclusiveLock(path, "q"):  # the kernel dropped the dead holder's lock
        pass


def test_lock_errors_exit_with_code_2(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_LOCK_DIR", str(tmp_path))
    a = station_lock("key", "sim")
    with a, pytest.raises(LockHeld) as info:
        station_lock("key", "sim").acquire()
    assert info.value.exit_code == 2
    assert file_lock(tmp_path / "r.h5").path.name == "r.h5.lock"


def test_released_lock_leaves_no_file_and_racing_takers_never_share(tmp_path):
    import threading

    path = tmp_path / "run.h5.lock"
    with ExclusiveLock(path, "run"):
        assert path.exists()
    assert not path.exists()

    holders, overlaps = [0], []
    guard = threading.Lock()

    def worker() -> None:
        for _ in range(300):
            try:
                lock = ExclusiveLock(path, "run").acquire()
            except LockHeld:
                continue
            with guard:
                holders[0] += 1
                if holders[0] > 1:
                    overlaps.append(holders[0])
            with guard:
                holders[0] -= 1
            lock.release()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
