"""Immutable events the live engine delivers to its consumers (the TUI, `watch --jsonl`)."""

from __future__ import annotations

from dataclasses import dataclass

from agentwatch.core.alerts import Alert
from agentwatch.core.records import ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.tokens import Tokens


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """A thread's tokens changed by `delta` (negative when a call moved to another session)."""

    ts: float
    thread: ThreadKey
    message_id: str | None
    request_id: str | None
    delta: Tokens
    session_total: Tokens


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A session's status changed (`old` is None for a new session)."""

    ts: float
    session: ThreadKey
    old: SessionStatus | None
    new: SessionStatus


@dataclass(frozen=True, slots=True)
class WarningEvent:
    """Degraded operation: polling fallback, an unreadable file."""

    ts: float
    message: str


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A loop detector raised an alert for a session (or one of its sub-agents)."""

    ts: float
    session: ThreadKey
    alert: Alert


@dataclass(frozen=True, slots=True)
class AlertClearedEvent:
    """Progress resumed: the alert is over."""

    ts: float
    session: ThreadKey
    alert_id: str


@dataclass(frozen=True, slots=True)
class GuardEvent:
    """The `--on-loop` guard acted (or tried to) on a looping session."""

    ts: float
    session: ThreadKey
    alert_id: str
    """The alert that outlasted the grace period."""
    action: str
    """`suspend` or `kill`."""
    pids: tuple[int, ...]
    """The agent processes it signalled (their trees went with them)."""
    ok: bool
    """False when nothing could be signalled or something survived."""
    message: str
    """One line for people."""


Event = UsageEvent | StatusEvent | WarningEvent | AlertEvent | AlertClearedEvent | GuardEvent
