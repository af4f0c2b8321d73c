"""Entry point of the ``labctl`` command."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from labctl import __version__
from labctl.cli.common import SIM_HELP, STATION_HELP, choose_station, echo, fail
from labctl.cli.help_text import Group, version_callback
from labctl.errors import LabctlError
from labctl.registry import procedure_class

app = typer.Typer(cls=Group, add_completion=False, pretty_exceptions_enable=False,
                  no_args_is_help=True,
                  help="Instrument control for memristor-gated spin Hall nano-oscillators.")
station_app = typer.Typer(cls=Group, help="Inspect the station's instruments.",
                          no_args_is_help=True)
app.add_typer(station_app, name="station")

Sim = Annotated[bool, typer.Option("--sim", help=SIM_HELP)]
StationFile = Annotated[Path | None, typer.Option("--station", help=STATION_HELP,
                                                  metavar="FILE")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="check everything, print the plan and how long it will take; "
    "no instrument is touched")]


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=version_callback, is_eager=True,
        help="print the version and exit")] = False) -> None:
    """Instrument control for memristor-gated spin Hall nano-oscillators."""


@app.command("procedures")
def procedures_cmd() -> None:
    """List the procedures."""
    from labctl.registry import available_procedures

    for name in available_procedures():
        echo(f"{name:22s} {procedure_class(name).title}")


def _parse_sets(sets: list[str]) -> dict[str, str]:
    out = {}
    for item in sets:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise_input(f"--set {item!r}: expected NAME=VALUE")
        if name.strip() in out:  # which one was meant cannot be guessed
            raise_input(f"--set {name.strip()}: given twice ({out[name.strip()]!r} and "
                        f"{value.strip()!r})")
        out[name.strip()] = value.strip()
    return out


def raise_input(message: str) -> None:
    from labctl.errors import UserInputError

    raise UserInputError(message)


Meta = {
    "sample": "sample (wafer, chip) measured",
    "device": "device on the sample",
    "operator": "who measures",
    "comment": "free comment stored with the run",
}
Sample = Annotated[str, typer.Option("--sample", help=Meta["sample"], metavar="TEXT")]
Device = Annotated[str, typer.Option("--device", help=Meta["device"], metavar="TEXT")]
Operator = Annotated[str, typer.Option("--operator", help=Meta["operator"], metavar="TEXT")]
Comment = Annotated[str, typer.Option("--comment", help=Meta["comment"], metavar="TEXT")]


@app.command("run", context_settings={"help_option_names": []})
def run_cmd(
    ctx: typer.Context,
    procedure: Annotated[str | None, typer.Argument(
        help="procedure (labctl procedures)", metavar="PROCEDURE", show_default=False)] = None,
    sim: Sim = False,
    station: StationFile = None,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE", help="a parameter: 2.2mA, 650 mT, [0, -1 V] or bare SI "
        "(labctl run PROCEDURE --help lists them)")] = None,
    dry_run: DryRun = False,
    out: Annotated[Path, typer.Option("--out", help="folder for the run file",
                                      metavar="DIR")] = Path("runs"),
    sample: Sample = "",
    device: Device = "",
    operator: Operator = "",
    comment: Comment = "",
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    show_help: Annotated[bool, typer.Option(
        "--help", "-h", help="show the procedure's parameters (with --sim or --station: the "
        "station's limits)")] = False,
) -> None:
    """Run one procedure; the run file's path is printed on the last line."""
    from labctl.cli.help_text import procedure_help
    from labctl.cli.plan_cmd import print_run_plan
    from labctl.cli.run_cmd import run_procedure
    from labctl.diskspace import check_output
    from labctl.lab import default_run_path, open_lab

    if procedure is None:
        echo(ctx.get_help())
        raise typer.Exit(0 if show_help else 2)
    cls = procedure_class(procedure)
    if show_help:
        config = choose_station(sim, station) if sim or station is not None else None
        echo(procedure_help(cls, config))
        return
    proc = cls.from_text(_parse_sets(sets or []))
    config = choose_station(sim, station)
    proc.check_station(config)  # bad input: nothing is opened, nothing is sent
    path = default_run_path(out, procedure)
    check_output(path, proc.schema(), proc.planned_points())  # a folder with room for it
    if dry_run:
        print_run_plan(proc, config, dry_run=True)
        return
    metadata = {"sample": sample, "device": device, "operator": operator, "comment": comment}
    with open_lab(config=config) as lab:  # a station in use: refused in one line, first
        print_run_plan(proc, config, dry_run=False, quiet=quiet)
        handle = run_procedure(lab, proc, path, progress=not quiet, metadata=metadata)
    _report(handle, proc)


