"""From every hostile power-up state the procedures, `labctl safe` and `station check` either
bring the instrument safely into the needed state or refuse with one line; the device never
sees more than the station's limits (or than it was found with) and no output is switched off
under a live level. Checked on the simulator's physical state, not only on its command log."""

from __future__ import annotations

import pytest

from labctl.errors import LabctlError
from labctl.registry import available_procedures
from labctl.runner import Runner
from labctl.station import open_station
from labctl.station_check import check_station
from labctl.testing import (
    Peaks,
    assert_within_limits,
    live_switch_offs,
    outputs_at_zero,
    outputs_off,
    sim_station_config,
)
from procedures.field_sweep import FieldSweep
from procedures.freq_current import FreqCurrent
from procedures.iv_stripe import IVStripe
from procedures.memristor_cycles import MemristorCycles
from procedures.memristor_program import MemristorProgram
from procedures.memristor_retention import MemristorRetention
from procedures.sync_map import SyncMap

SPECTRUM = dict(points=1001, averages=5)
PROCEDURES = {
    "freq-current": lambda: FreqCurrent(i_start=0.6e-3, i_stop=1.2e-3, i_step=200e-6,
                                        **SPECTRUM),
    "field-sweep": lambda: FieldSweep(b_start=0.6, b_stop=0.65, b_step=0.05, **SPECTRUM),
    "sync-map": lambda: SyncMap(i_start=1.8e-3, i_stop=2.0e-3, i_step=200e-6, **SPECTRUM),
    "memristor-cycles": lambda: MemristorCycles(cycles=1, v_step=0.25),
    "memristor-program": lambda: MemristorProgram(state="LRS", max_pulses=20),
    "memristor-retention": lambda: MemristorRetention(duration=2.0, interval=1.0),
    "iv-stripe": lambda: IVStripe(i_start=0.0, i_stop=1.0e-3, i_step=250e-6),
}

# what a front panel, another program or a crash may leave (the list, and more)
HOSTILE = {
    "gate sourcing 1 mA in current mode": {
        "gate": {"output": True, "function": "current", "level": 1e-3}},
    "I_SHNO source in voltage mode at 0.5 V": {
        "shno_source": {"output": True, "function": "voltage", "level": 0.5,
                        "compliance": 0.1}},
    "I_SHNO left on at 2 mA with a 21 V compliance": {
        "shno_source": {"output": True, "function": "current", "level": 2e-3,
                        "compliance": 21.0}},
    "I_SHNO on a 10 uA fixed range": {
        "shno_source": {"output": True, "function": "current", "level": 5e-6,
                        "source_range": 1e-5}},
    "gate at 0.5 V with a 10 mA limit": {
        "gate": {"output": True, "function": "voltage", "level": 0.5, "compliance": 10e-3}},
    "Kepco on in voltage mode at 3 V": {
        "field_supply": {"output": True, "mode": "voltage", "level": 3.0}},
    "Kepco on in current mode at 2 A": {
        "field_supply": {"output": True, "mode": "current", "level": 2.0, "limit": 20.0}},
    "gaussmeter on the 350 G range in tesla": {
        "gaussmeter": {"range": 350, "unit": "T"}},
    "analyzer sending big-endian REAL,64": {
        "spectrum": {"format": "real64", "byte_order": "normal"}},
}


def test_every_procedure_of_the_catalog_is_exercised():
    assert sorted(PROCEDURES) == sorted(available_procedures())


def hostile_station(power_up: dict):
    station = open_station(sim_station_config(power_up))
    return station, Peaks.of(station)


def assert_safe_end(station, found: Peaks) -> None:
    assert_within_limits(station, found)
    assert live_switch_offs(station) == {"shno_source": [], "gate": [], "supply": []}
    assert outputs_at_zero(station)
    assert all(outputs_off(station).values()), outputs_off(station)


@pytest.mark.parametrize("state", HOSTILE)
@pytest.mark.parametrize("name", PROCEDURES)
def test_every_procedure_from_every_hostile_power_up(tmp_path, name, state):
    station, found = hostile_station(HOSTILE[state])
    runner = Runner(PROCEDURES[name](), station, tmp_path / "run.h5")
    status = runner.run()
    assert status == "completed", runner.reason
    assert_safe_end(station, found)


@pytest.mark.parametrize("state", HOSTILE)
def test_labctl_safe_from_every_hostile_power_up(state):
    station, found = hostile_station(HOSTILE[state])
    assert station.ramp_down() == []
    assert_safe_end(station, found)


