"""What starting a run needs: a procedure from a name, class or instance, a path for its
file, and the procedure and station a run file was recorded with (to resume it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from labctl.config import StationConfig, parse_station
from labctl.errors import UserInputError
from labctl.procedure import Procedure
from labctl.registry import procedure_class
from labctl.runreader import attr_json, attr_text, open_run


def default_run_path(out: str | Path, procedure: str) -> Path:
    """``<out>/<date-time>_<procedure>.h5``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return Path(out) / f"{stamp}_{procedure}.h5"


def stored_run(path: str | Path) -> tuple[Procedure, StationConfig | None]:
    """The procedure (with its parameters) and the station a run file was recorded with."""
    with open_run(path) as f:
        name = attr_text(f, "procedure")
        params = attr_json(f, "parameters", {})
        station = attr_json(f, "station", None)
    config = None
    if isinstance(station, dict):
        source = station.pop("source", "")
        config = parse_station(station, f"station stored in '{path}'")
        if source:  # the station it was: the same station lock
            config = config.model_copy(update={"source": source})
    return procedure_class(name)(**params), config


def make_procedure(procedure: str | type[Procedure] | Procedure,
                   parameters: dict[str, Any] | None = None) -> Procedure:
    """A procedure instance from a name, a class or an instance, with ``parameters``."""
    if isinstance(procedure, Procedure):
        if parameters:
            raise UserInputError(f"{procedure.name}: give parameters to the class or name, "
                                 "not with an instance")
        return procedure
    cls = procedure_class(procedure) if isinstance(procedure, str) else procedure
    if not (isinstance(cls, type) and issubclass(cls, Procedure)):
        raise UserInputError(f"{procedure!r} is not a procedure (a name, class or instance)")
    values = {}
    for name, value in (parameters or {}).items():
        p = cls.parameter(name)
        values[name] = p.parse(value) if isinstance(value, str) and p.kind is not str else value
    return cls(**values)
