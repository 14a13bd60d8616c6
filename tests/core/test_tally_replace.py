"""Tally: `replace` records (last record wins) and `UsageRetract`, for sources whose logs
re-write or take back calls (Gemini). Accounts, per-minute series, the total and change events
all move by the possibly negative delta."""

from __future__ import annotations

import pytest

from agentwatch.core.pricing import Rate, Rates
from agentwatch.core.records import Agent, Record, ThreadKey, UsageRecord, UsageRetract
from agentwatch.core.tally import Tally, UsageChange
from agentwatch.core.tokens import ZERO, Tokens

PRO = "gemini-2.5-pro"
T0 = 1_772_355_600.0  # 2026-03-01T09:00:00Z
S = ThreadKey(Agent.GEMINI, "sess-1")
SUB = ThreadKey(Agent.GEMINI, "sess-1", "child-1")
# USD per million tokens: input 1, output 10, read 0.1.
RATES = Rates(PRO, Rate(1.0), Rate(10.0), Rate(0.0), Rate(0.0), Rate(0.1), "test")


def prices(model: str, ts: float | None, /) -> Rates | None:
    return RATES if model == PRO else None


def rec(
    thread: ThreadKey, mid: str, at: float = 0.0, *, replace: bool = True, **n: int
) -> UsageRecord:
    key = ("gemini", thread.agent_id or thread.session_id, mid)
    return UsageRecord(thread, key, PRO, T0 + at, Tokens(**n), mid, None, False, replace)


def retract(thread: ThreadKey, mid: str) -> UsageRetract:
    return UsageRetract(thread, ("gemini", thread.agent_id or thread.session_id, mid))


def test_a_smaller_replace_record_wins_and_the_delta_is_negative() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    tally.apply([rec(S, "m1", input=100, output=50)])
    tally.apply([rec(S, "m1", input=100, output=20)])
    acc = tally.thread(S).account
    assert acc.tokens == tally.total.tokens == Tokens(input=100, output=20)
    assert acc.calls == 1
    assert acc.cost == pytest.approx((100 * 1.0 + 20 * 10.0) / 1e6)
    assert [e.delta for e in events] == [Tokens(input=100, output=50), Tokens(output=-30)]
    assert acc.per_minute == {int(T0 // 60): 120}


def test_without_replace_the_smaller_record_still_changes_nothing() -> None:
    tally = Tally(prices)
    tally.apply([rec(S, "m1", input=100, output=50)])
    tally.apply([rec(S, "m1", replace=False, input=100, output=20)])
    assert tally.thread(S).account.tokens == Tokens(input=100, output=50)


def test_an_identical_replace_record_emits_nothing() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    tally.apply([rec(S, "m1", input=7)])
    tally.apply([rec(S, "m1", input=7)])
    assert len(events) == 1


def test_replace_moves_the_call_to_its_new_minute() -> None:
    tally = Tally(prices)
    tally.apply([rec(S, "m1", 0.0, input=10)])
    tally.apply([rec(S, "m1", 120.0, input=10)])
    assert tally.thread(S).account.per_minute == {int(T0 // 60) + 2: 10}
    assert tally.total.per_minute == {int(T0 // 60) + 2: 10}


def test_retract_takes_the_call_away_everywhere() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    tally.apply([rec(S, "m1", input=100, output=5), rec(SUB, "m2", 60.0, input=40)])
    tally.apply([retract(SUB, "m2")])
    assert tally.thread(SUB).account.tokens == ZERO
    assert tally.thread(SUB).account.calls == 0
    assert tally.thread(SUB).account.per_minute == {}
    assert tally.thread(SUB).account.models == []
    assert tally.total.tokens == Tokens(input=100, output=5)
    assert tally.total.calls == 1
    assert ("gemini", "child-1", "m2") not in tally.calls
    assert events[-1].thread == SUB
    assert events[-1].delta == Tokens(input=-40)
    # Retracting again, or an unknown key, changes nothing.
    n = len(events)
    tally.apply([retract(SUB, "m2"), retract(S, "never")])
    assert len(events) == n
    # The same message can come back.
    tally.apply([rec(SUB, "m2", 60.0, input=41)])
    assert tally.total.tokens == Tokens(input=141, output=5)


def test_bulk_load_gives_the_same_sums_as_one_by_one() -> None:
    batch: list[Record] = [
        rec(S, "m1", input=100, output=50),
        rec(S, "m2", 30.0, input=10),
        rec(S, "m1", input=100, output=20),
        retract(S, "m2"),
        rec(SUB, "m3", 90.0, input=5, cache_read=70),
    ]
    live = Tally(prices)
    for r in batch:
        live.apply([r])
    bulk = Tally(prices)
    bulk.begin_bulk()
    bulk.apply(batch)
    bulk.settle()
    for t in (live, bulk):
        assert t.total.tokens == Tokens(input=105, output=20, cache_read=70)
        assert t.thread(S).account.tokens == Tokens(input=100, output=20)
        assert t.total.cost == pytest.approx((105 + 200 + 7) / 1e6)
    assert live.total.per_minute == bulk.total.per_minute
