"""The GUI benchmark (same code and numbers as `labctl bench gui`).

    python benchmarks/bench_gui.py [--points N] [--rate R] [--memory-points N] [--repeats N]

Live display of a run of 10,001-point spectra at R points/s (default 1,000) with the lab in a
process of its own, as `labctl gui` runs it: refreshes per second, lag, the rate the run kept;
the run's rate alone, with the window, and with the window in the run's own process, in turn
(N rounds), and where the run thread's time per point went; a recorded 2,000 × 10,001 run
opened in the browser; memory over a 100,000-point run with the window attached.
"""

from __future__ import annotations

import sys

from gui.bench import main

if __name__ == "__main__":
    sys.exit(main())
