"""The procedure protocol, re-exported for procedure modules (see :mod:`labctl.procedure`)."""

from labctl.procedure import (
    Parameter,
    Plan,
    Procedure,
    Results,
    Row,
    RunContext,
    check_gate_values,
)

__all__ = ["Parameter", "Plan", "Procedure", "Results", "Row", "RunContext", "check_gate_values"]
