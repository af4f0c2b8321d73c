"""The Keithley drivers, unchanged, against the simulated instruments and the device model."""

from __future__ import annotations

import math
import threading

import pytest

from drivers.keithley2400 import Keithley2400
from drivers.keithley2450 import Keithley2450
from drivers.keithley6221 import Keithley6221
from drivers.roles import Gate, ShnoSource
from labctl.clock import VirtualClock
from labctl.config import FaultConfig, GateLimits, ShnoLimits
from labctl.errors import InstrumentError
from labctl.sim.adapter import SimAdapter
from labctl.sim.device import DeviceModel
from labctl.sim.sourcemeter import SimKeithley2400, SimKeithley2450, SimKeithley6221

# (simulated instrument, driver, commands the driver sends on construction)
CURRENT_SOURCES = {
    "2450": (SimKeithley2450, Keithley2450, 0),
    "2400": (SimKeithley2400, Keithley2400, 1),
    "6221": (SimKeithley6221, Keithley6221, 0),
}
VOLTAGE_SOURCES = {k: v for k, v in CURRENT_SOURCES.items() if k != "6221"}
LEVEL = "[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]"
SHNO = ShnoLimits(max_current=2.5e-3, max_step=10e-6, dwell=0.05, compliance_voltage=5.0)
GATE = GateLimits(min_voltage=-3.0, max_voltage=8.0, max_compliance=1e-3, max_step=0.25)


class Bench:
    """One device model, one simulated instrument and its driver over a SimAdapter."""

    def __init__(self, model: str, slot: str, faults: list[FaultConfig] | None = None):
        sim_cls, driver_cls, self.init_commands = CURRENT_SOURCES[model]
        self.clock = VirtualClock()
        self.device = DeviceModel(self.clock, seed=1)
        self.sim = sim_cls(slot, self.device, self.clock, faults=faults, seed=1)
        self.driver = driver_cls(SimAdapter(self.sim), name=slot)
        self.stop = threading.Event()

    def shno(self, limits: ShnoLimits = SHNO) -> ShnoSource:
        return ShnoSource(self.driver, limits, self.clock, self.stop)

    def gate(self, limits: GateLimits = GATE) -> Gate:
        return Gate(self.driver, limits, self.clock, self.stop)

    def levels(self) -> list[float]:
        return [float(r.args) for r in self.sim.commands(LEVEL)]


def _assert_steps_within(levels: list[float], start: float, max_step: float) -> None:
    previous = start
    for level in levels:
        assert abs(level - previous) <= max_step * (1 + 1e-5), (previous, level)
        previous = level


def _position(log, record) -> int:
    """Index in ``log`` of the last command equal to ``record`` (the last of its kind)."""
    return max(i for i, r in enumerate(log) if r == record)


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_shno_current_ramps_in_safe_steps_and_reads_back(model):
    bench = Bench(model, "shno_source")
    shno = bench.shno()
    t0 = bench.clock.now()
    assert shno.ramp_to(1.0e-3) == 1.0e-3
    assert shno.read_current() == pytest.approx(1.0e-3, rel=1e-6)
    assert bench.driver.read_output_enabled()
    _, amps = bench.device.terminal("shno_source").read()
    assert amps == pytest.approx(1.0e-3, rel=1e-6)
    if model == "6221":
        assert math.isnan(shno.read_voltage())
    else:
        volts, _ = bench.device.terminal("shno_source").read()
        # a reading carries the meter's noise (1 µV rms on the 200 mV range at 1 NPLC)
        assert shno.read_voltage() == pytest.approx(volts, abs=5e-5)
        assert 0 < volts < SHNO.compliance_voltage
    assert not shno.in_compliance()

    levels = bench.levels()
    assert levels[0] == 0.0 and levels[-1] == pytest.approx(1.0e-3)
    assert len(levels) >= 1 + 100  # 0 A, then at least 1 mA / 10 uA steps
    _assert_steps_within(levels, 0.0, SHNO.max_step)
    assert bench.clock.now() - t0 >= 100 * SHNO.dwell - 1e-9  # each step dwelt

    shno.ramp_down()
    assert not bench.driver.read_output_enabled()
    levels = bench.levels()
    _assert_steps_within(levels, 0.0, SHNO.max_step)
    # the output went off only after the level had reached zero
    log = bench.sim.commands()
    switch_off = bench.sim.commands(":OUTPut[:STATe]")[-1]
    assert switch_off.args in ("0", "OFF")
    assert levels[-1] == 0.0
    assert _position(log, bench.sim.commands(LEVEL)[-1]) < _position(log, switch_off)
    bench.driver.raise_errors()


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_current_source_reports_its_voltage_compliance(model):
    bench = Bench(model, "shno_source")
    low = ShnoLimits(max_current=2.5e-3, max_step=50e-6, dwell=0.0, compliance_voltage=0.1)
    shno = bench.shno(low)
    shno.ramp_to(0.5e-3)  # 75 mV across ~150 ohm
    assert not shno.in_compliance()
    shno.ramp_to(1.0e-3)  # would need 150 mV
    assert shno.in_compliance()
    volts, _ = bench.device.terminal("shno_source").read()
    assert abs(volts) == pytest.approx(0.1, rel=1e-6)
    shno.ramp_down()
    bench.driver.raise_errors()


