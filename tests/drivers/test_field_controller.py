"""The ``field`` role with a fake supply and gaussmeter on a tiny hysteretic magnet."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from drivers.field import Calibration, FieldController
from labctl.clock import VirtualClock
from labctl.config import FieldConfig, FieldLimits, InstrumentConfig
from labctl.errors import InstrumentError, Interrupted, LimitError

K = 0.06  # T/A of the fake magnet
REMANENCE = 3e-3  # T: the ascending branch lies this much below the descending one


class FakeSupply:
    """Bipolar supply whose coil follows the setpoint after ``lag_reads`` current reads."""

    name = "fake supply"
    id = "FAKE,BOP,0,0"

    def __init__(self, clock: VirtualClock, lag_reads: int = 0):
        self.clock = clock
        self.setpoint = 0.0
        self.output = False
        self.voltage_limit = None
        self.calls: list[tuple] = []
        self.writes: list[tuple[float, float]] = []  # (time, amps) of every set_current
        self.branch = 1  # +1 after an upward move (ascending branch), -1 after a downward one
        self.lag_reads = lag_reads
        self._lag_left = 0
        self.on_write = None

    def configure_current_mode(self, voltage_limit):
        self.calls.append(("configure", voltage_limit))
        self.voltage_limit = voltage_limit

    def read_current_setpoint(self):
        self.calls.append(("read",))
        return self.setpoint

    def set_current(self, amps):
        self.calls.append(("set", amps))
        if amps != self.setpoint:
            self.branch = 1 if amps > self.setpoint else -1
        self.setpoint = float(amps)
        self.writes.append((self.clock.now(), self.setpoint))
        self._lag_left = self.lag_reads
        if self.on_write:
            self.on_write(len(self.writes))

    def measure_current(self):
        self.calls.append(("measure",))
        if self._lag_left > 0:
            self._lag_left -= 1
            return self.writes[-2][1] if len(self.writes) > 1 else 0.0
        return self.setpoint

    def read_output_enabled(self):
        self.calls.append(("output?",))
        return self.output

    def enable_output(self):
        self.calls.append(("on",))
        self.output = True

    def disable_output(self):
        self.calls.append(("off",))
        self.output = False

    def raise_errors(self):
        self.calls.append(("errors?",))

    # what the field role asks before it acts: a fresh fake is off, in current mode
    mode = "current"

    def read_mode(self):
        self.calls.append(("mode?",))
        return self.mode

    def read_voltage_setpoint(self):
        self.calls.append(("voltage?",))
        return self.voltage_limit if self.voltage_limit is not None else 0.0

    def set_voltage_limit(self, volts):
        self.calls.append(("voltage limit", volts))
        self.voltage_limit = volts

    def device_clear(self):
        self.calls.append(("clear",))

    def field(self) -> float:
        current = self.setpoint if self.output else 0.0
        return K * current - REMANENCE * self.branch


class FakeGaussmeter:
    name = "fake gaussmeter"
    id = "FAKE,425,0,0"

    def __init__(self, supply: FakeSupply, clock: VirtualClock, wobble: float = 0.0):
        self.supply = supply
        self.clock = clock
        self.wobble = wobble
        self.reads: list[tuple[float, float, int]] = []  # (time, setpoint, last move)
        self.configured_for = None

    def configure_field_reading(self, max_field):
        self.configured_for = max_field

    def raise_errors(self):
        pass

    def read_field(self):
        sign = -1 if len(self.reads) % 2 else 1
        last = self.supply.writes
        move = 0
        if len(last) > 1:
            move = int(np.sign(last[-1][1] - last[-2][1]))
        self.reads.append((self.clock.now(), self.supply.setpoint, move))
        return self.supply.field() + sign * self.wobble


def make_config(validate: bool = True, **limits) -> FieldConfig:
    values = dict(
        max_field=0.9,
        max_ramp_rate=0.5,
        max_current=16.0,
        tolerance=1e-3,
        settle_time=1.0,
        step_time=0.1,
        approach="below",
        overshoot=0.01,
    )
    values.update(limits)
    make = FieldConfig if validate else FieldConfig.model_construct
    return make(
        supply=InstrumentConfig(driver="kepco_bop"),
        gaussmeter=InstrumentConfig(driver="lakeshore425"),
        limits=FieldLimits(**values),
        calibration=[(-15.0, -0.9), (15.0, 0.9)],
    )


@pytest.fixture
def station():
    def build(lag_reads=0, wobble=0.0, readings=3, validate=True, **limits):
        clock = VirtualClock()
        stop = threading.Event()
        supply = FakeSupply(clock, lag_reads)
        gauss = FakeGaussmeter(supply, clock, wobble)
        field = FieldController(
            supply, gauss, make_config(validate, **limits), clock, stop, readings=readings
        )
        return field, supply, gauss, clock, stop

    return build


def assert_rate_limited(writes, limits):
    max_step = limits.max_ramp_rate * limits.step_time
    for (t0, a0), (t1, a1) in zip(writes, writes[1:]):
        assert abs(a1 - a0) <= max_step + 1e-9, (a0, a1)
        assert t1 - t0 >= limits.step_time - 1e-9, (t0, t1)


# ---- limits -------------------------------------------------------------------------------
@pytest.mark.parametrize("tesla", [0.95, -0.91, float("nan"), float("inf")])
def test_field_beyond_limit_raises_before_anything_is_sent(station, tesla):
    field, supply, gauss, _, _ = station()
    with pytest.raises(LimitError, match="magnet field"):
        field.set_field(tesla)
    assert supply.calls == [] and gauss.reads == []


def test_station_file_max_field_must_be_reachable_with_margin():
    with pytest.raises(ValueError, match="max_field = 0.9 T needs 15 A.*95%"):
        make_config(max_current=15.5)
    make_config(max_current=15.8)  # 15 A is 94.9 % of it


def test_calibrated_current_beyond_limit_raises_before_anything_is_sent(station):
    # a station file that escaped validation: the role still refuses before sending
    field, supply, gauss, _, _ = station(max_current=10.0, validate=False)
    with pytest.raises(LimitError, match="magnet current = 10.8"):
        field.set_field(0.65)  # 10.83 A by the calibration
    assert supply.calls == [] and gauss.reads == []


# ---- reaching the field -------------------------------------------------------------------
def test_set_field_switches_on_at_zero_and_reaches_the_field(station):
    field, supply, gauss, _, _ = station()
    measured = field.set_field(0.65)
    assert abs(measured - 0.65) <= 1e-3
    assert abs(supply.field() - 0.65) <= 1e-3
    on = supply.calls.index(("on",))
    assert supply.calls[:on] == [("output?",), ("configure", 20.0), ("set", 0.0), ("read",)]
    assert supply.writes[0][1] == 0.0


def test_ramp_rate_is_never_exceeded(station):
    field, supply, _, _, _ = station()
    field.set_field(0.65)
    field.set_field(-0.4)
    field.set_field(0.1)
    field.ramp_down()
    assert_rate_limited(supply.writes, field.limits)


def test_settle_time_passes_before_each_reading(station):
    field, supply, gauss, _, _ = station(settle_time=2.0)
    field.set_field(0.3)
    first_read = gauss.reads[0][0]
    last_write_before = max(t for t, _ in supply.writes if t <= first_read)
    assert first_read - last_write_before >= 2.0


def test_approach_from_below_after_coming_from_above(station):
    field, supply, gauss, _, _ = station()
    field.set_field(0.8)
    start = len(supply.writes)
    measured = field.set_field(0.5)
    assert abs(measured - 0.5) <= 1e-3
    levels = [a for _, a in supply.writes[start:]]
    low = int(np.argmin(levels))
    final = levels[low:]
    assert np.all(np.diff(final) > 0), "final approach must rise monotonically"
    # it went below the target by at least the overshoot margin
    assert levels[low] <= 0.5 / K - 0.01 / K + 1e-9


def test_approach_from_above_mirrors(station):
    field, supply, gauss, _, _ = station(approach="above")
    field.set_field(0.2)
    start = len(supply.writes)
    measured = field.set_field(0.5)
    assert abs(measured - 0.5) <= 1e-3
    levels = [a for _, a in supply.writes[start:]]
    high = int(np.argmax(levels))
    assert np.all(np.diff(levels[high:]) < 0), "final approach must fall monotonically"
    assert levels[high] >= 0.5 / K + 0.01 / K - 1e-9


def test_every_reading_follows_a_move_in_the_approach_direction(station):
    # the remanence makes the first approach miss, so the loop must correct
    field, supply, gauss, _, _ = station()
    field.set_field(0.7)
    field.set_field(0.3)
    field.set_field(0.31)
    assert len(gauss.reads) > 9  # corrections happened
    assert all(move == 1 for _, _, move in gauss.reads)


def test_continuing_upward_needs_no_excursion(station):
    field, supply, _, _, _ = station()
    field.set_field(0.3)
    start = len(supply.writes)
    field.set_field(0.4)
    levels = [a for _, a in supply.writes[start - 1 :]]
    assert np.all(np.diff(levels) > 0)


def test_negative_fields_and_zero(station):
    field, supply, _, _, _ = station()
    assert abs(field.set_field(-0.5) + 0.5) <= 1e-3
    assert abs(field.set_field(0.0)) <= 1e-3


def test_gaussmeter_that_never_agrees_raises_instrument_error(station):
    field, supply, gauss, _, _ = station(wobble=5e-3, readings=1)
    with pytest.raises(InstrumentError) as err:
        field.set_field(0.3)
    assert err.value.instrument == "fake gaussmeter"
    assert "0.3 T not reached" in str(err.value)
    assert len(gauss.reads) == 11  # first reading + 10 corrections


def test_unreachable_field_is_an_instrument_error_naming_field_and_current(station):
    # things were sent and the magnet moved: not a LimitError ("refused, nothing sent")
    field, supply, gauss, _, _ = station(max_current=11.0, max_field=0.6)
    gauss.read_field = lambda: 0.0  # probe fell out of the gap
    with pytest.raises(InstrumentError, match=r"0.6 T not reachable: reached 0 T at 10 A"):
        field.set_field(0.6)
    assert max(abs(a) for _, a in supply.writes) <= 11.0


# ---- abort and ramp down ---------------------------------------------------------------------
def test_interruption_then_ramp_down_reaches_zero(station):
    field, supply, _, _, stop = station()
    supply.on_write = lambda n: stop.set() if n == 40 else None
    with pytest.raises(Interrupted):
        field.set_field(0.65)
    assert len(supply.writes) == 40
    assert supply.setpoint > 0
    field.ramp_down()  # ignores the stop event that is still set
    assert supply.setpoint == 0.0
    assert supply.output is False
    assert_rate_limited(supply.writes, field.limits)


def test_set_field_with_stop_set_sends_no_current(station):
    field, supply, _, _, stop = station()
    stop.set()
    with pytest.raises(Interrupted):
        field.set_field(0.2)
    assert [a for _, a in supply.writes] == [0.0]  # only the switch-on at zero


def test_ramp_down_waits_for_the_coil_before_switching_off(station):
    field, supply, _, _, _ = station(lag_reads=3)
    field.set_field(0.1)
    field.ramp_down()
    off = supply.calls.index(("off",))
    measures = [c for c in supply.calls[:off] if c == ("measure",)]
    assert len(measures) >= 4
    assert supply.output is False and supply.setpoint == 0.0


def test_ramp_down_with_output_off_sends_nothing_but_the_query(station):
    field, supply, _, _, _ = station()
    field.ramp_down()
    assert supply.calls == [("output?",), ("errors?",)]


def test_snapshot(station):
    field, supply, _, _, _ = station()
    field.set_field(0.2)
    snap = field.snapshot()
    assert snap["idn"] == {"supply": "FAKE,BOP,0,0", "gaussmeter": "FAKE,425,0,0"}
    assert snap["current_setpoint"] == supply.setpoint
    assert abs(snap["field"] - 0.2) <= 1e-3
    assert snap["limits"]["max_field"] == 0.9
    assert snap["calibration"] == [[-15.0, -0.9], [15.0, 0.9]]


# ---- calibration ----------------------------------------------------------------------------
def test_calibration_interpolates_and_extrapolates_linearly():
    cal = Calibration([(0.0, 0.0), (10.0, 0.5), (20.0, 0.8)])
    assert cal.current_for(0.25) == pytest.approx(5.0)
    assert cal.current_for(0.65) == pytest.approx(15.0)
    assert cal.field_for(15.0) == pytest.approx(0.65)
    assert cal.current_for(0.86) == pytest.approx(22.0)  # last segment's slope
    assert cal.current_for(-0.1) == pytest.approx(-2.0)  # first segment's slope
    assert cal.slope(5.0) == pytest.approx(0.05)
    assert cal.slope(15.0) == pytest.approx(0.03)
    assert cal.slope(25.0) == pytest.approx(0.03)
    assert cal.slope(-3.0) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "table", [[(0.0, 0.0)], [(0.0, 0.0), (1.0, -0.1)], [(1.0, 0.0), (0.0, 0.1)]]
)
def test_calibration_must_rise(table):
    with pytest.raises(ValueError):
        Calibration(table)
