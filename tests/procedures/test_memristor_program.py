"""memristor-program on the simulated station: write–verify to a resistance or a state."""

import h5py
import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.sim.scpi import compile_pattern, normalize_header
from labctl.station import open_station
from procedures.memristor_program import MemristorProgram

LEVEL = compile_pattern("[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
LIMIT = compile_pattern("[:SOURce#]:VOLTage:ILIMit[:LEVel]")


@pytest.fixture
def station():
    return open_station(default_sim_station())


def gated_truth(station) -> tuple[float, bool, bool]:
    truth = station.sim.device.truth()
    k = station.sim.device.params.gated_memristor
    return (truth["memristor_resistance"][k], truth["memristor_lrs"][k],
            truth["memristor_broken"][k])


def run(procedure, station, path):
    runner = Runner(procedure, station, path)
    assert runner.run() == "completed", runner.reason
    return runner


@pytest.mark.parametrize("target", [4e3, 10e3, 25e3])
def test_reaches_a_resistance_within_tolerance(station, tmp_path, target):
    p = MemristorProgram(target=target, tolerance=0.1)
    runner = run(p, station, tmp_path / "program.h5")
    res = runner.results
    assert res["success"] is True
    assert res["final_resistance"] == pytest.approx(target, rel=0.1)
    r_true, lrs, broken = gated_truth(station)
    assert lrs and not broken
    assert r_true == pytest.approx(target, rel=0.1)  # the device, not just the reading
    assert 0 < res["pulses_used"] <= p.max_pulses
    with h5py.File(tmp_path / "program.h5", "r") as f:
        assert f["pulse_kind"][0] == 0  # the first row is the read before any pulse
        assert f["within_tolerance"][-1] == 1
        assert not f["within_tolerance"][:-1].any()  # it stops at the first success
        np.testing.assert_array_equal(f["pulse"][:], np.arange(len(f["pulse"])))
    assert "reached" in p.summarize(res)[-1]


def test_a_second_target_reprograms_the_analog_level(station, tmp_path):
    run(MemristorProgram(target=30e3), station, tmp_path / "a.h5")
    assert gated_truth(station)[0] == pytest.approx(30e3, rel=0.1)
    run(MemristorProgram(target=5e3), station, tmp_path / "b.h5")
    assert gated_truth(station)[0] == pytest.approx(5e3, rel=0.1)
    run(MemristorProgram(target=20e3), station, tmp_path / "c.h5")
    assert gated_truth(station)[0] == pytest.approx(20e3, rel=0.1)


def test_states_hrs_and_lrs(station, tmp_path):
    run(MemristorProgram(state="LRS"), station, tmp_path / "lrs.h5")
    assert gated_truth(station)[1] is True
    runner = run(MemristorProgram(state="HRS"), station, tmp_path / "hrs.h5")
    assert gated_truth(station)[1] is False
    assert runner.results["final_resistance"] > 1e9
    with h5py.File(tmp_path / "hrs.h5", "r") as f:
        assert (f["pulse_voltage"][1:] < 0).all()  # only RESET pulses, growing
        assert (np.diff(f["pulse_voltage"][1:]) < 0).all()


def test_already_there_needs_no_pulse(station, tmp_path):
    runner = run(MemristorProgram(state="HRS"), station, tmp_path / "hrs.h5")
    r_true = gated_truth(station)[0]
    assert runner.results == {"goal": "HRS", "pulses_used": 0,
                              "final_resistance": pytest.approx(r_true, rel=0.05),
                              "success": True}


def test_unreachable_target_gives_up_without_damage_and_fails_the_run(station, tmp_path):
    # 100 ohm needs ~4 mA of SET compliance; the programme may use at most 500 uA
    p = MemristorProgram(target=100.0, compliance_stop=500e-6)
    runner = Runner(p, station, tmp_path / "program.h5")
    # "NOT reached" is a failed run (non-zero exit, a queue with on_failure = "stop" stops),
    # with the pulses and the results in the file
    assert runner.run() == "failed"
    assert "memristor target 100 Ω ± 10% not reached" in runner.reason
    assert runner.results["success"] is False
    assert runner.results["pulses_used"] < p.max_pulses  # it sees the limit, not the budget
    info = read_info(tmp_path / "program.h5")
    assert info["status"] == "failed" and info["results"]["success"] is False
    r_true, lrs, broken = gated_truth(station)
    assert not broken
    # the lowest level the compliance allows, within the device's spread
    assert 0.4 / 500e-6 / 2 < r_true < 0.4 / 500e-6 * 2
    assert "NOT reached" in p.summarize(runner.results)[-1]


def test_compliance_before_every_level_and_ends_at_zero(station, tmp_path):
    p = MemristorProgram(target=8e3, read_compliance=30e-6, compliance_stop=300e-6,
                         reset_compliance=400e-6)
    run(p, station, tmp_path / "program.h5")
    compliance, levels = None, []
    for record in station.sim.instruments["gate"].commands():
        header = normalize_header(record.header)
        if LIMIT.match(header):
            compliance = float(record.args)
        elif LEVEL.match(header):
            levels.append((float(record.args), compliance))
    with h5py.File(tmp_path / "program.h5", "r") as f:
        recorded = list(zip(f["pulse_voltage"][1:], f["compliance"][1:], strict=True))
    pulses = []
    for volts, amps in levels:
        if volts == 0:
            continue
        assert amps is not None
        if volts == pytest.approx(p.v_read):
            assert amps == pytest.approx(p.read_compliance)
        else:
            pulses.append((volts, amps))
            assert amps <= (p.compliance_stop if volts > 0 else p.reset_compliance)
    # each pulse went out with the compliance recorded for it
    assert pulses == [(pytest.approx(v), pytest.approx(a)) for v, a in recorded]
    assert levels[-1] == (0.0, pytest.approx(p.read_compliance))
    assert station.sim.device.truth()["gate_voltage"] == 0.0
    assert read_info(tmp_path / "program.h5")["status"] == "completed"


@pytest.mark.parametrize("values", [{"set_stop": 8.5}, {"reset_stop": -3.5},
                                    {"compliance_stop": 2e-3, "reset_compliance": 2e-3},
                                    {"reset_compliance": 1.5e-3},
                                    {"read_compliance": 5e-3}])
def test_beyond_station_limits_raises_before_any_command(station, tmp_path, values):
    runner = Runner(MemristorProgram(**values), station, tmp_path / "no.h5")
    with pytest.raises(LimitError, match=next(iter(values))):
        runner.start()
    assert station.sim.instruments["gate"].commands() == []
    assert not (tmp_path / "no.h5").exists()


@pytest.mark.parametrize("values", [{"v_read": 0.5}, {"state": "ON"},
                                    {"set_start": 4.0, "set_stop": 3.0},
                                    {"compliance_start": 1e-4, "compliance_stop": 1e-5},
                                    {"compliance_stop": 400e-6, "reset_compliance": 100e-6}])
def test_bad_parameters_are_refused(values):
    with pytest.raises(UserInputError):
        MemristorProgram(**values)


def test_not_reached_exits_non_zero_and_stops_a_queue(capsys, tmp_path, monkeypatch):
    from labctl.cli.main import main

    monkeypatch.chdir(tmp_path)
    code = main(["run", "memristor-program", "--sim", "--quiet", "--out", str(tmp_path),
                 "--set", "target=100", "--set", "compliance_stop=500e-6"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "status: failed" in out and "NOT reached" in out
    queue = tmp_path / "queue.toml"
    queue.write_text('station = "sim"\nout = "runs"\non_failure = "stop"\n\n'
                     '[[run]]\nprocedure = "memristor-program"\n'
                     'set = { target = 100.0, compliance_stop = 500e-6 }\n\n'
                     '[[run]]\nprocedure = "memristor-program"\nset = { state = "HRS" }\n')
    code = main(["queue", str(queue), "--quiet"])
    out, _ = capsys.readouterr()
    assert code != 0
    made = sorted((tmp_path / "runs").glob("*.h5"))
    assert len(made) == 1  # the second run never started