@pytest.mark.parametrize("model", VOLTAGE_SOURCES)
def test_gate_compliance_is_programmed_and_trips_when_the_memristor_sets(model):
    bench = Bench(model, "gate")
    gate = bench.gate()
    compliance = 100e-6
    gate.ramp_to(0.0, compliance)
    assert bench.driver.read_compliance_current() == pytest.approx(compliance)
    assert bench.driver.read_output_enabled()

    tripped, volts = False, 0.0
    while not tripped and volts < GATE.max_voltage:
        volts = round(volts + 0.25, 6)
        gate.ramp_to(volts)
        _, current, tripped = gate.measure()
    assert tripped, "no SET / forming up to the station's max V_M"
    assert abs(current) == pytest.approx(compliance, rel=1e-3)
    assert bench.driver.in_compliance()

    gate.ramp_down()
    assert not bench.driver.read_output_enabled()
    bench.driver.raise_errors()


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_out_of_range_value_is_refused_by_the_instrument(model):
    # bypass the driver's validator to see what the instrument itself does
    bench = Bench(model, "shno_source")
    bench.driver.set_source_current(1e-4)
    bench.driver.write(":SOUR:CURR 5")
    assert bench.driver.read_source_current() == pytest.approx(1e-4)
    with pytest.raises(InstrumentError, match="-222"):
        bench.driver.raise_errors()


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_unknown_command_is_an_instrument_error(model):
    bench = Bench(model, "shno_source")
    bench.driver.write(":SOUR:CURR:BOGUS 1")
    with pytest.raises(InstrumentError, match="-113") as err:
        bench.driver.raise_errors()
    assert err.value.command == ":SOUR:CURR:BOGUS 1"


@pytest.mark.parametrize("model", CURRENT_SOURCES)
@pytest.mark.parametrize("kind, detail", [("timeout", "timeout"),
                                          ("disconnect", "connection lost")])
def test_io_fault_names_instrument_and_command(model, kind, detail):
    offset = CURRENT_SOURCES[model][2]
    # command 1: set the level, command 2: read it back -> the fault
    fault = FaultConfig(instrument="shno_source", kind=kind, at_command=offset + 2)
    bench = Bench(model, "shno_source", faults=[fault])
    bench.driver.set_source_current(1e-4)
    with pytest.raises(InstrumentError, match=detail) as err:
        bench.driver.read_source_current()
    assert err.value.instrument == "shno_source"
    assert "CURR?" in err.value.command.upper().replace("CURRENT", "CURR")


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_error_fault_surfaces_through_the_error_queue(model):
    offset = CURRENT_SOURCES[model][2]
    fault = FaultConfig(instrument="shno_source", kind="error", at_command=offset + 1,
                        code=-350, message="Queue overflow")
    bench = Bench(model, "shno_source", faults=[fault])
    bench.driver.set_source_current(2e-4)
    with pytest.raises(InstrumentError, match="-350,Queue overflow") as err:
        bench.driver.raise_errors()
    assert err.value.instrument == "shno_source"
    assert "0.0002" in err.value.command


