"""Grouping a report by session, project, day (in a zone) and model; tokens over time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentwatch.core.accounts import Call
from agentwatch.core.groups import NO_PROJECT, NO_TIME, GroupBy, group_calls, group_report
from agentwatch.core.records import Agent, ThreadKey, ThreadSeen, UsageRecord
from agentwatch.core.summary import Filter, build
from agentwatch.core.tally import Tally
from agentwatch.core.timeline import timeline
from agentwatch.core.tokens import Tokens

A = ThreadKey(Agent.CLAUDE_CODE, "aaaa")
B = ThreadKey(Agent.CLAUDE_CODE, "bbbb")
A_SUB = ThreadKey(Agent.CLAUDE_CODE, "aaaa", "a1b2c3d")
C = ThreadKey(Agent.CODEX, "cccc")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def call(owner: ThreadKey, when: float | None, n: int, model: str = "m1", key: str = "") -> Call:
    return Call(
        (key or f"{owner}-{when}-{model}",),
        Tokens(input=n, output=n * 10),
        model,
        when,
        owner,
        0.5 if model != "unpriced" else None,
        False,
        (owner,),
    )


def tally() -> Tally:
    """Session A crosses midnight UTC (and has a sub-agent); B and C sit on either side."""
    t = Tally()
    recs = [
        ThreadSeen(
            A, "/a.jsonl", True, at("2026-02-03T23:00:00"), at("2026-02-04T00:40:00"), "/p/a"
        ),
        ThreadSeen(A_SUB, "/a-sub.jsonl", False, at("2026-02-03T23:20:00"), None, "/p/a"),
        ThreadSeen(B, "/b.jsonl", True, at("2026-02-03T10:00:00"), None, "/p/b"),
        ThreadSeen(C, "/c.jsonl", True, at("2026-02-04T07:00:00"), None, None),
    ]
    usage = [
        (A, "2026-02-03T23:30:00", 1, "sonnet"),
        (A_SUB, "2026-02-03T23:45:00", 2, "haiku"),
        (A, "2026-02-04T00:30:00", 4, "sonnet"),
        (B, "2026-02-03T10:00:00", 8, "sonnet"),
        (C, "2026-02-04T07:00:00", 16, "gpt-5"),
    ]
    t.apply(recs)
    t.apply(
        UsageRecord(th, (f"k{i}",), model, at(when), Tokens(input=n, output=10 * n))
        for i, (th, when, n, model) in enumerate(usage)
    )
    return t


def summed(groups) -> Tokens:  # type: ignore[no-untyped-def]
    out = Tokens()
    for g in groups:
        out = out + g.tokens
    return out


@pytest.mark.parametrize("by", list(GroupBy))
def test_groups_add_up_to_the_report_totals(by: GroupBy) -> None:
    t = tally()
    rep = build(t, Filter(), at("2026-02-05T00:00:00"), 300.0)
    groups = group_report(rep, by, t.calls.values(), Filter(), ZoneInfo("UTC"))
    assert summed(groups) == rep.totals.tokens
    assert all(g.by is by for g in groups)


def test_day_keys_follow_the_zone_and_split_a_session_at_midnight() -> None:
    t = tally()
    rep = build(t, Filter(), at("2026-02-05T00:00:00"), 300.0)

    utc = group_report(rep, GroupBy.DAY, t.calls.values(), tz=ZoneInfo("UTC"))
    assert [(g.key, g.tokens.input, g.sessions) for g in utc] == [
        ("2026-02-03", 1 + 2 + 8, 2),  # A (main and sub-agent) before midnight, and B
        ("2026-02-04", 4 + 16, 2),  # A after midnight, and C
    ]
    # UTC-8: every call is still on the 3rd; UTC+9: B is on the 3rd, the rest on the 4th.
    la = group_report(rep, GroupBy.DAY, t.calls.values(), tz=ZoneInfo("America/Los_Angeles"))
    assert [(g.key, g.tokens.input) for g in la] == [("2026-02-03", 31)]
    tokyo = group_report(rep, GroupBy.DAY, t.calls.values(), tz=ZoneInfo("Asia/Tokyo"))
    assert [(g.key, g.tokens.input) for g in tokyo] == [("2026-02-03", 8), ("2026-02-04", 23)]


def test_model_groups_follow_each_call_and_count_sessions() -> None:
    t = tally()
    rep = build(t, Filter(), at("2026-02-05T00:00:00"), 300.0)
    groups = group_report(rep, GroupBy.MODEL, t.calls.values())
    assert [(g.key, g.tokens.input, g.sessions) for g in groups] == [
        ("gpt-5", 16, 1),
        ("sonnet", 13, 2),
        ("haiku", 2, 1),  # a sub-agent's model, in its parent session
    ]


def test_session_and_project_groups_come_from_the_summaries() -> None:
    t = tally()
    rep = build(t, Filter(), at("2026-02-05T00:00:00"), 300.0)
    by_session = group_report(rep, GroupBy.SESSION)
    assert [(g.key, g.tokens.input) for g in by_session] == [
        ("cccc", 16),
        ("bbbb", 8),
        ("aaaa", 7),  # sub-agent included
    ]
    by_project = group_report(rep, GroupBy.PROJECT)
    assert [(g.key, g.sessions) for g in by_project] == [(NO_PROJECT, 1), ("/p/b", 1), ("/p/a", 1)]


def test_filters_apply_to_the_calls_of_day_groups() -> None:
    t = tally()
    flt = Filter(since=at("2026-02-04T00:00:00"))
    rep = build(t, flt, at("2026-02-05T00:00:00"), 300.0)
    groups = group_report(rep, GroupBy.DAY, t.calls.values(), flt, ZoneInfo("UTC"))
    assert [(g.key, g.tokens.input) for g in groups] == [("2026-02-04", 20)]
    assert summed(groups) == rep.totals.tokens
    only_b = build(t, Filter(project="/p/b"), at("2026-02-05T00:00:00"), 300.0)
    groups = group_report(only_b, GroupBy.MODEL, t.calls.values(), Filter(project="/p/b"))
    assert [(g.key, g.tokens.input) for g in groups] == [("sonnet", 8)]


def test_group_calls_without_time_or_price() -> None:
    calls = [
        call(A, None, 1, "unpriced"),
        call(A, at("2026-02-03T12:00:00"), 2),
        call(B, at("2026-02-03T13:00:00"), 3, "unpriced"),
    ]
    days = group_calls(calls, GroupBy.DAY, ZoneInfo("UTC"))
    assert [(g.key, g.sessions) for g in days] == [("2026-02-03", 2), (NO_TIME, 1)]
    assert days[1].cost_usd is None  # never a silent $0
    assert days[0].cost_usd == 0.5
    assert days[0].account.unpriced_models == ["unpriced"]
    projects = group_calls(calls, GroupBy.PROJECT, project_of={A: "/p/a"}.get)
    # equal tokens: ties go by key
    assert [(g.key, g.tokens.input) for g in projects] == [(NO_PROJECT, 3), ("/p/a", 3)]


def test_session_groups_refuse_per_call_groupings() -> None:
    from agentwatch.core.groups import group_sessions  # noqa: PLC0415

    with pytest.raises(ValueError, match="needs the calls"):
        group_sessions([], GroupBy.DAY)


def test_timeline_hours_with_gaps_and_days_for_long_spans() -> None:
    m = int(at("2026-02-03T10:05:00") // 60)
    unit, buckets = timeline([{m: 5}, {m + 1: 1, m + 185: 7}], ZoneInfo("UTC"))
    assert unit == "hour"
    assert [(b.label, b.tokens) for b in buckets] == [
        ("2026-02-03 10:00", 6),
        ("2026-02-03 11:00", 0),
        ("2026-02-03 12:00", 0),
        ("2026-02-03 13:00", 7),
    ]
    unit, buckets = timeline([{m: 5, m + 4 * 1440: 3}], ZoneInfo("Asia/Tokyo"))
    assert unit == "day"
    assert [(b.label, b.tokens) for b in buckets] == [
        ("2026-02-03", 5),
        ("2026-02-04", 0),
        ("2026-02-05", 0),
        ("2026-02-06", 0),
        ("2026-02-07", 3),
    ]
    assert timeline([], None) == ("hour", [])
