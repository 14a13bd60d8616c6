"""summary.build: filters, status, sub-agent linkage and the total = main + sub-agents invariant."""

from __future__ import annotations

import pytest

from agentwatch.core.accounts import Account, Call
from agentwatch.core.pricing import Rate, Rates
from agentwatch.core.records import (
    Agent,
    Record,
    SubagentLink,
    ThreadKey,
    ThreadSeen,
    ToolCall,
    ToolResult,
    UsageRecord,
)
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import Filter, Report, SessionSummary, build
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import ZERO, Tokens

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
T0 = 1_770_112_800.0  # 2026-02-03T10:00:00Z

A = ThreadKey(Agent.CLAUDE_CODE, "sess-a")
EXPLORE = ThreadKey(Agent.CLAUDE_CODE, "sess-a", "b4e91d2")
COMPACT = ThreadKey(Agent.CLAUDE_CODE, "sess-a", "acompact-7f3e")
B = ThreadKey(Agent.CODEX, "sess-b")

RATES = {
    SONNET: Rates(SONNET, Rate(3.0), Rate(15.0), Rate(3.75), Rate(6.0), Rate(0.3), "test"),
    HAIKU: Rates(HAIKU, Rate(1.0), Rate(5.0), Rate(1.25), Rate(2.0), Rate(0.1), "test"),
}

SPAWN = SubagentLink(A, None, "toolu_01", "Explore", "Find where refunds are computed")
LINK = SubagentLink(A, "b4e91d2", "toolu_01")


def use(thread: ThreadKey, key: str, at: float, model: str = SONNET, **counts: int) -> UsageRecord:
    return UsageRecord(thread, (key, "req"), model, T0 + at, Tokens(**counts))


def seen(thread: ThreadKey, first: float, last: float, cwd: str | None = None) -> ThreadSeen:
    path = f"/logs/{thread.session_id}/{thread.agent_id or 'main'}.jsonl"
    return ThreadSeen(thread, path, thread.agent_id is None, T0 + first, T0 + last, cwd, "2.1.150")


RECORDS: list[Record] = [
    seen(A, 0, 200, "/home/dev/shop-api"),
    use(A, "a1", 60, input=100, output=10),
    use(A, "a2", 120, HAIKU, input=200, output=20),
    use(A, "a3", 180, input=300, output=30),
    seen(EXPLORE, 125, 135),
    use(EXPLORE, "e1", 130, HAIKU, input=40, output=4),
    seen(COMPACT, 195, 205),
    use(COMPACT, "c1", 200, cache_read=5000, output=50),
    seen(B, 900, 1000, "/home/dev/blog"),
    use(B, "b1", 1000, "gpt-5", input=7, output=3),
    ToolCall(A, T0 + 61, "toolu_x", "Edit", "src/refund.py"),
    ToolResult(A, T0 + 62, "toolu_x", True, "d1", "src/refund.py", 4, 1),
    ToolCall(EXPLORE, T0 + 131, "toolu_y", "Bash", "pytest"),
    ToolResult(EXPLORE, T0 + 132, "toolu_y", False, "d2"),
]


def make(records: list[Record] = RECORDS, links: tuple[Record, ...] = (SPAWN, LINK)) -> Tally:
    tally = Tally(lambda model, ts: RATES.get(model))
    tally.apply([*records, *links])
    return tally


def report(flt: Filter | None = None, now: float = T0 + 1000, idle_after: float = 300) -> Report:
    return build(make(), flt or Filter(), now, idle_after)


def by_id(rep: Report) -> dict[str, SessionSummary]:
    return {s.session_id: s for s in rep.sessions}


def check_invariant(rep: Report) -> None:
    grand = Account()
    for s in rep.sessions:
        tokens, calls, cost = s.main.tokens, s.main.calls, s.main.cost
        for sub in s.subagents:
            tokens, calls, cost = (
                tokens + sub.account.tokens,
                calls + sub.account.calls,
                cost + sub.account.cost,
            )
        assert s.total.tokens == tokens
        assert s.total.calls == calls
        assert s.total.cost == pytest.approx(cost, rel=1e-12)
        grand.merge(s.total)
    assert rep.totals.tokens == grand.tokens
    assert rep.totals.calls == grand.calls


