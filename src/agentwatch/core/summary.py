"""Immutable session summaries for renderers, built from a tally under a filter."""

from __future__ import annotations

from dataclasses import dataclass

from agentwatch.core.accounts import Account
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.tally import SessionInfo, Tally, ThreadInfo


@dataclass(frozen=True, slots=True)
class Filter:
    """Which calls and sessions a report covers. Times select calls by their own timestamp."""

    since: float | None = None
    """Calls at or after this epoch time."""
    until: float | None = None
    """Calls before this epoch time."""
    project: str | None = None
    """Substring of the session's cwd."""
    session_id: str | None = None
    """Exact session id."""
    agent: Agent | None = None
    """Only this agent."""
    model: str | None = None
    """Substring of the model id."""

    @property
    def selects_calls(self) -> bool:
        """True when the filter drops calls (not only whole sessions)."""
        return self.since is not None or self.until is not None or self.model is not None

    def call_ok(self, ts: float | None, model: str) -> bool:
        """Does a call pass the time and model filters?"""
        if self.since is not None and (ts is None or ts < self.since):
            return False
        if self.until is not None and (ts is None or ts >= self.until):
            return False
        return self.model is None or self.model.lower() in model.lower()

    def session_ok(self, s: SessionInfo) -> bool:
        """Does a session pass the agent, id and project filters?"""
        if self.agent is not None and s.key.agent is not self.agent:
            return False
        if self.session_id is not None and s.key.session_id != self.session_id:
            return False
        if self.project is not None:
            cwd = project_of(s) or ""
            return self.project.lower() in cwd.lower()
        return True


@dataclass(frozen=True, slots=True)
class SubagentSummary:
    """One sub-agent of a session."""

    agent_id: str
    agent_type: str | None
    description: str | None
    tool_use_id: str | None
    account: Account
    first_ts: float | None
    last_ts: float | None


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session: main thread, sub-agents and their totals."""

    agent: Agent
    session_id: str
    project: str | None
    files: tuple[str, ...]
    started_at: float | None
    last_activity_at: float | None
    status: SessionStatus
    main: Account
    subagents: tuple[SubagentSummary, ...]
    total: Account
    output_lower_bound: bool
    version: str | None
    tool_calls: int
    tool_errors: int
    files_changed: int
    lines_added: int
    lines_removed: int

    @property
    def models(self) -> list[str]:
        """Every model the session used, sub-agents included."""
        return self.total.models


@dataclass(frozen=True, slots=True)
class Report:
    """Sessions and their grand total."""

    sessions: tuple[SessionSummary, ...]
    totals: Account


def project_of(s: SessionInfo) -> str | None:
    """The session's project: the first cwd of its main thread, else of a sub-agent."""
    if s.main.cwd:
        return s.main.cwd
    return next((t.cwd for t in s.subagents.values() if t.cwd), None)


def status_of(last_ts: float | None, now: float, idle_after: float) -> SessionStatus:
    """Status from log times alone: active while lines keep arriving, else idle."""
    if last_ts is not None and now - last_ts <= idle_after:
        return SessionStatus.ACTIVE
    return SessionStatus.IDLE


def statuses_hold_until(report: Report, now: float, idle_after: float) -> float:
    """The first moment after `now` at which a session's `status_of` changes with no new log
    line (an active session turning idle); infinity when none will."""
    ends = [
        s.last_activity_at + idle_after
        for s in report.sessions
        if s.last_activity_at is not None and s.last_activity_at + idle_after >= now
    ]
    return min(ends, default=float("inf"))


def _accounts(tally: Tally, flt: Filter) -> dict[ThreadKey, Account]:
    if not flt.selects_calls:
        return {}
    out: dict[ThreadKey, Account] = {}
    for call in tally.calls.values():
        if flt.call_ok(call.ts, call.model):
            acc = out.get(call.owner)
            if acc is None:
                acc = out[call.owner] = Account()
            acc.add(call)
    return out


def build(
    tally: Tally,
    flt: Filter,
    now: float,
    idle_after: float,
    only: set[ThreadKey] | None = None,
) -> Report:
    """Summaries of the sessions that pass `flt` (and are in `only`, if given), oldest first."""
    filtered = _accounts(tally, flt)

    def account(t: ThreadInfo) -> Account | None:
        if not flt.selects_calls:
            return t.account
        return filtered.get(t.key)

    sessions: list[SessionSummary] = []
    totals = Account()
    chosen = (
        tally.sessions.values()
        if only is None
        else [tally.sessions[k] for k in only if k in tally.sessions]
    )
    for s in chosen:
        if not flt.session_ok(s):
            continue
        main = account(s.main)
        subs: list[SubagentSummary] = []
        total = Account()
        for agent_id, t in sorted(s.subagents.items(), key=lambda kv: (kv[1].first_ts or 0, kv[0])):
            acc = account(t)
            if acc is None:
                continue
            info = s.subagent(agent_id)
            subs.append(
                SubagentSummary(
                    agent_id,
                    info.agent_type,
                    info.description,
                    info.tool_use_id,
                    acc,
                    t.first_ts,
                    t.last_ts,
                )
            )
            total.merge(acc)
        if main is None and not subs:
            continue
        main = main or Account()
        total.merge(main)
        threads = [s.main, *s.subagents.values()]
        firsts = [t.first_ts for t in threads if t.first_ts is not None]
        lasts = [t.last_ts for t in threads if t.last_ts is not None]
        last = max(lasts) if lasts else None
        changed: set[str] = set()
        for t in threads:
            changed |= t.changed_paths
        sessions.append(
            SessionSummary(
                agent=s.key.agent,
                session_id=s.key.session_id,
                project=project_of(s),
                files=tuple(sorted({f for t in threads for f in t.files})),
                started_at=min(firsts) if firsts else None,
                last_activity_at=last,
                status=status_of(last, now, idle_after),
                main=main,
                subagents=tuple(subs),
                total=total,
                output_lower_bound=any(t.output_lower_bound for t in threads),
                version=s.main.version,
                tool_calls=sum(t.tool_calls for t in threads),
                tool_errors=sum(t.tool_errors for t in threads),
                files_changed=len(changed),
                lines_added=sum(t.lines_added for t in threads),
                lines_removed=sum(t.lines_removed for t in threads),
            )
        )
        totals.merge(total)
    sessions.sort(key=lambda x: (x.started_at or 0.0, x.session_id))
    return Report(tuple(sessions), totals)
