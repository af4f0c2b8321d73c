"""The station file (TOML): which instrument plays which role, and each role's safety limits.

Every mistake in a station file becomes one ConfigError line that names the file, the key
and the value; nothing is connected before the whole file has been validated.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labctl.errors import ConfigError
from labctl.field_calibration import Calibration
from labctl.power_up import PowerUpConfig

# Hard ceilings no station file may exceed: protection against a typo in a unit
# (2.5 instead of 2.5e-3) on a device that burns out at a few mA.
CEILING_SHNO_CURRENT = 10e-3  # A
CEILING_GATE_VOLTAGE = 20.0  # V
CEILING_GATE_COMPLIANCE = 10e-3  # A
CEILING_FIELD = 2.0  # T
# share of the supply's current limit that max_field may need by the calibration table: the
# rest is left for remanence, probe offset and calibration error
FIELD_CURRENT_MARGIN = 0.05


class _Strict(BaseModel):
    # strict: "2.5e-3" (text), true (a boolean) or 1.0 for a count are mistakes, not numbers
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class InstrumentConfig(_Strict):
    driver: str = Field(description="driver name from the registry, e.g. keithley2450")
    address: str = Field("", description="VISA resource name; ignored on a simulated station")
    timeout: float = Field(5.0, gt=0, le=600, description="I/O timeout in s")
    # what differs between units of one model (a Kepco's rating, an analyzer's frequency
    # option, a gaussmeter's probe): names the driver declares in STATION_OPTIONS
    options: dict[str, float | int | str | bool] = Field(default_factory=dict)


class ShnoLimits(_Strict):
    max_current: float = Field(gt=0, le=CEILING_SHNO_CURRENT, description="max |I_SHNO| in A")
    max_step: float = Field(gt=0, le=1e-3, description="largest current step of a ramp in A")
    dwell: float = Field(ge=0, le=10, description="wait after each ramp step in s")
    compliance_voltage: float = Field(gt=0, le=20, description="voltage compliance in V")

    @model_validator(mode="after")
    def _step_within_max(self) -> ShnoLimits:
        if self.max_step > self.max_current:
            raise ValueError(f"max_step {self.max_step} exceeds max_current {self.max_current}")
        return self


class GateLimits(_Strict):
    min_voltage: float = Field(ge=-CEILING_GATE_VOLTAGE, le=0, description="lowest V_M in V")
    max_voltage: float = Field(ge=0, le=CEILING_GATE_VOLTAGE, description="highest V_M in V")
    max_compliance: float = Field(gt=0, le=CEILING_GATE_COMPLIANCE, description="in A")
    max_step: float = Field(10.0, gt=0, le=2 * CEILING_GATE_VOLTAGE, description="in V")
    dwell: float = Field(0.0, ge=0, le=10, description="wait after each ramp step in s")


class SpectrumLimits(_Strict):
    min_frequency: float = Field(1e6, ge=0, description="lowest frequency in Hz")
    max_frequency: float = Field(26.5e9, gt=0, le=110e9, description="highest frequency in Hz")
    max_points: int = Field(100001, ge=2, le=1_000_001, description="trace points")


class FieldLimits(_Strict):
    max_field: float = Field(gt=0, le=CEILING_FIELD, description="max |B| in T")
    max_ramp_rate: float = Field(gt=0, le=5.0, description="supply current ramp rate in A/s")
    max_current: float = Field(gt=0, le=20.0, description="max |supply current| in A")
    tolerance: float = Field(1e-3, gt=0, le=0.05, description="closed-loop field tolerance in T")
    settle_time: float = Field(1.0, ge=0, le=60, description="wait before reading B in s")
    step_time: float = Field(0.1, gt=0, le=10, description="time between ramp steps in s")
    approach: Literal["below", "above"] = Field("below", description="side of approach")
    overshoot: float = Field(0.01, ge=0, le=0.5, description="approach margin in T")
    voltage_limit: float = Field(20.0, gt=0, le=100, description="supply voltage limit in V")


class ShnoSourceConfig(InstrumentConfig):
    limits: ShnoLimits


class GateConfig(InstrumentConfig):
    limits: GateLimits


class SpectrumConfig(InstrumentConfig):
    limits: SpectrumLimits = SpectrumLimits()


class FieldConfig(_Strict):
    supply: InstrumentConfig
    gaussmeter: InstrumentConfig
    limits: FieldLimits
    # calibration table: supply current (A) -> field (T), monotonic; a line if two points
    calibration: list[tuple[float, float]] = Field(min_length=2)

    @field_validator("calibration", mode="before")
    @classmethod
    def _pairs(cls, table: Any) -> Any:
        """TOML and JSON give [current, field] pairs as lists; strict mode wants tuples."""
        if isinstance(table, list):
            return [tuple(pair) if isinstance(pair, list) else pair for pair in table]
        return table

    @field_validator("calibration")
    @classmethod
    def _calibration_monotonic(cls, table: list[tuple[float, float]]):
        currents = [c for c, _ in table]
        fields = [b for _, b in table]
        up = all(b > a for a, b in zip(currents, currents[1:]))
        mono = all(b > a for a, b in zip(fields, fields[1:]))
        if not (up and mono):
            raise ValueError("the table must rise in both current and field")
        return table

    @model_validator(mode="after")
    def _max_field_reachable(self) -> FieldConfig:
        # remanence, probe offset and calibration error all eat into the current: a max_field
        # the table puts right at max_current cannot be reached, only ramped towards
        table = Calibration(self.calibration)
        needed = max(abs(table.current_for(b))
                     for b in (self.limits.max_field, -self.limits.max_field))
        usable = self.limits.max_current * (1 - FIELD_CURRENT_MARGIN)
        if needed > usable:
            raise ValueError(
                f"limits.max_field = {self.limits.max_field:g} T needs {needed:g} A by the "
                f"calibration table, more than {usable:g} A ({1 - FIELD_CURRENT_MARGIN:.0%} of "
                f"limits.max_current = {self.limits.max_current:g} A): lower max_field or "
                "raise max_current"
            )
        return self


class FaultConfig(_Strict):
    instrument: Literal["shno_source", "gate", "spectrum", "supply", "gaussmeter"]
    # late: the reply comes after the VISA timeout and waits in the output queue
    kind: Literal["timeout", "late", "error", "disconnect", "breakdown"]
    at_command: int | None = Field(None, ge=1, description="fault on this command number")
    probability: float = Field(0.0, ge=0, le=1, description="fault chance per command")
    code: int = Field(-300, description="error-queue code for kind='error'")
    message: str = "Device-specific error"


class SimConfig(_Strict):
    seed: int = 1
    realtime_factor: float = Field(0.0, ge=0, le=1, description="real s per simulated s")
    device: dict[str, Any] = Field(default_factory=dict, description="physics overrides")
    faults: list[FaultConfig] = Field(default_factory=list)
    power_up: PowerUpConfig = PowerUpConfig()


class StationConfig(_Strict):
    name: str = "probe-station"
    simulated: bool = False
    shno_source: ShnoSourceConfig
    gate: GateConfig
    spectrum: SpectrumConfig
    field: FieldConfig
    sim: SimConfig = SimConfig()
    source: str = Field("", description="where this configuration was read from")

    def to_toml_dict(self) -> dict[str, Any]:
        """Plain data for the run file (JSON-serialisable)."""
        return self.model_dump(mode="json")


def _format_error(origin: str, err: ValidationError, data: dict[str, Any]) -> str:
    first = _first_error(err.errors())
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "missing":
        return f"{origin}: missing key '{loc}'"
    if kind == "extra_forbidden":
        return f"{origin}: unknown key '{loc}' = {_shown(first['input'])}{_suggest(first['loc'])}"
    msg = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    if isinstance(value, dict):
        return f"{origin}: {loc}: {msg}"
    if kind in ("float_type", "int_type", "bool_type"):
        msg = _type_mistake(kind, value)
    return f"{origin}: {loc} = {_shown(value)}: {msg}"


def _type_mistake(kind: str, value: Any) -> str:
    want = {"float_type": "a number", "int_type": "a whole number",
            "bool_type": "true or false"}[kind]
    if isinstance(value, str):
        return f"text where {want} belongs: write it without quotes"
    if isinstance(value, bool):
        return f"a boolean where {want} belongs"
    return f"must be {want}"


def _shown(value: Any) -> str:
    """A value as the file spells it (TOML booleans in lower case), cut to one short line."""
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_error(errors: list[dict]) -> dict:
    """The error to report: a misspelt key (unknown beside a missing one) before the missing
    key, so that the message can say which was meant."""
    from labctl.errors import did_you_mean

    missing = [e["loc"] for e in errors if e["type"] == "missing"]
    for e in errors:
        if e["type"] == "extra_forbidden" and did_you_mean(
                e["loc"][-1], [m[-1] for m in missing if m[:-1] == e["loc"][:-1]]):
            return e
    return errors[0]


def _suggest(loc: tuple) -> str:
    """`` (did you mean 'max_current'?)`` for a misspelt key at ``loc`` of a station file."""
    from labctl.errors import did_you_mean

    model: Any = StationConfig
    for part in loc[:-1]:
        info = getattr(model, "model_fields", {}).get(part)
        model = getattr(info, "annotation", None)
        if not isinstance(model, type) or not issubclass(model, BaseModel):
            return ""  # inside a free table (sim.device) or a list: no names to offer
    return did_you_mean(loc[-1], [k for k in model.model_fields if k != "source"])


def parse_station(data: dict[str, Any], origin: str) -> StationConfig:
    """Validate a decoded station table; raise ConfigError with one line on any mistake."""
    try:
        cfg = StationConfig.model_validate({**data, "source": origin})
    except ValidationError as err:
        raise ConfigError(_format_error(origin, err, data)) from None
    from labctl.registry import check_driver

    roles = {
        "shno_source": cfg.shno_source,
        "gate": cfg.gate,
        "spectrum": cfg.spectrum,
        "field.supply": cfg.field.supply,
        "field.gaussmeter": cfg.field.gaussmeter,
    }
    for key, inst in roles.items():
        problem = check_driver(key, inst.driver, inst.options)
        if problem:
            raise ConfigError(f"{origin}: {key}.{problem}")
    return cfg


def load_station(path: str | Path) -> StationConfig:
    """Read and validate a station TOML file."""
    p = Path(path)
    origin = f"station file '{p}'"
    return parse_station(read_toml(p, origin, ConfigError), origin)


MAX_FILE_BYTES = 1 << 20  # a station or queue file is a few kB
MAX_DEPTH = 16  # tables and arrays within each other


def read_toml(path: Path, origin: str, error: type[Exception] = ConfigError) -> dict[str, Any]:
    """A TOML file decoded, or ``error`` in one line: unreadable, too large, not UTF-8 (e.g.
    saved as UTF-16), not TOML, nested too deeply."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(f"{origin}: {size} bytes; a station or queue file is a few kB "
                        f"(at most {MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as err:
        raise error(f"{origin}: cannot read: {err.strerror or err}") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise error(f"{origin}: saved as UTF-16 text; save it as UTF-8")
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{origin}: not UTF-8 text (byte {err.start}: {raw[err.start:err.start + 1]!r}"
                    "); save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{origin}: not valid TOML: {err}") from None
    except RecursionError:
        raise error(f"{origin}: nested more than {MAX_DEPTH} levels deep") from None
    if _depth(data) > MAX_DEPTH:
        raise error(f"{origin}: nested more than {MAX_DEPTH} levels deep")
    return data


def _depth(data: Any) -> int:
    """How deeply tables and arrays nest in ``data`` (without recursion)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                items = value.values() if isinstance(value, dict) else value
                todo.extend((v, level + 1) for v in items)
    return deepest


def default_sim_station() -> StationConfig:
    """The built-in simulated probe station used by ``--sim``."""
    text = resources.files("labctl").joinpath("stations/sim.toml").read_text(encoding="utf-8")
    return parse_station(tomllib.loads(text), "built-in simulated station")
