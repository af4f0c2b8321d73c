"""What a resume must know before anything is opened: that the run file can be resumed, the
procedure it records, and the station to resume it on.

A run file is untrusted input. Its status and layout are checked first; the station stored in
it is used only if it is simulated: a file that says ``simulated = false`` never makes labctl
open the instrument addresses it names (``--station FILE`` must say so).
"""

from __future__ import annotations

from pathlib import Path

from labctl.config import StationConfig, default_sim_station, load_station, parse_station
from labctl.errors import RunFileError, UserInputError
from labctl.procedure import Procedure
from labctl.registry import procedure_class
from labctl.runlayout import COMPLETED
from labctl.runreader import attr_json, open_run, read_info


def resumable_procedure(path: str | Path) -> Procedure:
    """The procedure of an unfinished run, with its parameters; one line if it cannot be."""
    info = read_info(path)  # status, schema and layout checked
    where = f"run file '{path}'"
    if info["status"] == COMPLETED:
        raise RunFileError(f"{where}: run already completed, nothing to resume")
    params = info["parameters"]
    if not isinstance(params, dict):
        raise RunFileError(f"{where}: parameters attribute is not a table of values")
    try:
        proc = procedure_class(info["procedure"])(**params)
    except UserInputError as err:
        raise RunFileError(f"{where}: {err}") from None
    if _layout(proc.schema().to_json()) != _layout(info["schema"]):
        raise RunFileError(f"{where}: its layout is not what {proc.name} writes with these "
                           "parameters (recorded by another labctl version?)")
    return proc


def resume_station(path: str | Path, station: str | Path | None = None,
                   sim: bool = False) -> StationConfig:
    """The station to resume on: ``--station``, ``--sim``, or the one stored if simulated."""
    if station is not None and sim:
        raise UserInputError("give either --sim or --station FILE, not both")
    if station is not None:
        return load_station(station)
    if sim:
        return default_sim_station()
    with open_run(path) as f:
        stored = attr_json(f, "station", None)
    where = f"run file '{path}'"
    if not isinstance(stored, dict):
        raise UserInputError(f"{where}: no station stored; give --station FILE or --sim")
    source = stored.pop("source", "")
    config = parse_station(stored, f"station stored in '{path}'")
    if not config.simulated:
        raise UserInputError(
            f"{where}: measured on real instruments (station '{config.name}'); give "
            "--station FILE to resume it there (a station stored in a run file never opens "
            "instruments by itself)")
    if isinstance(source, str) and source:  # the same station: the same station lock
        config = config.model_copy(update={"source": source})
    return config


def _layout(schema: dict) -> tuple:
    """What a resume must find unchanged: streams, quantities (dtype, dims), axis lengths.
    Units, descriptions and the swept quantity may differ (the rebuilt file takes the
    procedure's present ones), so files of an earlier labctl still resume."""
    streams = tuple((s["name"], tuple((q["name"], q["dtype"], tuple(q["dims"]))
                                      for q in s["quantities"])) for s in schema["streams"])
    return streams, tuple((a["name"], a["length"]) for a in schema["axes"])
