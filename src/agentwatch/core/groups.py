"""Report figures grouped by session, project, day or model (CLI_CONTRACT section 3 GROUP)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum

from agentwatch.core.accounts import Account, Call
from agentwatch.core.records import ThreadKey
from agentwatch.core.summary import Filter, Report, SessionSummary
from agentwatch.core.tokens import Tokens
from agentwatch.core.when import day_of

NO_PROJECT = "(no project)"
"""The key of sessions whose working directory is unknown."""
NO_TIME = "(no time)"
"""The day of calls logged without a timestamp."""


class GroupBy(StrEnum):
    """What a group is keyed on."""

    SESSION = "session"
    PROJECT = "project"
    DAY = "day"
    MODEL = "model"

    @property
    def needs_calls(self) -> bool:
        """True when the groups cut across sessions and need the individual calls."""
        return self in (GroupBy.DAY, GroupBy.MODEL)


@dataclass(frozen=True, slots=True)
class Group:
    """The calls that share a key, summed."""

    key: str
    """Session id, project (cwd), `YYYY-MM-DD` day in the chosen zone, or model id."""
    by: GroupBy
    """What `key` is."""
    account: Account
    """Tokens and cost of the group's calls."""
    sessions: int
    """Distinct sessions with at least one call in the group."""

    @property
    def tokens(self) -> Tokens:
        """The group's tokens (sub-agents included)."""
        return self.account.tokens

    @property
    def cost_usd(self) -> float | None:
        """USD of the priced calls; None when no call could be priced."""
        return self.account.cost_usd


def _order(groups: list[Group], by: GroupBy) -> list[Group]:
    if by is GroupBy.DAY:
        return sorted(groups, key=lambda g: (g.key == NO_TIME, g.key))
    return sorted(groups, key=lambda g: (-g.tokens.total, g.key))


def group_sessions(sessions: Iterable[SessionSummary], by: GroupBy) -> list[Group]:
    """Groups by session or project, from the sessions' totals (no per-call data needed).

    Args:
        sessions: Summaries, sub-agents included in their totals.
        by: `GroupBy.SESSION` or `GroupBy.PROJECT`.

    Returns:
        One group per key, most tokens first.

    Raises:
        ValueError: For a grouping that needs the calls (day, model).
    """
    if by.needs_calls:
        raise ValueError(f"grouping by {by} needs the calls: use group_calls")
    accounts: dict[str, Account] = {}
    counts: dict[str, int] = {}
    for s in sessions:
        key = s.session_id if by is GroupBy.SESSION else (s.project or NO_PROJECT)
        accounts.setdefault(key, Account()).merge(s.total)
        counts[key] = counts.get(key, 0) + 1
    return _order([Group(k, by, a, counts[k]) for k, a in accounts.items()], by)


def group_calls(
    calls: Iterable[Call],
    by: GroupBy,
    tz: tzinfo | None = None,
    project_of: Callable[[ThreadKey], str | None] | None = None,
) -> list[Group]:
    """Groups of individual calls; a call counts in the group of its own time and model.

    A session that crosses midnight therefore splits across two days.

    Args:
        calls: Deduplicated calls (already filtered).
        by: Any grouping; for `PROJECT` pass `project_of`.
        tz: The zone that decides what a day is (None: the system's local time).
        project_of: The project of a session's main thread (for `PROJECT`).

    Returns:
        One group per key: days in calendar order (`(no time)` last), others most tokens first.
    """
    accounts: dict[str, Account] = {}
    sessions: dict[str, set[ThreadKey]] = {}
    day_cache: dict[int, str] = {}  # calls cluster in minutes: one zone conversion per minute
    for call in calls:
        main = call.owner.main
        if by is GroupBy.DAY:
            if call.ts is None:
                key = NO_TIME
            else:
                minute = int(call.ts // 60)
                key = day_cache.get(minute) or day_cache.setdefault(minute, day_of(call.ts, tz))
        elif by is GroupBy.MODEL:
            key = call.model
        elif by is GroupBy.SESSION:
            key = main.session_id
        else:
            key = (project_of(main) if project_of else None) or NO_PROJECT
        acc = accounts.get(key)
        if acc is None:
            acc = accounts[key] = Account()
            sessions[key] = set()
        acc.add(call)
        sessions[key].add(main)
    return _order([Group(k, by, a, len(sessions[k])) for k, a in accounts.items()], by)


def group_report(
    rep: Report,
    by: GroupBy,
    calls: Iterable[Call] = (),
    flt: Filter | None = None,
    tz: tzinfo | None = None,
) -> list[Group]:
    """The groups of a report: the same calls, so the groups add up to the report's totals.

    Args:
        rep: The report (its sessions passed `flt`).
        by: The grouping.
        calls: Every deduplicated call (only read for day and model groups); those of sessions
            outside the report, or that fail `flt`, are left out.
        flt: The filter the report was built with.
        tz: The zone that decides what a day is (None: local time).
    """
    if not by.needs_calls:
        return group_sessions(rep.sessions, by)
    chosen = {ThreadKey(s.agent, s.session_id) for s in rep.sessions}
    flt = flt or Filter()
    picked = (
        c
        for c in calls
        if c.owner.main in chosen and (not flt.selects_calls or flt.call_ok(c.ts, c.model))
    )
    return group_calls(picked, by, tz)
