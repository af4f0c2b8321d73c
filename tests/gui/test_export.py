"""`labctl plot` writes the standard figures of a run of every procedure, with units on the axes."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtGui import QImage

from gui.export import export_run
from labctl.cli.main import main

# the figures each procedure must get, and the units their main axes must carry
EXPECTED = {
    "freq-current": {"map": {"A", "Hz"}, "peaks": {"A", "Hz", "W"}, "threshold": {"A", "pW"},
                     "scalars": {"A", "Ω"}},
    "field-sweep": {"map": {"T", "Hz"}, "peaks": {"T", "Hz"}, "kittel": {"T", "Hz"}},
    "sync-map": {"map": {"Hz"}, "sync-map": {"A"}, "peaks": {"A", "Hz"}},
    "memristor-cycles": {"loops": {"V", "A"}, "cycles": {"Ω"}},
    "memristor-program": {"scalars": {"Ω"}},
    "memristor-retention": {"scalars": {"s", "Ω"}},
    "iv-stripe": {"scalars": {"A", "Ω"}},
}


def distinct_colours(path) -> int:
    image = QImage(str(path))
    step = 7
    return len({image.pixel(x, y) for x in range(0, image.width(), step)
                for y in range(0, image.height(), step)})


@pytest.mark.parametrize("procedure", sorted(EXPECTED))
def test_figures_of_every_procedure(qapp, runs_of_every_procedure, tmp_path, procedure):
    figures = export_run(runs_of_every_procedure[procedure], tmp_path)
    kinds = {f.kind for f in figures}
    assert set(EXPECTED[procedure]) <= kinds
    for figure in figures:
        png, pdf = figure.files
        assert png.suffix == ".png" and pdf.suffix == ".pdf"
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000
        image = QImage(str(png))
        assert image.width() >= 1000 and image.height() >= 600
        assert distinct_colours(png) > 10, f"{png.name} looks empty"
        units = {unit for _, _, _, unit in figure.axes}
        labels = [text for _, _, text, _ in figure.axes]
        assert all(labels), figure.axes
        assert EXPECTED[procedure].get(figure.kind, set()) <= units, (figure.kind, figure.axes)


def test_plot_command_writes_a_folder_of_runs(qapp, runs_of_every_procedure, tmp_path, capsys):
    folder = runs_of_every_procedure["freq-current"].parent
    assert main(["plot", str(folder), "--out", str(tmp_path / "fig"), "--format", "png"]) == 0
    written = capsys.readouterr().out.split()
    assert len(written) >= sum(len(v) for v in EXPECTED.values())
    assert all(w.endswith(".png") for w in written)
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == sorted(
        w.rsplit("/", 1)[-1] for w in written)


def test_plot_command_refuses_bad_input(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err
    not_a_run = tmp_path / "x.h5"
    not_a_run.write_bytes(b"nonsense")
    assert main(["plot", str(not_a_run)]) == 2
    assert main(["plot", str(not_a_run), "--format", "svg"]) == 2
    assert "svg" in capsys.readouterr().err


def test_a_queue_with_plots_writes_each_runs_figures(tmp_path, capsys):
    queue = tmp_path / "night.toml"
    queue.write_text('station = "sim"\nout = "night"\nplots = true\n'
                     '[[run]]\nprocedure = "memristor-cycles"\nset = { cycles = 2, v_step = 0.5 }\n'
                     '[[run]]\nprocedure = "freq-current"\n'
                     'set = { i_start = 1.0e-3, i_stop = 2.0e-3, i_step = 250e-6, '
                     'points = 1001 }\n',
                     encoding="utf-8")
    assert main(["queue", str(queue), "--quiet"]) == 0
    figures = tmp_path / "night" / "figures"
    names = sorted(p.name for p in figures.glob("*.png"))
    assert "001_memristor-cycles_loops.png" in names and "002_freq-current_map.png" in names
    assert all(p.stat().st_size > 10_000 for p in figures.glob("*.png"))
    assert len(list(figures.glob("*.pdf"))) == len(names)


def test_plots_must_be_a_boolean(tmp_path, capsys):
    queue = tmp_path / "bad.toml"
    queue.write_text('station = "sim"\nout = "x"\nplots = "yes"\n[[run]]\n'
                     'procedure = "memristor-cycles"\n', encoding="utf-8")
    assert main(["queue", str(queue)]) == 2
    assert "plots = 'yes'" in capsys.readouterr().err


def test_the_threshold_figure_shows_the_runs_own_analysis(qapp, runs_of_every_procedure):
    # the number printed at the end of the run, its 1 sigma band and its verdict, over the
    # power the analysis summed (near the lines): flat below the onset, growing above it
    from gui.plotdefs import THRESHOLD, plots_for
    from gui.plots import make_plot
    from gui.plots.xy import line_power
    from gui.runreader import read_run

    data = read_run(runs_of_every_procedure["freq-current"])
    defn = next(d for d in plots_for(data.schema) if d.kind == THRESHOLD)
    plot = make_plot(defn)
    plot.bind(data)
    plot.redraw()
    i_th, err = data.results["threshold_current"], data.results["threshold_current_err"]
    assert plot.marker.value() == pytest.approx(i_th)
    assert plot.band.getRegion() == pytest.approx((i_th - err, i_th + err))
    title = plot.title.text
    assert "I_th = " in title and data.results["threshold_quality"] in title
    current = data.rows[data.schema.main.name].column("current")
    power, label = line_power(data, current)
    assert label == "power near the lines"
    below, above = power[current < i_th - 3 * err], power[current > i_th + 0.4e-3]
    assert below.size >= 2 and above.size >= 3
    assert above.min() > 5 * np.abs(below).max()
    plot.close()
