"""Making a station safe: outputs left on (as after a crash) ramp to zero by the limits."""

from __future__ import annotations

import threading

from drivers.field import FieldController
from drivers.roles import Gate, ShnoSource, Spectrum
from labctl.config import default_sim_station
from labctl.station import Station, open_station


def test_ramp_down_from_outputs_left_on():
    config = default_sim_station()
    station = open_station(config)
    station.shno_source.ramp_to(1.5e-3)
    station.gate.ramp_to(0.15, compliance=50e-6)
    station.field.set_field(0.3)
    # what `labctl safe` does after a crash: new role objects, nothing cached, same instruments
    stop = threading.Event()
    clock = station.clock
    roles = {
        "shno_source": ShnoSource(station.shno_source.driver, config.shno_source.limits,
                                  clock, stop),
        "gate": Gate(station.gate.driver, config.gate.limits, clock, stop),
        "spectrum": Spectrum(station.spectrum.driver, config.spectrum.limits),
        "field": FieldController(station.field.supply, station.field.gaussmeter, config.field,
                                 clock, stop),
    }
    safe = Station(config, clock, roles, stop, sim=station.sim)
    log = station.sim.instruments["shno_source"].log
    start = len(log)
    assert safe.ramp_down() == []
    truth = station.sim.device.truth()
    assert abs(truth["current"]) < 1e-12 and abs(truth["gate_voltage"]) < 1e-12
    assert abs(station.sim.device.magnet.supply_setpoint()) < 1e-12
    new = list(log)[start:]
    levels = [float(r.args) for r in new if r.header == ":SOUR:CURR" and r.args]
    # as few steps as the limit allows (one more when the distance is an exact multiple)
    assert len(levels) in (150, 151)
    steps = [abs(b - a) for a, b in zip([1.5e-3, *levels], levels)]
    assert max(steps) <= config.shno_source.limits.max_step * (1 + 1e-9)
    assert levels[-1] == 0.0
    assert [r.args for r in new if r.header == ":OUTP" and r.args] == ["0"]  # off at zero only
