"""Measurement procedures: typed parameters, a declared schema, and a stream of points."""
