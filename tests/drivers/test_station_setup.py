"""Setting a station up: one line for a driver in a role it cannot play or an unknown one,
per-unit options that reach the drivers and the simulated instruments, `station check`,
`station list` and `safe` as a user sees them."""

from __future__ import annotations

import pytest

from labctl.cli.main import main
from labctl.config import load_station
from labctl.errors import ConfigError
from labctl.station import open_station
from labctl.testing import sim_station_config


@pytest.mark.parametrize("replacement, words", [
    (('[gate]\ndriver = "keithley2450"', '[gate]\ndriver = "keithley6221"'),
     ["gate.driver = 'keithley6221'", "a keithley6221 cannot be the gate",
      "drivers that can: keithley2450, keithley2400"]),
    (('driver = "lakeshore425"', 'driver = "kepco_bop"'),
     ["field.gaussmeter.driver", "cannot be the field.gaussmeter", "lakeshore425"]),
    (('driver = "keysight_xseries"', 'driver = "hp8563"'),
     ["spectrum.driver = 'hp8563'", "unknown driver", "known drivers: keithley2400, "
      "keithley2450, keithley6221, kepco_bop, keysight_xseries, lakeshore425, rs_fsv"]),
    (('address = "SIM::supply"', 'address = "SIM::supply"\noptions = { max_curent = 10 }'),
     ["field.supply.options.max_curent", "not an option of kepco_bop",
      "max_current, max_voltage"]),
    (('address = "SIM::gaussmeter"', 'address = "SIM::gaussmeter"\noptions = { probe = 3 }'),
     ["field.gaussmeter.options.probe = 3", "must be str"]),
    (("max_current = 16.0", "max_current = 15.0"),
     ["field", "max_field = 0.9 T needs 15 A", "95%"]),
])
def test_a_station_file_mistake_is_one_line(write_station, replacement, words):
    with pytest.raises(ConfigError) as err:
        load_station(write_station(replacement))
    message = str(err.value)
    assert "\n" not in message and err.value.exit_code == 2
    for word in words:
        assert word in message, (word, message)


def test_options_reach_the_driver_and_the_simulated_instrument():
    config = sim_station_config(
        spectrum={"options": {"max_frequency": 13.6e9}},
        gate={"driver": "keithley2400"},
    )
    config = config.model_copy(update={"field": config.field.model_copy(update={
        "supply": config.field.supply.model_copy(update={"options": {"max_current": 16.0,
                                                                     "max_voltage": 20.0}}),
        "gaussmeter": config.field.gaussmeter.model_copy(update={"options": {
            "probe": "high_sensitivity"}})})})
    station = open_station(config)
    assert station.spectrum.driver.max_frequency == 13.6e9
    assert station.sim.instruments["spectrum"].F_MAX == 13.6e9
    assert station.field.supply.max_current == 16.0
    assert station.sim.instruments["supply"].max_current == 16.0
    assert station.field.gaussmeter.expected_probe == "high_sensitivity"
    assert station.field.set_field(0.3) == pytest.approx(0.3, abs=1e-3)


def test_station_check_command_reports_every_instrument(capsys):
    assert main(["station", "check", "--sim"]) == 0
    out = capsys.readouterr().out
    for slot in ("shno_source", "gate", "spectrum", "field.supply", "field.gaussmeter"):
        assert f"\n{slot}\n" in out
    assert "a run would first: ramp the voltage to 0 V through voltage mode" in out
    assert "read-back  none: output off" in out


def test_station_check_goes_on_past_an_instrument_that_fails(tmp_path, capsys):
    station = open_station(sim_station_config(
        faults=[{"instrument": "gate", "kind": "disconnect", "at_command": 1}]))
    from labctl.station_check import check_station

    reports = check_station(station)
    assert [r.failed for r in reports] == [False, True, False, False, False]
    assert "connection lost" in reports[1].lines[-1]


def test_station_list_shows_the_visa_resources(capsys):
    assert main(["station", "list", "--backend", "@sim"]) == 0
    out = capsys.readouterr().out
    assert "GPIB0::8::INSTR" in out  # pyvisa-sim's default resources


def test_station_list_without_a_visa_library_is_one_line(capsys):
    assert main(["station", "list", "--backend", "@nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no VISA library" in err


def test_safe_says_not_confirmed_in_capitals_and_fails(monkeypatch, capsys):
    from labctl import station as station_module

    real_open = station_module.open_station

    def open_with_a_dead_gate(config):
        st = real_open(sim_station_config(
            power_up={"gate": {"output": True, "function": "voltage", "level": 0.5}},
            faults=[{"instrument": "gate", "kind": "disconnect", "at_command": 1}]))
        return st

    monkeypatch.setattr(station_module, "open_station", open_with_a_dead_gate)
    assert main(["safe", "--sim"]) == 1
    captured = capsys.readouterr()
    assert "shno_source  ramped down: at zero and off" in captured.out
    assert "gate         OUTPUT NOT CONFIRMED AT ZERO: gate" in captured.out
    assert "last known level" in captured.out
    assert "OUTPUT NOT CONFIRMED AT ZERO" in captured.err
