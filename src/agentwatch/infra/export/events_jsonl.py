"""`watch --jsonl`: CLI_CONTRACT section 4, one JSON object per line."""

from __future__ import annotations

from typing import Any

from agentwatch.core.alerts import Signal
from agentwatch.core.events import (
    AlertClearedEvent,
    AlertEvent,
    Event,
    GuardEvent,
    StatusEvent,
    UsageEvent,
    WarningEvent,
)
from agentwatch.core.records import ThreadKey
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.export.json_report import iso, iso_required, session


def snapshot(ts: float, s: SessionSummary, sig: Signal | None = None) -> dict[str, Any]:
    """A `snapshot` event."""
    return {"event": "snapshot", "ts": iso(ts), "session": session(s, sig)}


def ready(ts: float) -> dict[str, Any]:
    """The `ready` event that ends the snapshots."""
    return {"event": "ready", "ts": iso(ts)}


def _head(name: str, ts: float, thread: ThreadKey) -> dict[str, Any]:
    """The fields every per-session event starts with."""
    return {
        "event": name,
        "ts": iso(ts),
        "agent": str(thread.agent),
        "session_id": thread.session_id,
    }


def event(ev: Event) -> dict[str, Any]:
    """A live event."""
    if isinstance(ev, UsageEvent):
        return {
            **_head("usage", ev.ts, ev.thread),
            "agent_id": ev.thread.agent_id,
            "message_id": ev.message_id,
            "request_id": ev.request_id,
            "delta": ev.delta.as_dict(),
            "session_total": ev.session_total.as_dict(),
        }
    if isinstance(ev, StatusEvent):
        return {
            **_head("session_status", ev.ts, ev.session),
            "from": str(ev.old) if ev.old is not None else None,
            "to": str(ev.new),
        }
    if isinstance(ev, AlertEvent):
        return {**_head("alert", ev.ts, ev.session), **ev.alert.to_contract(iso_required)}
    if isinstance(ev, AlertClearedEvent):
        return {**_head("alert_cleared", ev.ts, ev.session), "alert_id": ev.alert_id}
    if isinstance(ev, GuardEvent):
        return {
            **_head("loop_action", ev.ts, ev.session),
            "alert_id": ev.alert_id,
            "action": ev.action,
            "pids": list(ev.pids),
            "ok": ev.ok,
            "message": ev.message,
        }
    assert isinstance(ev, WarningEvent)
    return {"event": "warning", "ts": iso(ev.ts), "message": ev.message}
