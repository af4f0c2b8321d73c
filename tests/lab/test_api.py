"""The public API: `import labctl` is cheap; open_lab and load_run come on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import labctl


def test_import_labctl_loads_neither_the_lab_nor_hdf5():
    code = ("import sys, labctl; print(sorted(m for m in ('labctl.lab', 'labctl.dataset', "
            "'h5py', 'numpy', 'pyvisa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_lazy_names_are_the_real_objects():
    from labctl.dataset import load_run
    from labctl.lab import Lab, open_lab

    assert labctl.open_lab is open_lab and labctl.load_run is load_run and labctl.Lab is Lab
    assert {"open_lab", "load_run"} <= set(dir(labctl))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        labctl.nope  # noqa: B018


def test_open_lab_needs_exactly_one_station():
    from labctl.errors import UserInputError

    with pytest.raises(UserInputError, match="exactly one"):
        labctl.open_lab()
    with pytest.raises(UserInputError, match="exactly one"):
        labctl.open_lab("lab.toml", sim=True)


def test_procedures_by_name_class_or_instance_with_text_values(tmp_path):
    from labctl.errors import UserInputError
    from labctl.lab import make_procedure
    from procedures.freq_current import FreqCurrent

    a = make_procedure("freq-current", {"i_stop": "2 mA", "points": 2001})
    b = make_procedure(FreqCurrent, {"i_stop": 2e-3, "points": 2001})
    assert a.values == b.values == make_procedure(b).values
    with pytest.raises(UserInputError, match="not with an instance"):
        make_procedure(b, {"points": 11})
    with pytest.raises(UserInputError, match="not a unit of A"):
        make_procedure("freq-current", {"i_stop": "2 V"})
