"""labctl: instrument control for memristor-gated spin Hall nano-oscillator chains."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labctl-shno")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
