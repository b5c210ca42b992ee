"""lightning_metarec: meta-learning recommenders for cold-start users and domains."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lightning_metarec")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
