"""Loop detection over a history: activity rebuilt from records and calls, then per-session
alerts and the honest signal (what the tokens produced)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from agentwatch.core.accounts import Call
from agentwatch.core.activity import Activity
from agentwatch.core.alerts import Alert, Signal
from agentwatch.core.detectors import evaluate, signal
from agentwatch.core.records import ActivityRecord, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds


def history_activity(
    tally: Tally,
    records: Iterable[ActivityRecord],
    th: Thresholds,
    retention_s: float = math.inf,
) -> Activity:
    """The activity of every session, from the tool records and the deduplicated calls."""
    activity = Activity(th.window_s, retention_s=retention_s)
    _feed(activity, records, tally.calls.values())
    return activity


def _feed(activity: Activity, records: Iterable[ActivityRecord], calls: Iterable[Call]) -> None:
    """Tool records, then the deduplicated calls' usage, each in time order."""
    ordered: list[ActivityRecord] = sorted(records, key=_when)
    activity.feed(ordered)
    for c in sorted(calls, key=_when):
        activity.add_usage(c.owner, c.ts, c.tokens.total, c.key)


def _when(r: ActivityRecord | Call) -> float:
    return r.ts if r.ts is not None else 0.0


def session_signals(
    activity: Activity, keys: Iterable[ThreadKey], now: float, th: Thresholds
) -> dict[ThreadKey, tuple[Signal, list[Alert]]]:
    """For each session: its signal and every alert of its whole history."""
    out: dict[ThreadKey, tuple[Signal, list[Alert]]] = {}
    for key in keys:
        sa = activity.sessions.get(key)
        if sa is None:
            continue
        alerts = evaluate(sa, now, th, since=-math.inf)
        out[key] = (signal(sa, alerts, now), alerts)
    return out


def history_signals(
    tally: Tally,
    records: Iterable[ActivityRecord],
    keys: Iterable[ThreadKey],
    now: float,
    th: Thresholds,
) -> dict[ThreadKey, tuple[Signal, list[Alert]]]:
    """`session_signals` over `history_activity`, one session at a time: the same answer
    (sessions never share activity), with one session's model in memory instead of all."""
    records_of: dict[ThreadKey, list[ActivityRecord]] = {}
    for r in records:
        records_of.setdefault(r.thread.main, []).append(r)
    calls_of: dict[ThreadKey, list[Call]] = {}
    for c in tally.calls.values():
        calls_of.setdefault(c.owner.main, []).append(c)
    out: dict[ThreadKey, tuple[Signal, list[Alert]]] = {}
    for key in keys:
        activity = Activity(th.window_s, retention_s=math.inf)
        _feed(activity, records_of.pop(key, []), calls_of.pop(key, []))
        out.update(session_signals(activity, [key], now, th))
    return out
