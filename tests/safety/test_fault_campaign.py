"""Fault campaign: timeouts, error-queue entries and disconnects injected at random command
counts on every instrument, during the run and during the ramp-down. No run with a fault ends
`completed`; every output is confirmed at zero or reported, in capitals, as not confirmed,
never silently left on; and `labctl safe` finishes the job once the instrument answers."""

from __future__ import annotations

import random
import threading

import pytest

from drivers.field import FieldController
from drivers.roles import Gate, ShnoSource, Spectrum
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.station import Station, open_station
from labctl.testing import live_switch_offs, outputs_at_zero, outputs_off, sim_station_config
from procedures.freq_current import FreqCurrent

SMALL = dict(i_start=0.6e-3, i_stop=1.4e-3, i_step=200e-6, points=1001, averages=5)
SLOTS = ("shno_source", "gate", "spectrum", "supply", "gaussmeter")
KINDS = ("timeout", "error", "disconnect")
ROLE_OF = {"shno_source": "shno_source", "gate": "gate", "supply": "field",
           "gaussmeter": "field", "spectrum": "spectrum"}
TRIALS = 60


def baseline(tmp_path_factory) -> tuple[dict[str, int], dict[str, int]]:
    station = open_station(sim_station_config())
    at_ramp_down = {}
    ramp_down = station.ramp_down

    def counting_ramp_down():
        at_ramp_down.update({s: i.commands_received for s, i in station.sim.instruments.items()})
        return ramp_down()

    station.ramp_down = counting_ramp_down
    path = tmp_path_factory.mktemp("baseline") / "run.h5"
    assert Runner(FreqCurrent(**SMALL), station, path).run() == "completed"
    total = {s: i.commands_received for s, i in station.sim.instruments.items()}
    return at_ramp_down, {s: total[s] - at_ramp_down[s] for s in SLOTS}


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    in_run, in_ramp_down = baseline(tmp_path_factory)
    rng = random.Random(20261129)
    out = []
    for n in range(TRIALS):
        slot = SLOTS[n % len(SLOTS)]  # every role, in turn
        kind = rng.choice(KINDS)
        during_ramp_down = n % 3 == 2 and in_ramp_down[slot] > 0
        if during_ramp_down:
            at = in_run[slot] + rng.randint(1, in_ramp_down[slot])
        else:
            at = rng.randint(1, in_run[slot])
        out.append((slot, kind, at, "ramp-down" if during_ramp_down else "run"))
    return out


def safe_again(station) -> list[str]:
    """`labctl safe` after the instrument answers again: new roles on the same instruments."""
    for instrument in station.sim.instruments.values():
        instrument.connected = True
        instrument.faults = []
    config, clock, stop = station.config, station.clock, threading.Event()
    roles = {
        "shno_source": ShnoSource(station.shno_source.driver, config.shno_source.limits, clock,
                                  stop),
        "gate": Gate(station.gate.driver, config.gate.limits, clock, stop),
        "spectrum": Spectrum(station.spectrum.driver, config.spectrum.limits),
        "field": FieldController(station.field.supply, station.field.gaussmeter, config.field,
                                 clock, stop),
    }
    return Station(config, clock, roles, stop, sim=station.sim).ramp_down()


def test_the_campaign_covers_every_role_and_both_phases(trials):
    assert len(trials) >= 50
    assert {t[0] for t in trials} == set(SLOTS)
    assert {t[1] for t in trials} == set(KINDS)
    assert {t[3] for t in trials} == {"run", "ramp-down"}
    assert {t[0] for t in trials if t[3] == "ramp-down"} == set(SLOTS)


@pytest.mark.parametrize("index", range(TRIALS))
def test_fault_never_ends_completed_and_never_leaves_an_output_silently_on(tmp_path, trials,
                                                                            index):
    slot, kind, at, phase = trials[index]
    station = open_station(sim_station_config(
        faults=[{"instrument": slot, "kind": kind, "at_command": at}]))
    path = tmp_path / "run.h5"
    runner = Runner(FreqCurrent(**SMALL), station, path)
    status = runner.run()
    assert status != "completed", (slot, kind, at, phase, runner.reason)
    assert slot in runner.reason or ROLE_OF[slot] in runner.reason, runner.reason
    assert read_info(path)["status"] == status
    off = outputs_off(station)
    left_on = [s for s, is_off in off.items() if not is_off]
    if not (outputs_at_zero(station) and not left_on):
        # never silently: said in capitals, naming the role, in the run file too
        assert "OUTPUT NOT CONFIRMED AT ZERO" in runner.reason, runner.reason
        for s in left_on:
            assert f"OUTPUT NOT CONFIRMED AT ZERO: {ROLE_OF[s]}" in runner.reason
        assert "NOT CONFIRMED" in read_info(path)["reason"]
        assert safe_again(station) == []
        assert outputs_at_zero(station) and all(outputs_off(station).values())
    assert live_switch_offs(station) == {"shno_source": [], "gate": [], "supply": []}
