"""agentwatch's own log file: details that do not belong on the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG = logging.getLogger("agentwatch")
LOG.addHandler(logging.NullHandler())  # before `setup`: nothing, rather than stderr


def setup(log_file: Path) -> bool:
    """Send agentwatch's log to `log_file` (rotated); False when it cannot be written."""
    if any(getattr(h, "_agentwatch", False) for h in LOG.handlers):
        return True
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=2, encoding="utf-8", delay=True
        )
    except OSError:
        LOG.addHandler(logging.NullHandler())
        return False
    handler._agentwatch = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    return True