def test_fault_in_the_middle_of_a_ramp_stops_it():
    bench = Bench("2450", "shno_source",
                  faults=[FaultConfig(instrument="shno_source", kind="timeout", at_command=40)])
    with pytest.raises(InstrumentError, match="timeout"):
        bench.shno().ramp_to(1e-3)
    _assert_steps_within(bench.levels(), 0.0, SHNO.max_step)
    assert max(bench.levels()) < 1e-3


def test_2400_reading_does_not_switch_the_output_on():
    bench = Bench("2400", "shno_source")
    bench.driver.configure_current_source(5.0)
    bench.driver.set_source_current(1e-3)
    assert math.isnan(bench.driver.measure_voltage())
    assert not bench.sim.output and not bench.driver.read_output_enabled()
    assert bench.device.terminal("shno_source").read() == (0.0, 0.0)


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_readings_take_their_integration_time(model):
    bench = Bench(model, "shno_source")
    bench.shno().prepare()
    t0 = bench.clock.now()
    bench.driver.measure_voltage()
    expected = 0.0 if model == "6221" else 1.0 / 50  # 1 NPLC at 50 Hz; the 6221 cannot read
    assert bench.clock.now() - t0 == pytest.approx(expected)


# exchanges a freq-current point costs the current source: its speed is measured in the
# benchmarks (labctl bench freq-current); here the count, which does not depend on the load
EXCHANGES_PER_POINT = {"2450": 7, "2400": 8, "6221": 5}


@pytest.mark.parametrize("model", CURRENT_SOURCES)
def test_source_meter_point_costs_a_few_exchanges(model):
    # a freq-current point: one ramp step, read-back, voltage, compliance; the state was
    # asked once when the output was prepared, not again on every point
    bench = Bench(model, "shno_source")
    shno = bench.shno(ShnoLimits(max_current=2.5e-3, max_step=10e-6, dwell=0.0,
                                 compliance_voltage=5.0))
    shno.prepare()
    before = len(bench.sim.commands())
    n = 100
    for k in range(1, n + 1):
        shno.ramp_to(k * 1e-6)
        shno.read_current()
        shno.read_voltage()
        shno.in_compliance()
    assert (len(bench.sim.commands()) - before) / n <= EXCHANGES_PER_POINT[model]


@pytest.mark.parametrize("model", sorted(VOLTAGE_SOURCES))
def test_a_reading_carries_the_meters_noise_and_a_resumed_run_reads_the_same(model):
    # the datasheet's noise: 1 µV rms on the 200 mV range (the auto range of 0.15 V) at 1 NPLC,
    # falling as 1/sqrt(NPLC)
    bench = Bench(model, "shno_source")
    shno = bench.shno()
    shno.ramp_to(1.0e-3)
    volts, _ = bench.device.terminal("shno_source").read()
    reads = [shno.read_voltage() for _ in range(400)]
    assert 0.7e-6 < float(np_std(reads)) < 1.3e-6
    assert abs(sum(reads) / len(reads) - volts) < 4 * 1e-6 / math.sqrt(len(reads))
    bench.sim.nplc = 10.0
    slow = [shno.read_voltage() for _ in range(400)]
    assert 0.22e-6 < float(np_std(slow)) < 0.42e-6
    # the draws restart where the output last changed: a second station that ramps to the
    # same level reads the same values (what `labctl resume` relies on)
    again = Bench(model, "shno_source")
    again.shno().ramp_to(1.0e-3)
    assert [again.shno().read_voltage() for _ in range(5)] == reads[:5]


def np_std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
