"""Loop detection over a history: activity rebuilt from records and calls, then per-session
alerts and the honest signal (what the tokens produced)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from agentwatch.core.accounts import Call
from agentwatch.core.activity import Activity
from agentwatch.core.alerts import Alert, Signal
from agentwatch.core.detectors import evaluate, signal
from agentwatch.core.records import ActivityRecord, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds

SessionRecords = Iterable[tuple[ThreadKey, Sequence[ActivityRecord]]]
"""Activity records grouped by session (main thread): each session once, its records in
reading order. Sessions never share activity, so a history can be modelled one at a time."""


def by_session(records: Iterable[ActivityRecord]) -> dict[ThreadKey, list[ActivityRecord]]:
    """Group records by session, keeping their order."""
    out: dict[ThreadKey, list[ActivityRecord]] = {}
    for r in records:
        out.setdefault(r.thread.main, []).append(r)
    return out


def history_activity(
    tally: Tally,
    sessions: SessionRecords,
    th: Thresholds,
    retention_s: float = math.inf,
    dormant_before: float | None = None,
) -> Activity:
    """The activity of every session, from the tool records and the deduplicated calls.

    A session whose last event is before `dormant_before` is slimmed as soon as it is built
    (`SessionActivity.forget_history`): a live model keeps what detection and display can
    still use, and never holds every session's whole history at once."""
    activity = Activity(th.window_s, retention_s=retention_s)
    calls_of = _calls_by_session(tally)

    def one(key: ThreadKey, records: Iterable[ActivityRecord], calls: Iterable[Call]) -> None:
        _feed(activity, records, calls)
        if dormant_before is None:
            return
        sa = activity.sessions.get(key)
        last = sa.last_ts if sa is not None else None
        if sa is not None and last is not None and last < dormant_before:
            sa.forget_history()

    for key, records in sessions:
        one(key, records, calls_of.pop(key, []))
    for key, calls in calls_of.items():
        one(key, [], calls)
    return activity


def dormancy_line(now: float, th: Thresholds, retention_s: float) -> float:
    """Sessions quiet since before this time are dormant: no detector reaches their events
    (an alert ends `quiet_s` after its last event and is kept `keep_ended_s`; the detectors
    look back `window_s`), nor does retention keep them."""
    return now - max(retention_s, th.quiet_s + th.keep_ended_s, th.window_s)


def _calls_by_session(tally: Tally) -> dict[ThreadKey, list[Call]]:
    out: dict[ThreadKey, list[Call]] = {}
    for c in tally.calls.values():
        out.setdefault(c.owner.main, []).append(c)
    return out


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
    sessions: SessionRecords,
    keys: Iterable[ThreadKey],
    now: float,
    th: Thresholds,
) -> dict[ThreadKey, tuple[Signal, list[Alert]]]:
    """`session_signals` over `history_activity`, one session at a time: the same answer,
    with one session's model (and records) in memory instead of all."""
    wanted = list(keys)
    left = set(wanted)
    calls_of = _calls_by_session(tally)
    found: dict[ThreadKey, tuple[Signal, list[Alert]]] = {}

    def one(key: ThreadKey, records: Sequence[ActivityRecord]) -> None:
        activity = Activity(th.window_s, retention_s=math.inf)
        _feed(activity, records, calls_of.pop(key, []))
        found.update(session_signals(activity, [key], now, th))

    for key, records in sessions:
        if key in left:
            left.discard(key)
            one(key, records)
    for key in [k for k in wanted if k in left]:
        one(key, ())
    return {k: found[k] for k in wanted if k in found}
