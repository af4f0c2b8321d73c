"""The simulated device seen the way a physicist sees it: through the drivers and SCPI.

Each test drives the station's roles (drivers over simulated instruments) on the realistic
default device and checks a number of PHYSICS.md against what the instruments report — the
numbers docs/physics.md quotes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from labctl.analysis.lorentz import fit_spectrum
from labctl.analysis.peaks import oscillator_lines
from labctl.analysis.spectra import smooth_background
from labctl.config import default_sim_station
from labctl.station import open_station

FLAT = {"ripple_db": 0.0, "spurs": []}  # for the floor numbers only


def station_with(**device):
    base = default_sim_station()
    sim = base.sim.model_copy(update={"device": device})
    return open_station(base.model_copy(update={"sim": sim}))


def sweep(station, start=8e9, stop=12e9, points=10001, rbw=1e6, averages=50, vbw=None,
          detector="average"):
    station.spectrum.configure(start, stop, points, rbw, rbw / 10 if vbw is None else vbw,
                               averages, detector=detector)
    return station.spectrum.acquire()


def floor_dbm(rbw, gain=32.0, nf=2.5):
    return 10 * math.log10(10 ** ((-174 + gain + nf) / 10) + 10 ** (-155 / 10)) \
        + 10 * math.log10(1.06 * rbw)


def lines_at(station, current, background, rbw=1e6, span=(8e9, 12e9)):
    station.shno_source.ramp_to(current)
    f, trace = sweep(station, *span, rbw=rbw)
    peaks = fit_spectrum(f, trace, rbw, gain_db=32, background_dbm=background, min_snr_db=0.5)
    return oscillator_lines(peaks, 30e6), station.sim.device.truth()


def background_of(station, rbw=1e6, span=(8e9, 12e9)):
    station.shno_source.ramp_to(0.0)
    f, trace = sweep(station, *span, rbw=rbw)
    return smooth_background(trace, f[1] - f[0])


def test_noise_floor_matches_gain_nf_and_rbw():
    station = station_with(**FLAT)
    for rbw in (100e3, 1e6, 3e6):
        _, trace = sweep(station, rbw=rbw, averages=1000)
        measured = 10 * np.log10(np.mean(10 ** (trace / 10)))  # power average of the trace
        assert measured == pytest.approx(floor_dbm(rbw), abs=0.3)


def test_trace_scatter_falls_as_one_over_sqrt_averages():
    station = station_with(**FLAT)
    scatter = {}
    for n in (1, 4, 16, 64):  # one noise sample per point: VBW = RBW, sample detector
        _, trace = sweep(station, averages=n, vbw=1e6, detector="sample")
        scatter[n] = float(np.std(trace))
    assert scatter[1] == pytest.approx(5.57, rel=0.1)
    for n in (4, 16, 64):
        assert scatter[n] == pytest.approx(scatter[1] / math.sqrt(n), rel=0.25)


def test_single_free_lines_sit_2_to_7_db_above_the_floor_and_grow_as_i2_p0():
    station = station_with(coupling=0.0)
    station.field.set_field(0.65)
    bg = background_of(station)
    powers, heights = {}, {}
    for current in (1.3e-3, 1.6e-3, 2.0e-3):
        lines, truth = lines_at(station, current, bg)
        assert len(lines) == 4
        heights[current] = [p.snr_db for p in lines]
        powers[current] = sum(p.integrated_power for p in lines)
    assert all(1.5 < h < 7.5 for hs in heights.values() for h in hs)
    assert 0.1e-12 < powers[2.0e-3] / 4 < 1e-12  # 0.1-1 pW per constriction [PHYSICS §1]
    # the growth follows the sum of I^2 p0 over the configured thresholds
    q = station.sim.device.params.q_nl

    def law(i):
        return sum(i * i * (i / t - 1) / (i / t + q) for t in truth["thresholds"])

    measured = powers[2.0e-3] / powers[1.3e-3]
    assert measured == pytest.approx(law(2.0e-3) / law(1.3e-3), rel=0.25)
    assert 10 * math.log10(measured) > 6.0
    station.ramp_down()


def test_a_fully_locked_line_stands_10_to_30_db_above_the_floor():
    station = open_station(default_sim_station())
    station.field.set_field(0.65)
    bg = background_of(station)
    lines, truth = lines_at(station, 2.2e-3, bg)
    assert truth["sync_state"] == "full"
    assert len(lines) == 1 and 10.0 < lines[0].snr_db < 30.0
    station.ramp_down()


@pytest.mark.parametrize("tilt,sign", [(60.0, -1), (75.0, 1)])
def test_nonlinear_shift_sign_changes_with_the_field_tilt(tilt, sign):
    # red closer to the plane, blue closer to the normal (macrospin; measured crossover
    # between 60 and 70 deg): the same device shifts the other way at another tilt
    station = station_with(coupling=0.0, tilt_deg=tilt, joule_df_di2=0.0, spurs=[])
    station.field.set_field(0.65)
    span = station.sim.device.truth()["f_fmr"] + np.array([-1e9, 1e9])
    bg = background_of(station, span=span)
    fitted = []
    for current in (1.5e-3, 1.8e-3):
        lines, truth = lines_at(station, current, bg, span=span)
        assert len(lines) == 4
        fitted.append(np.array([p.frequency for p in lines]))
    assert np.all(np.sign(fitted[1] - fitted[0]) == sign)
    station.ramp_down()


def _cycle(gate, set_compliance, reset_compliance=1e-3, top=5.0, bottom=-2.0, step=0.05):
    """One staircase cycle: SET up to ``top``, RESET down to ``bottom``; (V_reset, R_lrs)."""
    for v in np.arange(0.0, top + 1e-9, 0.1):
        gate.ramp_to(v, compliance=set_compliance)
    gate.ramp_to(0.1)  # down under the SET compliance: a larger one at 5 V grows the LRS
    v, i, _ = gate.measure()
    r_lrs = v / i
    v_reset = math.nan
    for v in np.arange(0.0, bottom - 1e-9, -step):
        gate.ramp_to(v, compliance=reset_compliance)
        _, i, _ = gate.measure()
        if abs(i) < 1e-7 and v < -0.1:
            v_reset = v
            break
    gate.ramp_to(0.0)
    return v_reset, r_lrs


def test_memristor_lrs_and_reset_voltage_spread_from_cycle_to_cycle():
    station = open_station(default_sim_station())
    cycles = [_cycle(station.gate, 50e-6) for _ in range(12)]
    v_reset = np.array([c[0] for c in cycles])
    r_lrs = np.array([c[1] for c in cycles])
    assert np.all(np.isfinite(v_reset))
    assert np.std(np.log(r_lrs)) > 0.05  # R_LRS spread [PHYSICS §3]
    # LRS = 0.4 V / I_cc, within the device-to-device spread (this one sits 1.3x high)
    assert 0.4 / 50e-6 / 1.5 < np.median(r_lrs) < 0.4 / 50e-6 * 1.5
    assert np.ptp(v_reset) >= 0.1  # RESET spread
    assert -2.0 < np.median(v_reset) < -0.5


def test_lrs_gating_is_at_most_30_mhz_per_volt_at_the_default_compliance():
    station = station_with(coupling=0.0)
    station.field.set_field(0.65)
    gate = station.gate
    for v in np.arange(0.0, 5.01, 0.1):  # SET at the gate's default 100 uA compliance
        gate.ramp_to(v, compliance=100e-6)
    gate.ramp_to(0.0)
    bg = background_of(station)
    station.shno_source.ramp_to(2.0e-3)
    centres = []
    levels = (-0.3, 0.0, 0.3)
    for v in levels:
        gate.ramp_to(v, compliance=100e-6)
        f, trace = sweep(station)
        lines = oscillator_lines(fit_spectrum(f, trace, 1e6, gain_db=32, background_dbm=bg,
                                              min_snr_db=0.5), 30e6)
        assert len(lines) == 4
        centres.append([p.frequency for p in lines])
    slope = np.polyfit(levels, np.array(centres), 1)[0]
    assert station.sim.device.truth()["memristor_resistance"][1] < 1e5  # still LRS
    assert np.max(np.abs(slope)) < 30e6
    # the downstream constrictions do move: current flows through them
    truth = station.sim.device.truth()
    k = station.sim.device.params.gated_memristor
    assert np.max(np.abs(slope)) > 3e6 and abs(truth["gate_current"]) > 10e-6
    assert k == 1
    station.ramp_down()


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


def test_lines_merge_into_one_strong_narrow_line_as_coupling_grows():
    results = {}
    for coupling in (0.0, 400e6):
        station = station_with(coupling=coupling)
        station.field.set_field(0.65)
        bg = background_of(station)
        results[coupling] = lines_at(station, 1.6e-3, bg)
        station.ramp_down()
    (separate, free), (locked, merged) = results[0.0], results[400e6]
    assert len(free["clusters"]) == 4 and len(merged["clusters"]) == 1
    assert len(separate) == 4 and len(locked) == 1
    strongest_free = max(p.peak_psd for p in separate)
    assert locked[0].peak_psd > 3 * strongest_free  # stronger
    assert locked[0].fwhm < min(p.fwhm for p in separate)  # narrower


def test_no_line_at_zero_field():
    # without a field the magnetization lies along the stripe: no AMR output, no line
    station = open_station(default_sim_station())
    station.field.set_field(0.0)
    station.shno_source.ramp_to(0.0)
    f, bg = sweep(station, start=10e6, stop=4e9)
    station.shno_source.ramp_to(2.0e-3)
    f, trace = sweep(station, start=10e6, stop=4e9)
    background = smooth_background(bg, f[1] - f[0])
    assert fit_spectrum(f, trace, 1e6, gain_db=32, background_dbm=background,
                        min_snr_db=0.5) == []
    assert max(station.sim.device.truth()["powers"]) < 1e-16
    station.ramp_down()
