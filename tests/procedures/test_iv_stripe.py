"""iv-stripe: the Joule-heating fit R(I) = R0 + a*I^2 recovers the device's stripe, with
honest uncertainties; resume continues the declared sweep and refuses another one."""

from __future__ import annotations

import numpy as np
import pytest

from labctl.config import default_sim_station
from labctl.errors import LimitError
from labctl.lab import open_lab
from labctl.runner import Runner
from labctl.station import open_station
from labctl.testing import outputs_at_zero, sim_station
from procedures.iv_stripe import IVStripe, fit_heating


@pytest.mark.parametrize("stripe", [{}, {"r0": 212.0, "r_quad": 5.5e6}])
def test_fit_recovers_the_simulated_stripe(tmp_path, stripe):
    with open_lab(config=sim_station(device=stripe)) as lab:
        truth = lab.station.sim.device.params
        result = lab.run("iv-stripe", {"i_start": -2.0e-3, "i_stop": 2.0e-3,
                                       "i_step": 100e-6}, out=tmp_path)
        assert outputs_at_zero(lab.station)
    assert result.completed, result.reason
    r = result.results
    assert r["points_fitted"] == 41 and r["r2"] > 0.9999
    assert r["r0"] == pytest.approx(truth.r0, rel=1e-4)
    assert r["heating"] == pytest.approx(truth.r_quad, rel=1e-2)
    assert np.isfinite(r["r0_err"]) and np.isfinite(r["heating_err"])


def test_uncertainties_cover_the_truth_as_often_as_one_sigma_should():
    rng = np.random.default_rng(7)
    currents = np.linspace(0, 2e-3, 41)
    r0, a, noise = 150.0, 2e6, 20e-6  # 20 µV of voltage noise
    inside = []
    for _ in range(400):
        v = r0 * currents + a * currents**3 + rng.normal(0, noise, currents.size)
        fit = fit_heating(currents, v)
        inside.append((abs(fit["r0"] - r0) < fit["r0_err"],
                       abs(fit["heating"] - a) < fit["heating_err"]))
    coverage = np.mean(inside, axis=0)
    assert np.all((coverage > 0.6) & (coverage < 0.76)), coverage  # 68 % expected


def test_fit_needs_three_currents():
    with pytest.raises(ValueError, match="at least 3"):
        fit_heating([0.0, 1e-3], [0.0, 0.15])


def test_resume_continues_the_sweep_and_refuses_another(tmp_path):
    path = tmp_path / "iv.h5"
    station = open_station(default_sim_station())
    runner = Runner(IVStripe(i_step=100e-6), station, path)
    runner.subscribe(lambda e: e.kind == "point" and e.data["index"] == 5 and
                     runner.abort("stop"))
    assert runner.run() == "aborted"
    other = Runner(IVStripe(i_step=200e-6), station, path, resume=True)
    assert other.run() == "failed"
    assert "resume: the current values in the file are not the first steps" in other.reason
    again = Runner(IVStripe(i_step=100e-6), station, path, resume=True)
    assert again.run() == "completed"
    assert again.rows == 21 and again.results["points_fitted"] == 21


def test_currents_are_held_to_the_station_limit():
    with pytest.raises(LimitError, match=r"i_stop = 3 mA: beyond the station's max "
                                         r"\|I_SHNO\| of 2\.5 mA"):
        IVStripe(i_stop=3e-3).check_station(default_sim_station())
    assert IVStripe.parameter("i_stop").maximum == 10e-3  # the hard ceiling, not a copy
