"""The simulated instruments misbehave as their manuals say the real ones do, and the drivers
cope: 2400 CONFigure side effects, Lake Shore pacing and overload, byte-order naming, late
*OPC? replies, quantised RBW, the Kepco's power-up-on state, range-dependent 2450 limits."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.keithley2400 import Keithley2400
from drivers.keithley2450 import Keithley2450
from drivers.keysight_xseries import KeysightXSeries
from drivers.lakeshore425 import LakeShore425
from drivers.rs_fsv import RohdeSchwarzFSV
from labctl.clock import VirtualClock
from labctl.config import FaultConfig
from labctl.errors import InstrumentError
from labctl.power_up import AnalyzerPowerUp, SupplyPowerUp
from labctl.sim.adapter import SimAdapter
from labctl.sim.analyzer import SimKeysightXSeries, SimRohdeSchwarzFSV
from labctl.sim.device import DeviceModel
from labctl.sim.gaussmeter import SimLakeShore425
from labctl.sim.magnet_supply import SimKepcoBOP
from labctl.sim.sourcemeter import SimKeithley2400, SimKeithley2450


def rig(sim_cls, driver_cls, slot, faults=None, power_up=None, **driver_options):
    clock = VirtualClock()
    device = DeviceModel(clock, seed=1)
    sim = sim_cls(slot, device, clock, faults=faults, seed=0, power_up=power_up)
    driver = driver_cls(SimAdapter(sim), name=slot, **driver_options)
    driver.clock = clock
    return clock, device, sim, driver


# ---- Keithley 2400: :MEASure? is :CONFigure + :READ?, and CONFigure resets the compliance ---
def test_2400_measure_query_resets_the_compliance_in_the_simulator():
    _, _, sim, driver = rig(SimKeithley2400, Keithley2400, "gate")
    driver.configure_voltage_source(20e-6)
    driver.enable_output()
    driver.write(":MEAS:CURR?")
    driver.read()
    assert sim.current_limit == pytest.approx(105e-6)  # *RST value, applied at once


def test_2400_driver_reads_with_read_and_keeps_the_compliance():
    _, _, sim, driver = rig(SimKeithley2400, Keithley2400, "gate")
    driver.configure_voltage_source(20e-6)
    driver.enable_output()
    for _ in range(3):
        driver.measure_current()
        driver.measure_voltage()
    assert sim.current_limit == pytest.approx(20e-6)
    assert not sim.commands(":MEASure:CURRent[:DC]?") and not sim.commands(
        ":MEASure:VOLTage[:DC]?")


# ---- Keithley 2450: the current limit allowed depends on the source range -----------------
def test_2450_current_limit_above_105_mA_refused_on_the_200_V_range():
    _, _, sim, driver = rig(SimKeithley2450, Keithley2450, "gate")
    driver.write(":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 200;:SOUR:VOLT:ILIM 0.5")
    with pytest.raises(InstrumentError, match="-222"):
        driver.raise_errors()
    assert sim.current_limit == pytest.approx(105e-6)
    with pytest.raises(ValueError, match="200 V source range"):
        driver.set_compliance_current(0.5)  # refused by the driver before it is sent


# ---- Lake Shore 425 ------------------------------------------------------------------------
def test_lakeshore_too_fast_transactions_are_lost_or_garbled():
    clock, _, sim, driver = rig(SimLakeShore425, LakeShore425, "gaussmeter")
    adapter = driver.adapter
    failures = 0
    for _ in range(4):  # no pacing: straight through the adapter
        adapter.write("RDGFIELD?")
        try:
            reply = adapter.read()
            float(reply)
        except Exception:  # noqa: BLE001 - a timeout, or a reply that is not a number
            failures += 1
    assert sim.paced_failures >= 3 and failures >= 3


def test_lakeshore_paced_driver_never_trips_the_pacing():
    clock, _, sim, driver = rig(SimLakeShore425, LakeShore425, "gaussmeter")
    for _ in range(20):
        driver.read_field()
    driver.configure_field_reading(0.9)
    driver.raise_errors()
    assert sim.paced_failures == 0
    starts = sorted({r.time for r in sim.log})  # one message may hold several commands
    assert len(starts) >= 40
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 0.030 - 1e-12


def test_lakeshore_bare_auto_is_an_error_and_auto_1_works():
    _, _, sim, driver = rig(SimLakeShore425, LakeShore425, "gaussmeter")
    driver.write("AUTO")
    with pytest.raises(InstrumentError, match="Execution error"):
        driver.raise_errors()
    driver.auto_range(True)
    assert sim.autorange


def test_lakeshore_overload_on_a_low_range_is_an_error_not_a_reading():
    clock, device, sim, driver = rig(SimLakeShore425, LakeShore425, "gaussmeter")
    device.magnet.set_supply_current(10.0)
    clock.advance(10.0)  # about 0.6 T
    driver.write("RANGE 2")  # 350 G
    with pytest.raises(InstrumentError, match="unreadable field reading 'OL'"):
        driver.read_field()
    driver.configure_field_reading(0.9)
    assert driver.read_field() == pytest.approx(0.6, abs=0.02)


# ---- analyzers: byte-order naming, plausible traces, late *OPC?, quantised RBW -------------
@pytest.mark.parametrize("sim_cls, big_endian_name", [(SimKeysightXSeries, "NORM"),
                                                      (SimRohdeSchwarzFSV, "SWAP")])
def test_byte_order_names_mean_opposite_things_on_the_two_makes(sim_cls, big_endian_name):
    _, _, sim, _ = rig(sim_cls, KeysightXSeries, "spectrum")
    sim.write(f":FORM:BORD {big_endian_name}")
    assert sim.big_endian


@pytest.mark.parametrize("sim_cls, driver_cls", [(SimKeysightXSeries, KeysightXSeries),
                                                 (SimRohdeSchwarzFSV, RohdeSchwarzFSV)])
@pytest.mark.parametrize("fmt, order", [("ascii", None), ("real32", "normal"),
                                        ("real32", "swapped"), ("real64", "normal")])
def test_driver_reads_plausible_traces_whatever_transfer_it_finds(sim_cls, driver_cls, fmt,
                                                                  order):
    power_up = AnalyzerPowerUp(format=fmt, byte_order=order)
    _, _, sim, driver = rig(sim_cls, driver_cls, "spectrum", power_up=power_up,
                            max_frequency=26.5e9)
    driver.configure_sweep(8e9, 9e9, 1001, 1e6, 1e5, 2)
    driver.single_sweep()
    trace = driver.read_trace()
    assert np.isfinite(trace).all() and trace.min() > -200 and trace.max() < 0


def test_a_late_opc_reply_does_not_answer_the_next_query():
    faults = [FaultConfig(instrument="spectrum", kind="late", at_command=1)]
    _, _, sim, driver = rig(SimKeysightXSeries, KeysightXSeries, "spectrum", faults=faults,
                            max_frequency=26.5e9)
    with pytest.raises(InstrumentError, match="timeout"):
        driver.single_sweep()
    # the late "1" was cleared with the session: the next query gets its own reply
    assert driver.read_sweep_time() != 1.0
    assert driver.ask("*IDN?").startswith("Keysight")


def test_without_a_device_clear_the_late_reply_would_corrupt_the_next_read():
    faults = [FaultConfig(instrument="spectrum", kind="late", at_command=1)]
    _, _, sim, _ = rig(SimKeysightXSeries, KeysightXSeries, "spectrum", faults=faults)
    adapter = SimAdapter(sim)
    adapter.write(":INIT:IMM;*OPC?")
    with pytest.raises(Exception, match="Timeout|TMO|timeout"):
        adapter.read()
    adapter.write("*IDN?")
    assert adapter.read() == "1"  # what the simulator, like the lab, does to the unwary


@pytest.mark.parametrize("sim_cls, driver_cls, asked, used", [
    (SimKeysightXSeries, KeysightXSeries, 250e3, 240e3),
    (SimRohdeSchwarzFSV, RohdeSchwarzFSV, 250e3, 300e3),  # nearest of 1-2-3-5
])
def test_quantised_rbw_is_read_back_and_recorded(sim_cls, driver_cls, asked, used):
    _, _, sim, driver = rig(sim_cls, driver_cls, "spectrum", max_frequency=26.5e9)
    driver.configure_sweep(8e9, 9e9, 1001, asked, asked / 10, 1)
    assert sim.rbw == pytest.approx(used)
    assert driver.settings_used["rbw"] == pytest.approx(used)
    assert driver.settings_used["average_type"] == "power"


def test_the_fsv_averages_power_like_the_x_series():
    _, _, sim, driver = rig(SimRohdeSchwarzFSV, RohdeSchwarzFSV, "spectrum",
                            max_frequency=26.5e9)
    driver.configure_sweep(8e9, 9e9, 1001, 1e6, 1e5, 4, detector="average")
    assert sim.detector == "RMS" and sim.average_type == "POW"


# ---- Kepco BOP -------------------------------------------------------------------------------
def test_kepco_powers_up_on_in_voltage_mode_as_from_the_factory():
    _, device, sim, _ = rig(SimKepcoBOP, LakeShore425, "supply")
    assert sim.output and sim.mode == "VOLT" and sim.current == sim.max_current


def test_kepco_power_up_table_and_rating_option():
    clock = VirtualClock()
    device = DeviceModel(clock, seed=1)
    sim = SimKepcoBOP("supply", device, clock, power_up=SupplyPowerUp(
        output=True, mode="voltage", level=2.0), options={"max_current": 10.0})
    assert sim.max_current == 10.0 and sim.current == 10.0
    clock.advance(5.0)
    assert device.magnet.coil_current() == pytest.approx(2.0, rel=1e-3)  # 2 V into 1 ohm


# ---- the gate sends a compliance only when the instrument holds another one ---------------
def test_an_unchanged_gate_compliance_is_not_sent_again(tmp_path):
    from labctl.runner import Runner
    from labctl.station import open_station
    from labctl.testing import sim_station_config
    from procedures.memristor_cycles import MemristorCycles

    station = open_station(sim_station_config())
    runner = Runner(MemristorCycles(cycles=3, v_step=0.1), station, tmp_path / "c.h5")
    assert runner.run() == "completed", runner.reason
    gate = station.sim.instruments["gate"]
    settings = [float(r.args) for r in gate.commands("[:SOURce]:VOLTage:ILIMit[:LEVel]")
                if r.args]
    levels = [r for r in gate.commands("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
              if r.args]
    assert len(levels) > 100 and len(settings) < len(levels) / 10
    assert all(a != b for a, b in zip(settings, settings[1:]))  # each one a change


def test_the_rbw_the_analyzer_really_uses_is_in_the_run_file(tmp_path):
    from labctl.runfile import open_run
    from labctl.runner import Runner
    from labctl.runreader import log_lines
    from labctl.station import open_station
    from labctl.testing import sim_station_config
    from procedures.freq_current import FreqCurrent

    station = open_station(sim_station_config())
    proc = FreqCurrent(i_start=1e-3, i_stop=1.2e-3, i_step=100e-6, points=1001, averages=2,
                       rbw=250e3)
    assert Runner(proc, station, tmp_path / "r.h5").run() == "completed"
    with open_run(tmp_path / "r.h5") as f:
        lines = [line.decode() for line in log_lines(f)]
    assert any("analyzer uses rbw 240 kHz" in line and "average_type power" in line
               for line in lines), lines