def test_unfiltered_report() -> None:
    rep = report()
    assert [s.session_id for s in rep.sessions] == ["sess-a", "sess-b"]
    a = rep.sessions[0]
    assert a.agent is Agent.CLAUDE_CODE
    assert a.project == "/home/dev/shop-api"
    assert a.main.tokens == Tokens(input=600, output=60)
    assert [x.agent_id for x in a.subagents] == ["b4e91d2", "acompact-7f3e"]
    assert a.total.tokens == Tokens(input=640, output=114, cache_read=5000)
    assert a.total.calls == 5
    assert a.models == [HAIKU, SONNET]
    assert a.started_at == T0
    assert a.last_activity_at == T0 + 205
    assert a.version == "2.1.150"
    assert (a.tool_calls, a.tool_errors, a.files_changed) == (2, 1, 1)
    assert (a.lines_added, a.lines_removed) == (4, 1)
    assert len(a.files) == 3
    b = rep.sessions[1]
    assert b.total.cost_usd is None
    assert b.total.unpriced_models == ["gpt-5"]
    assert rep.totals.tokens == Tokens(input=647, output=117, cache_read=5000)
    check_invariant(rep)


def test_time_window_keeps_only_calls_inside_a_straddling_session() -> None:
    # since is inclusive, until exclusive: a3 at +180 and c1 at +200 are out, B entirely.
    rep = report(Filter(since=T0 + 120, until=T0 + 180))
    assert [s.session_id for s in rep.sessions] == ["sess-a"]
    a = rep.sessions[0]
    assert a.main.tokens == Tokens(input=200, output=20)
    assert a.main.calls == 1
    assert [x.agent_id for x in a.subagents] == ["b4e91d2"]
    assert a.total.tokens == Tokens(input=240, output=24)
    assert a.total.cost == pytest.approx((240 * 1.0 + 24 * 5.0) / 1e6, rel=1e-12)
    check_invariant(rep)


def test_since_alone_selects_later_calls_across_sessions() -> None:
    rep = report(Filter(since=T0 + 180))
    s = by_id(rep)
    assert s["sess-a"].main.tokens == Tokens(input=300, output=30)
    assert [x.agent_id for x in s["sess-a"].subagents] == ["acompact-7f3e"]
    assert s["sess-b"].total.tokens == Tokens(input=7, output=3)
    assert rep.totals.calls == 3
    check_invariant(rep)


def test_window_with_no_calls_is_empty() -> None:
    rep = report(Filter(since=T0 + 500, until=T0 + 900))
    assert rep.sessions == ()
    assert rep.totals.calls == 0
    assert rep.totals.cost_usd is None


def test_model_filter_is_a_case_insensitive_substring() -> None:
    rep = report(Filter(model="HAIKU"))
    assert [s.session_id for s in rep.sessions] == ["sess-a"]
    a = rep.sessions[0]
    assert a.main.tokens == Tokens(input=200, output=20)
    assert [x.agent_id for x in a.subagents] == ["b4e91d2"]
    assert a.models == [HAIKU]
    check_invariant(rep)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter(project="SHOP-api"), ["sess-a"]),
        (Filter(project="blog"), ["sess-b"]),
        (Filter(project="/home/dev/"), ["sess-a", "sess-b"]),
        (Filter(project="nowhere"), []),
        (Filter(agent=Agent.CODEX), ["sess-b"]),
        (Filter(agent=Agent.GEMINI), []),
        (Filter(session_id="sess-a"), ["sess-a"]),
        (Filter(session_id="sess"), []),
        (Filter(agent=Agent.CLAUDE_CODE, model="gpt"), []),
    ],
)
def test_session_filters(flt: Filter, expected: list[str]) -> None:
    rep = report(flt)
    assert [s.session_id for s in rep.sessions] == expected
    assert rep.totals.calls == sum(s.total.calls for s in rep.sessions)
    check_invariant(rep)


