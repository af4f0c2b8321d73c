"""The timing rules of a duration estimate are the station's own: the simulated analyzer's
sweep time, the safety ramp's steps."""

from __future__ import annotations

import threading

import pytest

from labctl.clock import VirtualClock
from labctl.config import default_sim_station
from labctl.duration import Plan, format_duration, ramp_steps, sweep_time
from labctl.safety import Ramp, Range
from labctl.sim.device import DeviceModel


@pytest.mark.parametrize(("f_start", "f_stop", "points", "rbw", "vbw", "averages"), [
    (8e9, 12e9, 10001, 1e6, 1e5, 50),  # k·span/(RBW·VBW)
    (8e9, 12e9, 10001, 1e6, 3e6, 1),  # VBW wider than RBW: k·span/RBW²
    (9e9, 9.001e9, 40001, 1e6, 1e6, 3),  # the fastest sweep for 40001 points
])
def test_one_sweep_time_rule_for_simulator_and_estimate(f_start, f_stop, points, rbw, vbw,
                                                        averages):
    device = DeviceModel(VirtualClock())
    expected = device.sweep_time(f_start, f_stop, points, rbw, vbw, averages)
    assert sweep_time(f_start, f_stop, points, rbw, vbw, averages) == pytest.approx(expected)
    one = 2.5 * (f_stop - f_start) / (rbw * min(rbw, vbw))
    assert expected == pytest.approx(averages * max(one, 1e-3 * points / 1001))


@pytest.mark.parametrize(("start", "target", "step"), [
    (0.0, 2.2e-3, 10e-6), (0.4e-3, 0.42e-3, 10e-6), (1e-3, -1e-3, 7e-6), (0.5, 0.5, 0.1),
    (0.0, 10.8333, 0.05),
])
def test_ramp_steps_are_those_the_safety_ramp_writes(start, target, step):
    ramp = Ramp(Range("x", -20, 20, "A"), lambda: start, lambda v: None, step, 0.0,
                VirtualClock(), threading.Event())
    assert ramp_steps(target - start, step) == len(ramp.plan(start, target))


def test_plan_follows_levels_and_adds_up_by_kind():
    config = default_sim_station()
    plan = Plan(config)
    plan.ramp("shno_source", 1e-3)  # steps just under 10 µA, 50 ms each
    plan.ramp("shno_source", 1e-3)  # already there: nothing
    assert plan.parts["ramps"] == pytest.approx(101 * 0.05)
    plan.readings(3)
    plan.repeat(4, lambda: plan.wait(2.5))
    assert plan.parts["waits"] == pytest.approx(10.0)
    plan.set_field(0.65)
    assert plan.parts["magnet"] > 0.65 / 0.9 * 15 / 0.5  # at least the ramp at 0.5 A/s
    plan.ramp_down()
    assert plan.levels == {"shno_source": 0.0, "gate": 0.0, "field": 0.0}
    assert plan.seconds == pytest.approx(sum(plan.parts.values()))
    assert plan.summary().startswith(format_duration(plan.seconds))


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.04 s"), (5.04, "5.0 s"), (42.4, "42 s"), (537.5, "8 min 58 s"),
    (3600.0, "1 h 0 min"), (float("nan"), "unknown"),
])
def test_durations_read_as_a_physicist_says_them(seconds, text):
    assert format_duration(seconds) == text
