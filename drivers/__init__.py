"""Instrument drivers (one module per model, on pymeasure) and the role adapters."""
