"""The ``[sim.power_up.<instrument>]`` tables: the state a simulated instrument is found in.

A real instrument is found in whatever state its front panel, another program or a crash
left it: a gate still sourcing 1 mA in current mode, a Kepco BOP on in voltage mode (its
factory power-up state), a gaussmeter on a low range, an analyzer sending big-endian data.
These tables put the simulated instruments in such states, so that the tests see what the
drivers do with them. Levels are SI (A, V); an absent table means the model's own power-up
state.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourcePowerUp(_Strict):
    """A source meter as found: output, source function, its level and limit, its range."""

    output: bool = False
    function: Literal["current", "voltage"] = "voltage"
    level: float = Field(0.0, ge=-210, le=210, description="level of the function, A or V")
    compliance: float | None = Field(
        None, gt=0, le=210,
        description="limit of the function (V for current, A for voltage); model default if absent",
    )
    source_range: float | None = Field(
        None, gt=0, le=210, description="fixed source range of the function; auto if absent")


class SupplyPowerUp(_Strict):
    """The Kepco BOP as found; its factory power-up is output on, voltage mode, 0 V."""

    output: bool = True
    mode: Literal["current", "voltage"] = "voltage"
    level: float = Field(0.0, ge=-100, le=100, description="level of the mode, A or V")
    limit: float | None = Field(
        None, ge=0, le=100,
        description="the other setting (current limit in voltage mode); the rating if absent",
    )


class GaussmeterPowerUp(_Strict):
    """The Lake Shore 425 as found: range (full scale in gauss), unit, auto range, probe."""

    range: float = Field(35000, gt=0, description="full scale in gauss (a range of the probe)")
    unit: Literal["G", "T", "Oe", "A/m"] = "G"
    auto_range: bool = False
    probe: Literal[40, 41, 42] = Field(40, description="TYPE? of the probe plugged in")


class AnalyzerPowerUp(_Strict):
    """The analyzer as found: trace transfer format and byte order (the model's own names)."""

    format: Literal["ascii", "real32", "real64"] = "ascii"
    byte_order: Literal["normal", "swapped"] | None = Field(
        None, description="FORM:BORD as the model spells it; the model's default if absent")


class PowerUpConfig(_Strict):
    shno_source: SourcePowerUp | None = None
    gate: SourcePowerUp | None = None
    field_supply: SupplyPowerUp | None = None
    gaussmeter: GaussmeterPowerUp | None = None
    spectrum: AnalyzerPowerUp | None = None

    # station slot of the simulated instrument -> name of its table
    SLOTS: ClassVar[dict[str, str]] = {
        "shno_source": "shno_source", "gate": "gate", "supply": "field_supply",
        "gaussmeter": "gaussmeter", "spectrum": "spectrum"}

    def for_slot(self, slot: str):
        """The power-up table of a station slot (None: the model's own power-up state)."""
        return getattr(self, self.SLOTS[slot])
