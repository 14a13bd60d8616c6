"""Loop-detector thresholds and how `[thresholds]` in config.toml sets them.

The defaults were chosen on the labelled scenario set in tests/core/scenarios (see
docs/loop-detection.md): the smallest values that catch every loop there within 60 s of its
onset while never alerting on a normal session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from agentwatch.core.activity import DEFAULT_WINDOW_S

OTHER_KEYS = frozenset({"idle_after_s"})
"""Keys of `[thresholds]` that other parts of agentwatch read (not a detector's)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the loop detectors fire. Times in seconds, token amounts in `total` tokens."""

    window_s: float = DEFAULT_WINDOW_S
    """W: repeats must fall within it, idle-burn tokens are counted in it, and the idle-burn
    share is counted in W-wide windows."""
    quiet_s: float = 300.0
    """A repeated call, re-read or idle burn not seen again for this long has stopped."""
    repeat_count: int = 3
    """repetition: the same call with the same successful result this many times."""
    error_count: int = 3
    """error_loop: the same call failing this many times."""
    reread_count: int = 4
    """reread_loop: this many re-reads (a file read again, unchanged, with no edit since)."""
    idle_calls: int = 3
    """idle_burn: this many API calls with no tool use, file change or human turn..."""
    idle_tokens: int = 100_000
    """...burning at least this many tokens within W."""
    unattended: bool = False
    """unattended: off by default (agents run alone on purpose)."""
    unattended_after_s: float = 7200.0
    """unattended: no human turn for this long while the agent keeps calling the API."""
    critical_tokens: int = 2_000_000
    """An alert turns critical once its episode has burned this many tokens..."""
    critical_after_s: float = 900.0
    """...or has lasted this long."""
    keep_ended_s: float = 600.0
    """`evaluate` still returns an alert this long after it ended."""

    @classmethod
    def from_config(cls, table: Any) -> tuple[Thresholds, list[str]]:
        """Thresholds from a `[thresholds]` table; bad or unknown keys give warnings, never
        exceptions, and keep their defaults."""
        if not isinstance(table, Mapping):
            return cls(), ["[thresholds] must be a table; using the defaults"]
        defaults = cls()
        values: dict[str, Any] = {}
        warnings: list[str] = []
        kinds = {f.name: f.type for f in fields(cls)}
        for key, value in table.items():
            if key in OTHER_KEYS:
                continue
            kind = kinds.get(key)
            if kind is None:
                warnings.append(f"thresholds.{key}: unknown setting, ignored")
                continue
            parsed = _parse(str(kind), value)
            if parsed is None:
                default = getattr(defaults, key)
                want = _WANT[str(kind)]
                warnings.append(f"thresholds.{key} must be {want}; using {default!r}")
            else:
                values[key] = parsed
        return cls(**values), warnings


_WANT = {
    "bool": "true or false",
    "int": "a whole number >= 1",
    "float": "a number of seconds > 0",
}


def _parse(kind: str, value: Any) -> bool | int | float | None:
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if kind == "int":
        return value if isinstance(value, int) and value >= 1 else None
    return float(value) if math.isfinite(value) and value > 0 else None
