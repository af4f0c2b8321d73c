"""GUI tests: a run of every procedure (small, on the simulated station), made once per session;
Qt settings in a scratch folder so that a test never reads or writes the user's layout."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import QCoreApplication, QSettings

from labctl.config import default_sim_station
from labctl.registry import procedure_class
from labctl.runner import Runner
from labctl.station import open_station

# small but realistic: the default device, the default analyzer span, spectra of 2001 points
SMALL_RUNS = {
    "freq-current": {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 100e-6, "points": 2001},
    "field-sweep": {"b_start": 0.55, "b_stop": 0.8, "b_step": 0.05, "points": 2001},
    "sync-map": {"gate_voltages": [0.0, 1.5], "i_start": 0.8e-3, "i_stop": 2.2e-3,
                 "i_step": 200e-6, "points": 2001},
    "memristor-cycles": {"cycles": 3, "v_step": 0.25},
    "memristor-program": {},
    "memristor-retention": {"duration": 600.0, "interval": 60.0},
    "iv-stripe": {"i_stop": 2.0e-3, "i_step": 100e-6},
}


@pytest.fixture(scope="session")
def runs_of_every_procedure(tmp_path_factory) -> dict:
    """{procedure name: path of a completed run file}."""
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for name, values in SMALL_RUNS.items():
        path = folder / f"{name}.h5"
        runner = Runner(procedure_class(name)(**values), open_station(default_sim_station()),
                        path)
        assert runner.run() == "completed", runner.reason
        out[name] = path
    return out


@pytest.fixture(autouse=True)
def scratch_settings(tmp_path):
    """QSettings (window layout, theme) in this test's folder."""
    QCoreApplication.setOrganizationName("labctl-tests")
    QCoreApplication.setApplicationName("labctl-gui-tests")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def window_on(qtbot, tmp_path):
    """``window_on(lab)``: the main window on ``lab``, shown, runs going to this test's folder;
    closed at the end without ramping down (whoever opened the lab closes it)."""
    from gui.window import MainWindow

    windows = []

    def make(lab):
        w = MainWindow(lab)
        qtbot.addWidget(w)
        w.launcher.out.setText(str(tmp_path / "runs"))
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w._outputs_down = True
        w.close()
