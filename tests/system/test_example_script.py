"""The README's overnight example script runs on the simulated station and its results load
back as xarray Datasets with the swept current as a coordinate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import labctl

pytestmark = pytest.mark.system
EXAMPLE = Path(__file__).parents[2] / "examples" / "overnight_sweep.py"


def test_overnight_example_leaves_three_completed_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--sim", "--out", "night",
                           "--sample", "W7-B3"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    runs = sorted((tmp_path / "night").glob("*_freq-current.h5"))
    assert len(runs) == 3
    programmed = sorted((tmp_path / "night" / "programming").glob("*.h5"))
    assert len(programmed) == 3
    comments = []
    for path in runs:
        ds = labctl.load_run(path)
        assert ds.attrs["status"] == "completed"
        assert "current" in ds.coords and ds.current.dims == ("point",)
        np.testing.assert_allclose(ds.current.values[[0, -1]], [0.6e-3, 2.2e-3])
        assert ds.current.attrs["units"] == "A"
        assert ds.trace.dims == ("point", "frequency")
        assert ds.attrs["sample"] == "W7-B3"
        comments.append(ds.attrs["comment"])
        # what ds.trace.plot(x="current", y="frequency") needs: current labels the rows
        by_current = ds.trace.swap_dims(point="current")
        assert by_current.sel(current=1.0e-3, method="nearest").dims == ("frequency",)
    assert [c.split(",")[0] for c in comments] == ["memristor HRS", "memristor 20 kohm",
                                                   "memristor 5 kohm"]
