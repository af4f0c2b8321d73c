"""Shared pieces of the command line: station choice, exit codes, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from labctl.errors import UserInputError

if TYPE_CHECKING:
    from labctl.config import StationConfig

SIM_HELP = "use the built-in simulated probe station"
STATION_HELP = "station file (TOML) naming the instruments and their limits"


def choose_station(sim: bool, station: Path | None) -> StationConfig:
    """The station config from --sim or --station; exactly one must be given."""
    # imported here: pydantic is slow to import and `labctl inspect` must start fast
    from labctl.config import default_sim_station, load_station

    if sim and station is not None:
        raise UserInputError("give either --sim or --station FILE, not both")
    if sim:
        return default_sim_station()
    if station is None:
        raise UserInputError("no station: give --sim or --station FILE")
    return load_station(station)


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    typer.echo(f"labctl: error: {message}", err=True)
    raise typer.Exit(code)


def echo(message: str) -> None:
    typer.echo(message)
    sys.stdout.flush()
