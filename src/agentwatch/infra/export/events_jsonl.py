"""`watch --jsonl`: CLI_CONTRACT section 4, one JSON object per line."""

from __future__ import annotations

from typing import Any

from agentwatch.core.alerts import Signal
from agentwatch.core.events import (
    AlertClearedEvent,
    AlertEvent,
    Event,
    StatusEvent,
    UsageEvent,
    WarningEvent,
)
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.export.json_report import iso, iso_required, session


def snapshot(ts: float, s: SessionSummary, sig: Signal | None = None) -> dict[str, Any]:
    """A `snapshot` event."""
    return {"event": "snapshot", "ts": iso(ts), "session": session(s, sig)}


def ready(ts: float) -> dict[str, Any]:
    """The `ready` event that ends the snapshots."""
    return {"event": "ready", "ts": iso(ts)}


def event(ev: Event) -> dict[str, Any]:
    """A live event."""
    if isinstance(ev, UsageEvent):
        return {
            "event": "usage",
            "ts": iso(ev.ts),
            "agent": str(ev.thread.agent),
            "session_id": ev.thread.session_id,
            "agent_id": ev.thread.agent_id,
            "message_id": ev.message_id,
            "request_id": ev.request_id,
            "delta": ev.delta.as_dict(),
            "session_total": ev.session_total.as_dict(),
        }
    if isinstance(ev, StatusEvent):
        return {
            "event": "session_status",
            "ts": iso(ev.ts),
            "agent": str(ev.session.agent),
            "session_id": ev.session.session_id,
            "from": str(ev.old) if ev.old is not None else None,
            "to": str(ev.new),
        }
    if isinstance(ev, AlertEvent):
        return {
            "event": "alert",
            "ts": iso(ev.ts),
            "agent": str(ev.session.agent),
            "session_id": ev.session.session_id,
            **ev.alert.to_contract(iso_required),
        }
    if isinstance(ev, AlertClearedEvent):
        return {
            "event": "alert_cleared",
            "ts": iso(ev.ts),
            "agent": str(ev.session.agent),
            "session_id": ev.session.session_id,
            "alert_id": ev.alert_id,
        }
    assert isinstance(ev, WarningEvent)
    return {"event": "warning", "ts": iso(ev.ts), "message": ev.message}