def _report(handle, proc) -> None:
    echo(f"status: {handle.status} ({handle.reason})")
    for line in proc.summarize(handle.results):
        echo(line)
    echo(str(handle.path))
    if handle.status != "completed":
        raise typer.Exit(130 if "SIGINT" in handle.reason else 1)


@app.command("resume")
def resume_cmd(
    runfile: Annotated[Path, typer.Argument(
        help="run file of an interrupted run", metavar="RUNFILE")],
    sim: Sim = False,
    station: StationFile = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Continue an interrupted run from its last complete point, into the same file."""
    from labctl.cli.plan_cmd import print_resume_plan
    from labctl.cli.run_cmd import run_procedure
    from labctl.diskspace import check_output
    from labctl.lab import open_lab
    from labctl.resuming import resumable_procedure, resume_station

    proc = resumable_procedure(runfile)  # the file first: status, layout, procedure
    config = resume_station(runfile, station, sim)  # a stored real station is never trusted
    proc.check_station(config)
    check_output(runfile, proc.schema(), proc.planned_points(), resume=True)
    if not quiet:
        print_resume_plan(proc, config, runfile)
    with open_lab(config=config) as lab:
        handle = run_procedure(lab, proc, runfile, resume=True, progress=not quiet)
    _report(handle, proc)


@app.command("inspect")
def inspect_cmd(
    runfile: Annotated[Path, typer.Argument(help="a run file, or a folder: a table of its runs",
                                            metavar="PATH")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """What a run is (procedure, parameters, status, points, duration) without its data; for a
    folder, one line per run."""
    from labctl.cli.inspect_cmd import describe, read_run, runs_table

    if runfile.is_dir():
        lines, infos = runs_table(runfile)
        if as_json:
            echo(json.dumps([{k: v for k, v in i.items() if k != "schema"} for i in infos],
                            indent=2, default=str))
        else:
            echo("\n".join(lines) if infos else f"no run files in '{runfile}'")
        return
    info = read_run(runfile)
    if as_json:
        info.pop("schema", None)
        echo(json.dumps(info, indent=2, default=str))
    else:
        echo(describe(info))


@app.command("replay")
def replay_cmd(
    runfile: Annotated[Path, typer.Argument(help="run file", metavar="RUNFILE")],
    speed: Annotated[float | None, typer.Option("--speed", help="rows per second")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Replay a recorded run as events (as a live run would publish them)."""
    from labctl.cli.inspect_cmd import ReplayPrinter
    from labctl.events import EventBus
    from labctl.replay import replay

    if speed is not None and not speed > 0:
        raise_input(f"--speed {speed:g}: must be a positive number of rows per second")
    bus = EventBus()
    printer = ReplayPrinter(enabled=not quiet)
    bus.subscribe(printer)
    finished = replay(runfile, bus, speed=speed)
    echo(f"replayed {finished['rows']} points; status {finished['status']}: "
         f"{finished['reason']}")


@app.command("safe")
def safe_cmd(sim: Sim = False, station: StationFile = None) -> None:
    """Ramp every output of a station to zero (after a crash left them on)."""
    from labctl.lab import open_lab
    from labctl.station_check import safe_report

    config = choose_station(sim, station)
    with open_lab(config=config) as lab:  # refused while another process owns the station
        failures = lab.ramp_down()
        for line in safe_report(lab.station, failures):
            echo(line)
    if failures:
        fail("; ".join(failures), code=1)


@station_app.command("check")
def station_check_cmd(sim: Sim = False, station: StationFile = None) -> None:
    """Ask every instrument its state (nothing is changed) and say what a run would change."""
    from labctl.station_check import check_station_config

    # asks only: the station is locked while it is asked, and released with nothing ramped
    text, failed = check_station_config(choose_station(sim, station))
    echo(text)
    if failed:
        fail(f"station check: {', '.join(failed)} did not answer as expected", code=1)


@station_app.command("list")
def station_list_cmd(
    backend: Annotated[str, typer.Option("--backend", help="pyvisa backend, e.g. @py")] = "",
) -> None:
    """List the VISA resources pyvisa can see (addresses for the station file)."""
    from labctl.station_check import visa_resources

    found = visa_resources(backend)
    for name, alias in found:
        echo(f"{name}" + (f"    ({alias})" if alias else ""))
    if not found:
        echo("no VISA resources found")


@app.command("queue")
def queue_cmd(
    file: Annotated[Path, typer.Argument(help="queue file (TOML)", metavar="FILE")],
    resume: Annotated[bool, typer.Option("--resume", help="carry on after a crash")] = False,
    sim: Annotated[bool, typer.Option(
        "--sim", help="run it on the built-in simulated station, whatever station the file "
        "names (run files go to <out>-sim)")] = False,
    dry_run: DryRun = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Run an overnight queue of procedures and nested sweeps; progress survives crashes."""
    from labctl.cli.queue_cmd import run_queue_file

    raise typer.Exit(run_queue_file(file, resume=resume, quiet=quiet, sim=sim,
                                    dry_run=dry_run))


@app.command("bench")
def bench_cmd(
    kind: Annotated[str, typer.Argument(
        help="storage | inspect | freq-current | spectrum | gui | all")]
    = "all",
    points: Annotated[int | None, typer.Option("--points", help="points per run")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="folder for scratch files")] = None,
) -> None:
    """Measure throughput (points/s, MB/s) and peak memory as a run grows."""
    from labctl.cli.bench_cmd import run_bench

    raise typer.Exit(run_bench(kind, points=points, out=out))


@app.command("gui")
def gui_cmd(
    runfiles: Annotated[list[Path] | None, typer.Argument(help="run files or folders to browse")]
    = None,
    sim: Sim = False,
    station: StationFile = None,
) -> None:
    """The probe-station GUI; with run files and no station, only the browser (no instrument)."""
    from labctl.cli.common import choose_station

    if sim or station is not None:
        choose_station(sim, station)  # a bad station file: one line, before any window opens
    for p in runfiles or []:
        if not p.exists():
            raise_input(f"run file '{p}': no such file or folder")
    from gui.app import run_gui

    raise typer.Exit(run_gui(list(runfiles or []), sim=sim, station=station))


@app.command("plot")
def plot_cmd(
    runs: Annotated[list[Path], typer.Argument(help="run files or folders of runs")],
    out: Annotated[Path | None, typer.Option("--out", help="folder for the figures "
                                             "(default: next to each run)")] = None,
    formats: Annotated[str, typer.Option("--format", help="png, pdf or png,pdf")] = "png,pdf",
) -> None:
    """Write the standard figures of runs (PNG and PDF), drawn as the GUI draws them."""
    from gui.export import export_run

    files = []
    for p in runs:
        if not p.exists():
            raise_input(f"run file '{p}': no such file or folder")
        files.extend(sorted(p.glob("*.h5")) if p.is_dir() else [p])
    kinds = tuple(f.strip() for f in formats.split(",") if f.strip())
    for f in files:
        for figure in export_run(f, out, kinds):
            for written in figure.files:
                echo(str(written))


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every LabctlError becomes one line on stderr with its exit code."""
    # run warnings reach the terminal through the progress bar (run events), not twice
    logging.getLogger("labctl").addHandler(logging.NullHandler())
    logging.getLogger("procedures").addHandler(logging.NullHandler())
    try:
        code = app(args=argv, prog_name="labctl", standalone_mode=False)
        if isinstance(code, int):
            return code
    except LabctlError as err:
        typer.echo(f"labctl: error: {err}", err=True)
        return err.exit_code
    except typer.Exit as ex:
        return ex.exit_code
    except KeyboardInterrupt:
        typer.echo("labctl: interrupted", err=True)
        return 130
    except typer.Abort:
        return 130
    except _USAGE_ERROR as err:  # usage mistakes: one line, exit 2
        typer.echo(f"labctl: error: {err.format_message()}", err=True)
        return 2
    return 0


def _usage_error_class() -> type[Exception]:
    """Click's ClickException, whether typer uses click or its own vendored copy."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException":
            return cls
    return typer.BadParameter


_USAGE_ERROR = _usage_error_class()


if __name__ == "__main__":
    sys.exit(main())
