"""The field role end to end: real drivers over SimAdapter, simulated Kepco and Lake Shore,
and the device model's magnet (coil lag, remanence, Hall noise)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from drivers.field import FieldController
from drivers.kepco_bop import KepcoBOP
from drivers.lakeshore425 import LakeShore425
from labctl.clock import VirtualClock
from labctl.config import FaultConfig, default_sim_station
from labctl.errors import InstrumentError, Interrupted
from labctl.sim.adapter import SimAdapter
from labctl.sim.device import DeviceModel
from labctl.sim.gaussmeter import SimLakeShore425, lakeshore_number
from labctl.sim.magnet_supply import SimKepcoBOP

CURRENT_SET = "[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPlitude]"


class Rig:
    def __init__(self, faults=None):
        self.config = default_sim_station().field
        self.limits = self.config.limits
        self.clock = VirtualClock()
        self.stop = threading.Event()
        self.device = DeviceModel(self.clock, seed=1)
        self.supply_sim = SimKepcoBOP("supply", self.device, self.clock, faults, seed=1)
        self.gauss_sim = SimLakeShore425("gaussmeter", self.device, self.clock, faults, seed=2)
        self.supply = KepcoBOP(SimAdapter(self.supply_sim))
        self.gaussmeter = LakeShore425(SimAdapter(self.gauss_sim))
        # the Lake Shore paces its transactions on the station's (here virtual) clock
        self.supply.clock = self.gaussmeter.clock = self.clock
        self.field = FieldController(
            self.supply, self.gaussmeter, self.config, self.clock, self.stop
        )

    def current_writes(self) -> list[tuple[float, float]]:
        return [(r.time, float(r.args)) for r in self.supply_sim.commands(CURRENT_SET)]


@pytest.fixture
def rig():
    return Rig()


def test_set_field_in_closed_loop(rig):
    measured = rig.field.set_field(0.65)
    tol = rig.limits.tolerance
    assert abs(measured - 0.65) <= tol
    assert abs(rig.device.magnet.field() - 0.65) <= tol + 2e-4  # Hall offset and noise
    assert rig.supply_sim.mode == "CURR" and rig.supply_sim.output
    assert abs(rig.field.read_field() - 0.65) <= tol + 2e-4
    rig.supply.raise_errors()  # nothing in the supply's error queue
    rig.gaussmeter.raise_errors()


def test_approach_from_below_after_coming_from_above(rig):
    rig.field.set_field(0.8)
    start = len(rig.current_writes())
    measured = rig.field.set_field(0.5)
    assert abs(measured - 0.5) <= rig.limits.tolerance
    assert abs(rig.device.magnet.field() - 0.5) <= rig.limits.tolerance + 2e-4
    writes = rig.current_writes()[start:]
    levels = np.array([a for _, a in writes])
    steps = np.diff(levels)
    assert steps[0] < 0, "coming from above, the supply first goes down"
    # the final approach rises monotonically from a point at least the overshoot below
    low = int(np.flatnonzero(steps < 0)[-1]) + 1
    assert low < len(levels) - 1 and np.all(steps[low:] > 0)
    margin = rig.limits.overshoot / rig.field.calibration.slope(levels[-1])
    assert levels[low] <= levels[-1] - margin + 1e-6
    # and every gaussmeter reading follows an upward move (corrections too)
    reads = [r.time for r in rig.gauss_sim.commands("RDGFIELD?")]
    times = np.array([t for t, _ in writes])
    for t in reads:
        k = np.searchsorted(times, t, side="left") - 1  # writes before the read
        if k >= 1:
            assert levels[k] > levels[k - 1], t


def test_ramp_rate_never_exceeded_in_the_supply_log(rig):
    rig.field.set_field(0.65)
    rig.field.set_field(-0.3)
    rig.field.set_field(0.2)
    rig.field.ramp_down()
    writes = rig.current_writes()
    assert len(writes) > 100
    max_step = rig.limits.max_ramp_rate * rig.limits.step_time
    for (t0, a0), (t1, a1) in zip(writes, writes[1:]):
        assert abs(a1 - a0) <= max_step + 2e-6, (t0, a0, a1)
        assert t1 - t0 >= rig.limits.step_time - 1e-9, (t0, t1)


def test_ramp_down_ends_at_zero_amps(rig):
    rig.field.set_field(0.4)
    rig.field.ramp_down()
    assert rig.current_writes()[-1][1] == 0.0
    assert rig.supply_sim.current == 0.0
    assert rig.supply_sim.output is False
    assert abs(rig.device.magnet.coil_current()) < 0.01
    off = rig.supply_sim.commands("OUTPut[:STATe]")[-1]
    assert off.args == "0" and off.time >= rig.current_writes()[-1][0]


def test_abort_during_ramp_then_ramp_down(rig):
    # the virtual clock only moves when the ramp sleeps, so abort from the ramp itself
    original = rig.supply.set_current

    def set_current(amps):
        original(amps)
        if rig.clock.now() >= 2.0:
            rig.stop.set()

    rig.supply.set_current = set_current
    rig.field = FieldController(rig.supply, rig.gaussmeter, rig.config, rig.clock, rig.stop)
    with pytest.raises(Interrupted):
        rig.field.set_field(0.65)
    assert 0.5 < rig.supply_sim.current < 2.0
    rig.field.ramp_down()
    assert rig.supply_sim.current == 0.0 and rig.supply_sim.output is False


def test_reading_is_the_same_in_every_unit(rig):
    rig.field.set_field(0.3)
    readings = {}
    for unit in ("G", "T", "Oe", "A/m"):
        rig.gaussmeter.unit = unit
        readings[unit] = rig.gaussmeter.read_field()
    assert max(readings.values()) - min(readings.values()) < 5e-4
    assert rig.gauss_sim.unit == 4


def test_sim_error_queues_reach_the_drivers(rig):
    before = rig.supply_sim.current
    rig.supply.write("CURR 25")  # beyond the BOP 20-20 rating
    with pytest.raises(InstrumentError, match="-222,Data out of range"):
        rig.supply.raise_errors()
    assert rig.supply_sim.current == before
    rig.supply.raise_errors()  # the queue was emptied
    rig.gaussmeter.write("UNIT 7")
    rig.gaussmeter.write("FIELDX?")
    with pytest.raises(InstrumentError, match="Execution error.*Command error"):
        rig.gaussmeter.raise_errors()
    rig.gaussmeter.raise_errors()


def test_supply_validator_raises_and_sends_nothing(rig):
    before = len(rig.supply_sim.log)
    with pytest.raises(ValueError):
        rig.supply.set_current(-20.5)
    assert len(rig.supply_sim.log) == before


def test_snapshot_over_the_sim(rig):
    rig.field.set_field(0.1)
    snap = rig.field.snapshot()
    assert snap["idn"]["supply"].startswith("KEPCO,BIT 4886 20-20")
    assert snap["idn"]["gaussmeter"].startswith("LSCI,MODEL425")
    assert snap["output_enabled"] is True
    assert abs(snap["field"] - 0.1) < 2e-3


def test_gaussmeter_timeout_is_an_instrument_error_and_ramp_down_still_works():
    rig = Rig([FaultConfig(instrument="gaussmeter", kind="timeout", at_command=2)])
    with pytest.raises(InstrumentError, match="gaussmeter|Lake Shore 425") as err:
        rig.field.set_field(0.2)
    assert "timeout" in str(err.value)
    rig.field.ramp_down()
    assert rig.supply_sim.current == 0.0 and rig.supply_sim.output is False


@pytest.mark.parametrize(
    "value, text",
    [
        (650.0, "+650.000E+00"),
        (0.65, "+650.000E-03"),
        (-1234.5, "-123.450E+01"),
        (0.0, "+000.000E+00"),
        (999.9996, "+100.000E+01"),
    ],
)
def test_lakeshore_reading_format(value, text):
    assert lakeshore_number(value) == text
