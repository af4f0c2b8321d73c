"""Standard analyses of the experiment (PHYSICS.md §6): pure numpy/scipy, no instruments."""
