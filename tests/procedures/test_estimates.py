"""Every procedure estimates its duration before it runs: within 20 % of the time its run
takes on the simulated station's clock, with default parameters and with others."""

from __future__ import annotations

import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.registry import available_procedures, procedure_class
from labctl.runfile import open_run
from labctl.runner import Runner, station_seconds
from labctl.runreader import log_lines
from labctl.station import open_station

# (procedure, parameters): the defaults of each (a realistic run), and variants that move the
# other terms of the estimate (settle, a field sweep downwards or at negative fields, a gate
# staircase with dwell, memristor programming inside a sync map)
# (the Kittel fit with an offset takes seconds and plays no part in the duration: left out)
QUICK = {"field-sweep": {"fit_offset": False}}
CASES = [(name, QUICK.get(name, {})) for name in available_procedures()] + [
    ("freq-current", {"i_start": 2e-3, "i_stop": 0.5e-3, "field": -0.4, "settle": 1.0,
                      "averages": 2, "points": 2001, "background": False}),
    ("field-sweep", {"b_start": 0.8, "b_stop": 0.5, "b_step": 0.05, "averages": 5,
                     "fit_offset": False}),
    ("field-sweep", {"b_start": -0.3, "b_stop": -0.6, "b_step": 0.05, "averages": 5,
                     "points": 2001, "fit_offset": False}),
    ("sync-map", {"memristor_targets": ["HRS", "LRS"], "gate_voltages": [0.0, 0.2],
                  "i_step": 200e-6, "averages": 5, "max_pulses": 60}),
    ("memristor-cycles", {"cycles": 3, "dwell": 0.2, "v_step": 0.25}),
    ("memristor-retention", {"duration": 100.0, "interval": 7.0}),
    ("iv-stripe", {"i_start": 1e-3, "i_stop": -1e-3, "settle": 0.3}),
]


def measured(name: str, parameters: dict, tmp_path):
    """(plan, seconds on the station's clock, runner) of one run on a fresh simulated station."""
    config = default_sim_station()
    proc = procedure_class(name)(**parameters)
    plan = proc.plan(config)
    station = open_station(config)
    try:
        t0 = station.clock.now()
        runner = Runner(proc, station, tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.h5")
        runner.prepare()
        assert runner.execute() == "completed", runner.reason
        return plan, station.clock.now() - t0, runner
    finally:
        station.close()


DEFAULTS = len(available_procedures())


@pytest.mark.parametrize(("name", "parameters"), CASES,
                         ids=[f"{n}-{'default' if k < DEFAULTS else k}"
                              for k, (n, _) in enumerate(CASES)])
def test_estimate_within_20_percent_of_the_simulated_run(name, parameters, tmp_path):
    plan, seconds, runner = measured(name, parameters, tmp_path)
    assert plan.known and plan.lines, f"{name} does not describe its run"
    with open_run(runner.path) as f:  # the run file records the same station time
        assert station_seconds(log_lines(f)) == pytest.approx(seconds, rel=1e-6)
    if plan.upper:  # a write-verify stops at its target: the plan is its pulse budget
        assert seconds <= plan.seconds * 1.2
        return
    assert plan.seconds == pytest.approx(seconds, rel=0.2), "\n".join(plan.describe())


@pytest.mark.parametrize("name", ["memristor-program", "sync-map"])
def test_write_verify_estimate_is_exact_for_the_pulses_used(name, tmp_path):
    """The pulse budget bounds the run; with the budget set to the pulses a run used, the
    estimate is that run's duration (the per-pulse time is right, not only the bound)."""
    parameters = {"memristor_targets": ["LRS"], "i_step": 400e-6, "averages": 3} \
        if name == "sync-map" else {}
    plan, seconds, runner = measured(name, parameters, tmp_path)
    assert plan.upper and plan.seconds >= seconds
    with open_run(runner.path) as f:
        kinds = np.asarray(f["pulse_kind"][:])
    used = int(np.count_nonzero(kinds != 0))
    assert 0 < used < procedure_class(name)().values["max_pulses"]
    again, again_seconds, _ = measured(name, {**parameters, "max_pulses": used}, tmp_path)
    assert again_seconds == pytest.approx(seconds, rel=1e-9)  # the same pulses, seeded
    assert again.seconds == pytest.approx(seconds, rel=0.2)


def test_every_procedure_describes_its_plan():
    config = default_sim_station()
    for name in available_procedures():
        plan = procedure_class(name)().plan(config)
        text = "\n".join(plan.describe())
        assert plan.known and "estimate" in text and "unknown" not in text, name


def test_the_plan_knows_when_each_row_is_due():
    """One planned row per row the run will write, in time order, so that the time remaining
    after any row can be told from the plan."""
    config = default_sim_station()
    for name, parameters in CASES:
        proc = procedure_class(name)(**parameters)
        plan = proc.plan(config)
        rows = np.asarray(plan.rows)
        planned = proc.planned_points() or 1 + proc.values["max_pulses"]
        assert len(rows) == planned, name
        assert np.all(np.diff(rows) >= 0) and 0 < rows[-1] <= plan.seconds + 1e-9, name
        assert plan.remaining(len(rows), 0, rows[-1]) == pytest.approx(plan.seconds - rows[-1])
        half = len(rows) // 2 or 1  # a run going at twice the planned pace: half the time left
        assert plan.remaining(half, 0, rows[half - 1] / 2) == \
            pytest.approx((plan.seconds - rows[half - 1]) / 2)
