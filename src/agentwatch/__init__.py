"""agentwatch: a terminal monitor for AI coding agents, with an honest meter."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agentwatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
