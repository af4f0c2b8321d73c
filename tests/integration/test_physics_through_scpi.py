"""The simulated device seen the way a physicist sees it: through the drivers and SCPI.

Each test drives the station's roles (drivers over simulated instruments) and checks a piece of
PHYSICS.md against the device model's configuration.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from labctl.analysis.lorentz import fit_spectrum
from labctl.config import default_sim_station
from labctl.station import open_station


def station_with(**device):
    base = default_sim_station()
    sim = base.sim.model_copy(update={"device": device})
    return open_station(base.model_copy(update={"sim": sim}))


def sweep(station, start=8e9, stop=12e9, points=10001, rbw=1e6, averages=10):
    station.spectrum.configure(start, stop, points, rbw, rbw / 10, averages)
    return station.spectrum.acquire()


def test_noise_floor_matches_gain_nf_and_rbw():
    station = open_station(default_sim_station())
    truth = station.sim.device.truth()
    for rbw in (100e3, 1e6, 3e6):
        _, trace = sweep(station, rbw=rbw, averages=1000)
        gain, nf = truth["gain_db"], 2.5
        expected_lin = 10 ** ((-174 + gain + nf) / 10) + 10 ** (-155 / 10)
        expected = 10 * math.log10(expected_lin) + 10 * math.log10(1.06 * rbw)
        measured = 10 * np.log10(np.mean(10 ** (trace / 10)))  # power average of the trace
        assert measured == pytest.approx(expected, abs=1.0)


def test_trace_scatter_falls_as_one_over_sqrt_averages():
    station = open_station(default_sim_station())
    scatter = {}
    for n in (1, 4, 16, 64):
        _, trace = sweep(station, averages=n)
        scatter[n] = float(np.std(trace))
    assert scatter[1] == pytest.approx(5.57, rel=0.1)
    for n in (4, 16, 64):
        assert scatter[n] == pytest.approx(scatter[1] / math.sqrt(n), rel=0.25)


def test_frequency_shift_has_configured_sign_and_slope():
    currents = (1.30e-3, 1.60e-3)
    for slope in (-0.5e12, +0.4e12):
        station = station_with(df_di=slope, coupling=0.0)
        station.field.set_field(0.65)
        fitted, true = [], []
        for current in currents:
            station.shno_source.ramp_to(current)
            f, trace = sweep(station, averages=50)
            peaks = fit_spectrum(f, trace, 1e6, gain_db=32)
            truth = station.sim.device.truth()
            # each oscillator's fitted line: the fitted peak nearest to where the model has it
            fitted.append([min((p.frequency for p in peaks), key=lambda x, t=t: abs(x - t))
                           for t in truth["frequencies"]])
            true.append(truth["frequencies"])
        fitted_slope = np.mean(np.subtract(*fitted[::-1])) / (currents[1] - currents[0])
        true_slope = np.mean(np.subtract(*true[::-1])) / (currents[1] - currents[0])
        assert np.sign(fitted_slope) == np.sign(slope)
        assert fitted_slope == pytest.approx(true_slope, rel=0.2)
        # the model's slope above threshold follows the configured one (p0 saturates with I)
        assert 0.3 * abs(slope) < abs(true_slope) < abs(slope)
        station.ramp_down()


def test_memristor_iv_is_hysteretic_and_lrs_follows_compliance():
    station = open_station(default_sim_station())
    gate = station.gate
    for compliance in (20e-6, 80e-6):
        up = np.arange(0, 5.0001, 0.1)
        down = np.concatenate([np.arange(5.0, -2.0001, -0.1), np.arange(-2.0, 0.0001, 0.1)])
        currents_up, currents_down = [], []
        for v in up:
            gate.ramp_to(v, compliance=compliance)
            currents_up.append(gate.measure()[1])
        for v in down:
            gate.ramp_to(v, compliance=compliance)
            currents_down.append(gate.measure()[1])
        iv_up = dict(zip(np.round(up, 3), currents_up))
        iv_down = dict(zip(np.round(down[: len(up)], 3), currents_down[: len(up)]))
        # hysteresis: at +1 V the current is tiny going up (HRS), large coming down (LRS)
        assert abs(iv_up[1.0]) < 1e-8 and abs(iv_down[1.0]) > 1e-5
        gate.ramp_to(0.0)
        # set again and read the LRS at 0.1 V: about 0.4 V / I_cc
        for v in up:
            gate.ramp_to(v, compliance=compliance)
        gate.ramp_to(0.1)
        r_lrs = 0.1 / gate.measure()[1]
        assert r_lrs == pytest.approx(0.4 / compliance, rel=0.3)
        for v in np.arange(0, -2.0001, -0.1):  # back to HRS for the next compliance
            gate.ramp_to(v)
        gate.ramp_to(0.0)
    assert not any(station.sim.device.truth()["memristor_broken"])


def test_sweep_without_compliance_breaks_the_memristor_for_good():
    station = open_station(default_sim_station())
    driver = station.gate.driver  # bypass the role: the role would refuse this
    driver.configure_voltage_source(0.1)  # 100 mA: effectively no compliance
    driver.enable_output()
    for v in np.arange(0, 5.0001, 0.25):
        driver.set_source_voltage(v)
    driver.set_source_voltage(0.0)
    truth = station.sim.device.truth()
    k = station.sim.device.params.gated_memristor
    assert truth["memristor_broken"][k]
    assert truth["memristor_resistance"][k] < 2e3
    # a RESET no longer recovers it
    for v in np.arange(0, -2.0001, -0.1):
        driver.set_source_voltage(v)
    driver.set_source_voltage(0.0)
    truth = station.sim.device.truth()
    assert truth["memristor_broken"][k] and truth["memristor_resistance"][k] < 2e3


def count_lines_at(station, current):
    station.shno_source.ramp_to(current)
    f, trace = sweep(station, averages=20)
    return len(fit_spectrum(f, trace, 1e6, gain_db=32)), station.sim.device.truth()


def test_lines_merge_into_one_strong_narrow_line_as_coupling_grows():
    results = {}
    for coupling in (0.0, 400e6):
        station = station_with(coupling=coupling)
        station.field.set_field(0.65)
        station.shno_source.ramp_to(1.6e-3)
        f, trace = sweep(station, averages=20)
        peaks = fit_spectrum(f, trace, 1e6, gain_db=32)
        results[coupling] = (peaks, station.sim.device.truth())
    separate, locked = results[0.0][0], results[400e6][0]
    assert len(results[0.0][1]["clusters"]) == 4 and len(results[400e6][1]["clusters"]) == 1
    assert len(separate) >= 3
    assert len(locked) == 1
    strongest_free = max(p.peak_psd for p in separate)
    assert locked[0].peak_psd > 3 * strongest_free  # stronger
    assert locked[0].fwhm < min(p.fwhm for p in separate)  # narrower
