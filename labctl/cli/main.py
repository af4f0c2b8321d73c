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
from labctl.errors import LabctlError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  no_args_is_help=True,
                  help="Instrument control for memristor-gated spin Hall nano-oscillators.")
station_app = typer.Typer(help="Inspect the station's instruments.", no_args_is_help=True)
app.add_typer(station_app, name="station")

Sim = Annotated[bool, typer.Option("--sim", help=SIM_HELP)]
StationFile = Annotated[Path | None, typer.Option("--station", help=STATION_HELP)]


@app.command("procedures")
def procedures_cmd() -> None:
    """List the procedures."""
    from labctl.registry import available_procedures as available
    from labctl.registry import procedure_class

    for name in available():
        echo(f"{name:22s} {procedure_class(name).title}")


def _procedure_help(name: str) -> None:
    from labctl.registry import procedure_class

    cls = procedure_class(name)
    echo(f"labctl run {name} [--sim | --station FILE] [--set NAME=VALUE ...] [--out DIR]")
    echo(f"\n{cls.title}\n\nParameters (SI units):")
    for p in cls.parameters:
        rng = ""
        if p.minimum is not None or p.maximum is not None:
            lo = "" if p.minimum is None else f"{p.minimum:g}"
            hi = "" if p.maximum is None else f"{p.maximum:g}"
            rng = f" [{lo}..{hi}]"
        if p.choices:
            rng = f" {{{'|'.join(p.choices)}}}"
        default = ",".join(f"{v:g}" for v in p.default) if p.kind is list else p.default
        echo(f"  {p.name:16s} {p.unit:4s} default {default}{rng}  {p.description}")


def _parse_sets(sets: list[str]) -> dict[str, str]:
    out = {}
    for item in sets:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise_input(f"--set {item!r}: expected NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def raise_input(message: str) -> None:
    from labctl.errors import UserInputError

    raise UserInputError(message)


@app.command("run", context_settings={"help_option_names": []})
def run_cmd(
    ctx: typer.Context,
    procedure: Annotated[str | None, typer.Argument(help="procedure (labctl procedures)")] = None,
    sim: Sim = False,
    station: StationFile = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="NAME=VALUE (SI)")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for the run file")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    show_help: Annotated[bool, typer.Option("--help", "-h", help="show parameters")] = False,
) -> None:
    """Run one procedure; the run file's path is printed on the last line."""
    from labctl.cli.run_cmd import default_run_path, run_procedure
    from labctl.registry import procedure_class

    if procedure is None:
        echo(ctx.get_help())
        raise typer.Exit(0 if show_help else 2)
    if show_help:
        _procedure_help(procedure)
        return
    cls = procedure_class(procedure)
    proc = cls.from_text(_parse_sets(sets or []))
    config = choose_station(sim, station)
    path = default_run_path(out, procedure)
    runner = run_procedure(proc, config, path, progress=not quiet)
    _report(runner, proc)


def _report(runner, proc) -> None:
    echo(f"status: {runner.status} ({runner.reason})")
    for line in proc.summarize(runner.results):
        echo(line)
    echo(str(runner.path))
    if runner.status != "completed":
        raise typer.Exit(130 if "SIGINT" in runner.reason else 1)


@app.command("resume")
def resume_cmd(
    runfile: Annotated[Path, typer.Argument(help="run file of an interrupted run")],
    station: StationFile = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Continue an interrupted run from its last complete point, into the same file."""
    from labctl.cli.run_cmd import run_procedure
    from labctl.config import load_station, parse_station
    from labctl.registry import procedure_class
    from labctl.runfile import attr_json, attr_text, open_run

    with open_run(runfile) as f:
        name = attr_text(f, "procedure")
        params = attr_json(f, "parameters", {})
        stored_station = attr_json(f, "station", None)
    if station is not None:
        config = load_station(station)
    else:
        if not isinstance(stored_station, dict):
            fail(f"run file '{runfile}': no station stored; give --station FILE")
        stored_station = {k: v for k, v in stored_station.items() if k != "source"}
        config = parse_station(stored_station, f"station stored in '{runfile}'")
    proc = procedure_class(name)(**params)
    runner = run_procedure(proc, config, runfile, resume=True, progress=not quiet)
    _report(runner, proc)


@app.command("inspect")
def inspect_cmd(
    runfile: Annotated[Path, typer.Argument(help="run file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print what a run is (procedure, parameters, status, points, duration) without its data."""
    from labctl.cli.inspect_cmd import describe
    from labctl.runfile import read_info

    info = read_info(runfile)
    if as_json:
        info.pop("schema", None)
        echo(json.dumps(info, indent=2, default=str))
    else:
        echo(describe(info))


@app.command("replay")
def replay_cmd(
    runfile: Annotated[Path, typer.Argument(help="run file")],
    speed: Annotated[float | None, typer.Option("--speed", help="rows per second")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Replay a recorded run as events (as a live run would publish them)."""
    from labctl.cli.inspect_cmd import ReplayPrinter
    from labctl.events import EventBus
    from labctl.replay import replay

    bus = EventBus()
    printer = ReplayPrinter(enabled=not quiet)
    bus.subscribe(printer)
    finished = replay(runfile, bus, speed=speed)
    echo(f"replayed {finished['rows']} points; status {finished['status']}: "
         f"{finished['reason']}")


@app.command("safe")
def safe_cmd(sim: Sim = False, station: StationFile = None) -> None:
    """Ramp every output of a station to zero (after a crash left them on)."""
    from labctl.station import open_station

    config = choose_station(sim, station)
    st = open_station(config)
    failures = st.ramp_down()
    for name in st.roles:
        echo(f"{name:12s} ramped down" if not any(f.startswith(name) for f in failures)
             else f"{name:12s} FAILED")
    if failures:
        fail("; ".join(failures), code=1)


@station_app.command("check")
def station_check_cmd(sim: Sim = False, station: StationFile = None) -> None:
    """Connect, print each role's identity, read-backs and limits."""
    from labctl.cli.inspect_cmd import station_report
    from labctl.station import open_station

    config = choose_station(sim, station)
    st = open_station(config)
    echo(station_report(st))


@app.command("queue")
def queue_cmd(
    file: Annotated[Path, typer.Argument(help="queue file (TOML)")],
    resume: Annotated[bool, typer.Option("--resume", help="carry on after a crash")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Run an overnight queue of procedures and nested sweeps; progress survives crashes."""
    from labctl.cli.queue_cmd import run_queue_file

    raise typer.Exit(run_queue_file(file, resume=resume, quiet=quiet))


@app.command("bench")
def bench_cmd(
    kind: Annotated[str, typer.Argument(help="storage | inspect | freq-current | spectrum | all")]
    = "all",
    points: Annotated[int | None, typer.Option("--points", help="points per run")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="folder for scratch files")] = None,
) -> None:
    """Measure throughput (points/s, MB/s) and peak memory as a run grows."""
    from labctl.cli.bench_cmd import run_bench

    raise typer.Exit(run_bench(kind, points=points, out=out))


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
