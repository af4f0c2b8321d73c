"""field-sweep on the simulated station: the Kittel fit of the line vs field gives μ0Meff, g."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.constants import h, physical_constants

from labctl.analysis.kittel import kittel_frequency
from labctl.config import default_sim_station
from labctl.errors import LimitError, UserInputError
from labctl.runfile import read_info
from labctl.runner import Runner
from labctl.sim.params import DeviceParams
from labctl.station import open_station
from labctl.testing import sim_station
from procedures.catalog import procedure_class
from procedures.field_sweep import FieldSweep, fit_kittel_with_offset

I_SHNO = 2.0e-3  # A: the seeded chain is fully locked here: one strong line at every field


def test_catalog_and_default_tilt_match_the_simulator():
    assert procedure_class("field-sweep") is FieldSweep
    assert FieldSweep.parameter("theta_h").default == DeviceParams().tilt_deg


def test_offset_fit_removes_a_constant_nonlinear_shift():
    theta = math.radians(75.0)
    b = np.linspace(0.5, 0.8, 13)
    f = kittel_frequency(b, theta, 0.42, 28.2e9) - 300e6
    f += np.random.default_rng(3).normal(0, 2e6, b.size)
    fit, offset = fit_kittel_with_offset(b, f, theta)
    assert fit.meff == pytest.approx(0.42, rel=0.01)
    assert fit.gamma == pytest.approx(28.2e9, rel=0.01)
    assert offset == pytest.approx(-300e6, abs=30e6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovers_meff_and_g_within_two_percent_with_uncertainties(tmp_path, seed):
    config = sim_station(seed=seed)
    station = open_station(config)
    proc = FieldSweep(i_shno=I_SHNO)
    path = tmp_path / "field.h5"
    runner = Runner(proc, station, path)
    runner.run()
    assert runner.status == "completed", runner.reason
    truth = station.sim.device.truth()
    res = runner.results
    assert res["points_fitted"] == proc.planned_points() == 13
    for name in ("meff", "gamma"):
        assert res[name] == pytest.approx(truth[name], rel=0.02)
        # statistical 1 sigma; the nonlinear shift's field dependence adds ~1 % systematic,
        # which the results say in words
        assert 0 < res[f"{name}_err"] < 0.01 * truth[name]
    assert any("systematic" in note for note in res["kittel_info"])
    g_true = truth["gamma"] * h / physical_constants["Bohr magneton"][0]
    assert res["g_factor"] == pytest.approx(g_true, rel=0.02)
    # the offset absorbs the nonlinear shift, the Joule drift and the chain's offset
    assert -400e6 < res["frequency_offset"] < 100e6 and res["frequency_offset_err"] > 0

    info = read_info(path)
    assert info["rows"]["point"] == 13 and info["rows"]["background"] == 1
    assert info["results"]["meff"] == pytest.approx(res["meff"])
    summary = proc.summarize(res)
    assert "Meff" in summary[0] and " ± " in summary[0]


def test_checks_limits_and_parameters_before_anything_runs():
    with pytest.raises(LimitError, match="b_stop"):
        FieldSweep(b_stop=1.0).check_station(default_sim_station())
    with pytest.raises(LimitError, match="i_shno"):
        FieldSweep(i_shno=3e-3).check_station(default_sim_station())
    with pytest.raises(UserInputError, match="cross zero"):
        FieldSweep(b_start=-0.2, b_stop=0.2)
