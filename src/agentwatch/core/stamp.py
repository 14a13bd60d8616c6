"""Time stamps as the JSON documents write them (kept apart: the report memo imports it at
every start, and it needs nothing but `time`)."""

from __future__ import annotations

import time


def iso_ms(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (`2026-02-03T10:14:07.512Z`)."""
    ms = round(ts * 1000)
    s, ms = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ms:03d}Z"
