"""Runs that end early still report what they measured.

A procedure's analysis (thresholds, fits, switching voltages) runs on the rows already in the
file. When the measurement stops on an error — an instrument fault, a limit, a device that
broke — the rows up to there are still data, and their analysis goes into the run's results
before the run is recorded as failed. An abort (Ctrl-C, SIGTERM, the GUI) closes the
generator instead, and closing it must not yield, so that path records the rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from procedures.base import Results, RunContext


def measure_then_analyse(ctx: RunContext, steps: Iterator[Any],
                         analyse: Callable[[], dict]) -> Iterator[Any]:
    """Yield the rows of ``steps``, then Results(``analyse()``), also when ``steps`` fail."""
    try:
        yield from steps
    except Exception as err:
        try:
            results = analyse()
        except Exception as failed:  # never hide the measurement's error behind this one
            ctx.log(f"analysis of the rows measured before the failure failed too: {failed}",
                    "warning")
        else:
            results["ended_early"] = f"{type(err).__name__}: {err}"
            ctx.log("the run failed part-way; the rows measured so far were analysed",
                    "warning")
            yield Results(results)
        raise
    yield Results(analyse())
