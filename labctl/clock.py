"""Time source for ramps and dwell: the real clock, or the simulated station's virtual one."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait; return False early if ``stop`` is set."""


class RealClock:
    """Wall-clock time for a real probe station."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return not (stop is not None and stop.is_set())
        if stop is None:
            time.sleep(seconds)
            return True
        return not stop.wait(seconds)


class VirtualClock:
    """Simulated time: sleeping advances the clock instantly (times ``realtime_factor`` real s).

    The simulated magnet and memristors evolve in this time, so a dwell of 100 ms means the
    same to the device model whether or not the process really waited.
    """

    def __init__(self, start: float = 0.0, realtime_factor: float = 0.0):
        self._t = start
        self.realtime_factor = realtime_factor
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t  # reading a float is atomic; only advancing needs the lock

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += max(0.0, seconds)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if seconds > 0 and self.realtime_factor > 0:
            real = seconds * self.realtime_factor
            if stop is not None:
                if stop.wait(real):
                    return False
            else:
                time.sleep(real)
        self.advance(seconds)
        return not (stop is not None and stop.is_set())
