"""labctl: instrument control for memristor-gated spin Hall nano-oscillator chains.

The public Python API (docs/scripting.md)::

    import labctl
    with labctl.open_lab(sim=True) as lab:          # or station="lab.toml"
        result = lab.run("freq-current", {"i_stop": 2.0e-3})
    ds = labctl.load_run(result.path)                # an xarray.Dataset

``open_lab`` and ``load_run`` are imported on first use, so ``import labctl`` stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labctl-shno")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

# public name -> module that defines it (PEP 562: imported when first asked for)
_LAZY = {"open_lab": "labctl.lab", "Lab": "labctl.lab", "load_run": "labctl.dataset"}

__all__ = ["Lab", "__version__", "load_run", "open_lab"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labctl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