def test_session_filter_keeps_whole_session_totals() -> None:
    s = report(Filter(project="shop")).sessions[0]
    assert s.total.tokens == Tokens(input=640, output=114, cache_read=5000)
    assert len(s.subagents) == 2


@pytest.mark.parametrize(
    ("now", "idle_after", "a_status", "b_status"),
    [
        (T0 + 1000, 300, SessionStatus.IDLE, SessionStatus.ACTIVE),  # A last seen at +205
        (T0 + 250, 300, SessionStatus.ACTIVE, SessionStatus.ACTIVE),
        (T0 + 1301, 300, SessionStatus.IDLE, SessionStatus.IDLE),
        (T0 + 1301, 2000, SessionStatus.ACTIVE, SessionStatus.ACTIVE),
    ],
)
def test_status_from_last_activity(
    now: float, idle_after: float, a_status: SessionStatus, b_status: SessionStatus
) -> None:
    s = by_id(report(now=now, idle_after=idle_after))
    assert s["sess-a"].status is a_status
    assert s["sess-b"].status is b_status


def test_session_without_timestamps_is_idle() -> None:
    rec = UsageRecord(
        ThreadKey(Agent.GEMINI, "g1"), ("g",), "gemini-2.5-pro", None, Tokens(input=1)
    )
    rep = build(make([rec], ()), Filter(), T0, 300)
    assert rep.sessions[0].status is SessionStatus.IDLE
    assert rep.sessions[0].last_activity_at is None
    # a call without a timestamp never passes a time bound
    assert build(make([rec], ()), Filter(since=0.0), T0, 300).sessions == ()


@pytest.mark.parametrize("links", [(SPAWN, LINK), (LINK, SPAWN)])
def test_subagent_linked_through_spawning_tool_use(links: tuple[Record, ...]) -> None:
    rep = build(make(RECORDS, links), Filter(), T0 + 1000, 300)
    explore, compact = rep.sessions[0].subagents
    assert explore.agent_id == "b4e91d2"
    assert explore.tool_use_id == "toolu_01"
    assert explore.agent_type == "Explore"
    assert explore.description == "Find where refunds are computed"
    assert explore.account.tokens == Tokens(input=40, output=4)
    assert (explore.first_ts, explore.last_ts) == (T0 + 125, T0 + 135)
    assert compact.agent_id == "acompact-7f3e"
    assert compact.agent_type is None
    assert compact.tool_use_id is None
    assert compact.description is None
    assert compact.account.tokens == Tokens(output=50, cache_read=5000)


def test_subagent_without_any_link_has_no_type() -> None:
    rep = build(make(RECORDS, ()), Filter(), T0 + 1000, 300)
    assert [(x.agent_id, x.agent_type) for x in rep.sessions[0].subagents] == [
        ("b4e91d2", None),
        ("acompact-7f3e", None),
    ]
    assert rep.sessions[0].subagents[0].account.tokens != ZERO


def test_per_minute_series_and_burn_rate_follow_growth_and_moves():
    owner = ThreadKey(Agent.CLAUDE_CODE, "s")
    acc = Account()
    c1 = Call(("k1",), Tokens(input=10, output=20), "m", 600.0, owner, None, False, (owner,))
    c2 = Call(("k2",), Tokens(output=30), "m", 659.0, owner, None, False, (owner,))
    c3 = Call(("k3",), Tokens(output=5), "m", 1000.0, owner, None, False, (owner,))
    for c in (c1, c2, c3):
        acc.add(c)
    assert acc.per_minute == {10: 60, 16: 5}
    assert acc.burn_rate(now=1000.0, window=300.0) == 5 / 5  # minutes 12..16 hold 5 tokens
    assert acc.burn_rate(now=700.0, window=300.0) == 60 / 5
    acc.remove(c1)
    assert acc.per_minute == {10: 30, 16: 5}
    acc.remove(c2)
    assert acc.per_minute == {16: 5}
