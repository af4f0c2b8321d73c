"""Procedures by name: the registry (:mod:`labctl.registry`) finds them, built-in or plugged in."""

from labctl.registry import PROCEDURES, available_procedures, procedure_class

available = available_procedures

__all__ = ["PROCEDURES", "available", "procedure_class"]
