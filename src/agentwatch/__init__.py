"""agentwatch: a terminal monitor for AI coding agents, with an honest meter."""

# The one place the version lives (pyproject reads it; importlib.metadata costs ~35 ms at start).
__version__ = "0.1.0"

__all__ = ["__version__"]
