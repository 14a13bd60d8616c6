"""The one session status enum used everywhere (TUI, JSON, events)."""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    """CLI_CONTRACT section 3 STATUS."""

    ACTIVE = "active"
    IDLE = "idle"
    LOOPING = "looping"
    SUSPENDED = "suspended"
    ENDED = "ended"