@pytest.mark.parametrize("state", HOSTILE)
def test_station_check_reports_every_instrument_and_changes_nothing(state):
    station, found = hostile_station(HOSTILE[state])
    before = {slot: (i.output if hasattr(i, "output") else None)
              for slot, i in station.sim.instruments.items()}
    truth = station.sim.device.truth()
    reports = check_station(station)
    assert [r.slot for r in reports] == ["shno_source", "gate", "spectrum", "field.supply",
                                         "field.gaussmeter"]
    assert not any(r.failed for r in reports), [r.lines for r in reports if r.failed]
    # asked only: nothing was switched, set or ramped
    assert {slot: (i.output if hasattr(i, "output") else None)
            for slot, i in station.sim.instruments.items()} == before
    assert station.sim.device.truth()["current"] == truth["current"]
    assert station.sim.device.truth()["gate_voltage"] == truth["gate_voltage"]
    for instrument in station.sim.instruments.values():
        changed = [r.command for r in instrument.log if "?" not in r.header
                   and not r.header.startswith("*")]
        assert changed == [], (instrument.name, changed)
    # the same levels; a memristor's current fluctuates by its read noise (1 % rms) from one
    # reading to the next, so the largest seen may grow by that much
    seen = Peaks.of(station)
    assert (seen.shno_current, seen.gate_voltage, seen.magnet_current) == (
        found.shno_current, found.gate_voltage, found.magnet_current)
    assert seen.gate_current == pytest.approx(found.gate_current, rel=0.05)


def test_station_check_says_what_a_run_would_change():
    station, _ = hostile_station(HOSTILE["gate sourcing 1 mA in current mode"])
    gate = check_station(station)[1]
    assert "output     ON" in gate.lines
    assert any("ramp 1 mA to 0 through the current function" in c for c in gate.changes)


def test_an_output_that_is_off_is_not_reported_as_a_measurement():
    station, _ = hostile_station({})
    shno = check_station(station)[0]
    assert "read-back  none: output off" in shno.lines


def test_gate_left_in_current_mode_is_zeroed_through_current_then_reconfigured():
    station, _ = hostile_station(HOSTILE["gate sourcing 1 mA in current mode"])
    gate_log = station.sim.instruments["gate"]
    station.gate.ramp_to(0.5, compliance=1e-4)
    headers = [(r.header, r.args) for r in gate_log.log if r.args]
    # the current level is ramped to 0 before the output goes off and the function changes
    first_off = headers.index((":OUTP", "0"))
    current_steps = [float(a) for h, a in headers[:first_off] if h == ":SOUR:CURR"]
    assert current_steps and current_steps[-1] == 0.0
    assert headers.index((":SOUR:FUNC", "VOLT")) > first_off
    # (1 mA forced through it at power-up broke the memristor: the compliance now holds)
    _, i = station.sim.device.terminal("gate").read()
    assert station.gate.driver.read_source_voltage() == 0.5
    assert abs(i) <= 1e-4 * (1 + 1e-9)


def test_shno_source_left_in_voltage_mode_never_carries_more_than_it_was_found_with():
    station, found = hostile_station(HOSTILE["I_SHNO source in voltage mode at 0.5 V"])
    assert found.shno_current > station.config.shno_source.limits.max_current  # beyond burn-out
    station.shno_source.ramp_to(1e-3)
    _, amps = station.sim.device.terminal("shno_source").read()
    assert amps == pytest.approx(1e-3, rel=1e-6)
    assert_within_limits(station, found)
    assert live_switch_offs(station)["shno_source"] == []


def test_kepco_found_on_in_voltage_mode_is_driven_in_current_mode():
    station, found = hostile_station({})  # its factory power-up: on, voltage mode
    assert station.sim.instruments["supply"].output
    measured = station.field.set_field(0.3)
    assert measured == pytest.approx(0.3, abs=station.config.field.limits.tolerance)
    assert station.sim.instruments["supply"].mode == "CURR"
    assert live_switch_offs(station)["supply"] == []


def test_a_range_the_probe_cannot_hold_is_set_not_overloaded():
    station, _ = hostile_station(HOSTILE["gaussmeter on the 350 G range in tesla"])
    assert station.field.set_field(0.65) == pytest.approx(0.65, abs=2e-3)
    assert station.sim.instruments["gaussmeter"].range == 4  # 35 kG


def test_a_probe_that_cannot_read_the_field_is_refused_in_one_line():
    station, _ = hostile_station({"gaussmeter": {"probe": 42}})  # ultra-high sensitivity
    with pytest.raises(LabctlError, match="no range for 0.9 T") as err:
        station.field.set_field(0.3)
    assert "\n" not in str(err.value)
    assert station.ramp_down() == []
    assert outputs_at_zero(station)
