"""What the leaderboard is built from (sessions, threads, alerts) and the two ways to get it: a
history (the tally plus the activity records) for the command, or the live view's summaries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from agentwatch.core.alerts import Alert
from agentwatch.core.records import ActivityRecord, Agent, ThreadKey, ToolResult
from agentwatch.core.summary import Filter, SessionSummary, project_of
from agentwatch.core.tally import SessionInfo, Tally
from agentwatch.core.tokens import ZERO, Tokens

LOOP_KINDS = frozenset({"idle_burn", "repetition", "error_loop", "reread_loop"})
"""Alert kinds that say the tokens produced nothing (`unattended` only says nobody watched)."""


@dataclass(frozen=True, slots=True)
class AlertMark:
    """One loop alert, as much of it as the board needs."""

    agent_id: str | None
    """The sub-agent it happened in, None for the main thread."""
    kind: str
    """`idle_burn`, `repetition`, `error_loop`, `reread_loop` or `unattended`."""
    severity: str
    """`info`, `warning` or `critical`."""
    started_at: float
    """Onset (epoch seconds)."""
    ended_at: float | None
    """When it ended; None while it is open."""

    @property
    def open(self) -> bool:
        """True while the episode lasts."""
        return self.ended_at is None

    @property
    def disqualifies(self) -> bool:
        """An open or critical loop: its session cannot win an honest title."""
        return self.kind in LOOP_KINDS and (self.open or self.severity == "critical")

    def within(self, since: float | None, until: float | None) -> bool:
        """Does the episode overlap the period `[since, until)`?"""
        if until is not None and self.started_at >= until:
            return False
        return since is None or self.ended_at is None or self.ended_at >= since


@dataclass(frozen=True, slots=True)
class ThreadWork:
    """What one thread (a main thread or a sub-agent) spent and produced in the period."""

    by_model: Mapping[str, Tokens]
    """Tokens per model."""
    idle_by_model: Mapping[str, int] | None = None
    """Per model, `total` tokens spent in W-windows with no file change; None when unknown."""
    files_changed: int = 0
    """Distinct files the thread changed."""
    lines_added: int = 0
    """Lines added by its edits and writes."""
    lines_removed: int = 0
    """Lines removed by its edits and writes."""
    alerts: tuple[AlertMark, ...] = ()
    """Its loop alerts that overlap the period."""


@dataclass(frozen=True, slots=True)
class SessionWork:
    """One session as the board sees it: its threads and its span in the period."""

    agent: Agent
    """Which agent."""
    session_id: str
    """The session id."""
    project: str | None
    """Its working directory."""
    first_at: float | None
    """First activity in the period."""
    last_at: float | None
    """Last activity in the period."""
    threads: tuple[ThreadWork, ...]
    """Main thread and sub-agents."""
    files_changed: int = 0
    """Distinct files changed by any of its threads."""


def mark(a: Alert) -> AlertMark:
    """The board's view of a detector's alert."""
    return AlertMark(a.agent_id, str(a.kind), str(a.severity), a.started_at, a.ended_at)


@dataclass(slots=True)
class _Thread:
    by_model: dict[str, Tokens] = field(default_factory=dict)
    idle: dict[str, int] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)
    added: int = 0
    removed: int = 0


def _in_period(ts: float | None, flt: Filter) -> bool:
    if flt.since is None and flt.until is None:
        return True
    if ts is None:
        return False
    return (flt.since is None or ts >= flt.since) and (flt.until is None or ts < flt.until)


def from_history(
    tally: Tally,
    records: Iterable[ActivityRecord],
    flt: Filter,
    window_s: float,
    alerts: Mapping[ThreadKey, Sequence[AlertMark]],
) -> list[SessionWork]:
    """Every session with API calls in the filter's period, as the board sees it.

    Tokens and changes both count only inside the period (a session that straddles a bound
    contributes its part). A call is idle when its W-window (`window_s`, aligned like the
    detectors' windows) holds no file change of its session; a call without a timestamp is
    never counted idle. `flt.model` is not applied here: the board splits threads by model.
    `alerts` (by session main thread) are kept when they overlap the period.
    """
    chosen: dict[ThreadKey, SessionInfo | None] = {}

    def session(main: ThreadKey) -> SessionInfo | None:
        if main not in chosen:
            info = tally.sessions.get(main)
            chosen[main] = info if info is not None and flt.session_ok(info) else None
        return chosen[main]

    threads: dict[ThreadKey, _Thread] = {}
    changed_windows: dict[ThreadKey, set[int]] = {}
    for rec in records:
        if not isinstance(rec, ToolResult) or not rec.changed_path:
            continue
        main = rec.thread.main
        if session(main) is None:
            continue
        if rec.ts is not None:
            changed_windows.setdefault(main, set()).add(int(rec.ts // window_s))
        if _in_period(rec.ts, flt):
            t = threads.setdefault(rec.thread, _Thread())
            t.paths.add(rec.changed_path)
            t.added += rec.lines_added
            t.removed += rec.lines_removed

    spans: dict[ThreadKey, list[float]] = {}
    spent: set[ThreadKey] = set()
    for call in tally.calls.values():
        if not _in_period(call.ts, flt):
            continue
        main = call.owner.main
        if session(main) is None:
            continue
        spent.add(main)
        t = threads.setdefault(call.owner, _Thread())
        t.by_model[call.model] = t.by_model.get(call.model, ZERO) + call.tokens
        if call.ts is None:
            continue
        if int(call.ts // window_s) not in changed_windows.get(main, ()):
            t.idle[call.model] = t.idle.get(call.model, 0) + call.tokens.total
        span = spans.get(main)
        if span is None:
            spans[main] = [call.ts, call.ts]
        else:
            span[0], span[1] = min(span[0], call.ts), max(span[1], call.ts)

    per_session: dict[ThreadKey, list[ThreadKey]] = {}
    for key in threads:
        if key.main in spent:
            per_session.setdefault(key.main, []).append(key)
    out: list[SessionWork] = []
    for main, keys in per_session.items():
        info = session(main)
        assert info is not None  # spent only holds chosen sessions
        marks = [a for a in alerts.get(main, ()) if a.within(flt.since, flt.until)]
        work = tuple(
            ThreadWork(
                by_model=threads[k].by_model,
                idle_by_model=threads[k].idle,
                files_changed=len(threads[k].paths),
                lines_added=threads[k].added,
                lines_removed=threads[k].removed,
                alerts=tuple(a for a in marks if a.agent_id == k.agent_id),
            )
            for k in sorted(keys, key=lambda k: k.agent_id or "")
        )
        orphans = tuple(a for a in marks if a.agent_id not in {k.agent_id for k in keys})
        if orphans:  # an alert of a thread with nothing in the period stays with the session
            work = (*work, ThreadWork({}, {}, alerts=orphans))
        span = spans.get(main)
        out.append(
            SessionWork(
                agent=main.agent,
                session_id=main.session_id,
                project=project_of(info),
                first_at=span[0] if span else None,
                last_at=span[1] if span else None,
                threads=work,
                files_changed=len(set[str]().union(*(threads[k].paths for k in keys))),
            )
        )
    return out


def from_summaries(
    sessions: Iterable[SessionSummary], alerts: Mapping[str, Sequence[Alert]]
) -> list[SessionWork]:
    """The live view's sessions (whole-session figures), alerts by session id.

    A summary says what the session produced but not which thread did it, nor how much it
    burned with no change: each session is one thread, and its idle tokens are unknown. Its
    span runs from its first to its last minute with API calls (as the command's, by call).
    """
    out: list[SessionWork] = []
    for s in sessions:
        minutes = s.total.per_minute
        first, last = (
            (min(minutes) * 60.0, max(minutes) * 60.0)
            if minutes
            else (s.started_at, s.last_activity_at)
        )
        marks = tuple(mark(a) for a in alerts.get(s.session_id, ()))
        thread = ThreadWork(
            by_model=dict(s.total.by_model),
            idle_by_model=None,
            files_changed=s.files_changed,
            lines_added=s.lines_added,
            lines_removed=s.lines_removed,
            alerts=marks,
        )
        out.append(
            SessionWork(
                agent=s.agent,
                session_id=s.session_id,
                project=s.project,
                first_at=first,
                last_at=last,
                threads=(thread,),
                files_changed=s.files_changed,
            )
        )
    return out
