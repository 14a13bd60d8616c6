"""Tally: max-wins per key (C3), global dedup credit (C4), change events and accounts."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from agentwatch.core.accounts import Account, Call
from agentwatch.core.pricing import Rate, Rates
from agentwatch.core.records import Agent, Record, ThreadKey, ThreadSeen, UsageRecord
from agentwatch.core.tally import Tally, UsageChange
from agentwatch.core.tokens import ZERO, Tokens

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
T0 = 1_770_112_800.0  # 2026-02-03T10:00:00Z

A = ThreadKey(Agent.CLAUDE_CODE, "sess-a")
B = ThreadKey(Agent.CLAUDE_CODE, "sess-b")
A_SUB = ThreadKey(Agent.CLAUDE_CODE, "sess-a", "a1b2c3")

# USD per million tokens: input 3, output 15, 5m write 3.75, 1h write 6, read 0.3.
SONNET_RATES = Rates(SONNET, Rate(3.0), Rate(15.0), Rate(3.75), Rate(6.0), Rate(0.3), "test")
HAIKU_RATES = Rates(HAIKU, Rate(1.0), Rate(5.0), Rate(1.25), Rate(2.0), Rate(0.1), "test", True)


def prices(model: str, ts: float | None, /) -> Rates | None:
    return {SONNET: SONNET_RATES, HAIKU: HAIKU_RATES}.get(model)


def use(thread: ThreadKey, key: str, model: str = SONNET, **counts: int) -> UsageRecord:
    return UsageRecord(thread, (key, "req"), model, T0, Tokens(**counts), key, "req")


def seen(thread: ThreadKey, first: float, last: float, *, main: bool = True) -> ThreadSeen:
    return ThreadSeen(thread, f"/logs/{thread.session_id}.jsonl", main, T0 + first, T0 + last)


def snapshot(tally: Tally) -> dict[ThreadKey, tuple[Tokens, int, float, list[str]]]:
    out = {}
    for s in tally.sessions.values():
        for t in (s.main, *s.subagents.values()):
            acc = t.account
            out[t.key] = (acc.tokens, acc.calls, round(acc.cost, 12), acc.models)
    return out


# ---- C3: the largest line per key wins -------------------------------------------------------
def test_later_bigger_line_replaces_and_account_grows_by_the_difference() -> None:
    tally = Tally(prices)
    tally.apply([use(A, "msg_1", input=4, cache_read=30120, output=8)])
    acc = tally.thread(A).account
    before_tokens, before_cost = acc.tokens, acc.cost
    assert before_tokens.total == 30132
    tally.apply([use(A, "msg_1", input=4, cache_read=30120, output=377)])
    assert acc.calls == 1
    assert acc.tokens == Tokens(input=4, output=377, cache_read=30120)
    assert acc.tokens.total - before_tokens.total == 369
    assert acc.cost - before_cost == pytest.approx(369 * 15.0 / 1e6, rel=1e-12)
    assert tally.calls[("msg_1", "req")].tokens.output == 377


def test_smaller_later_line_changes_nothing() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    tally.apply([use(A, "msg_1", input=10, output=500)])
    acc = tally.thread(A).account
    cost = acc.cost
    n = len(events)
    tally.apply([use(A, "msg_1", input=10, output=8)])
    assert acc.tokens == Tokens(input=10, output=500)
    assert acc.calls == 1
    assert acc.cost == cost
    assert all(not e.delta for e in events[n:])


@pytest.mark.parametrize("outputs", list(itertools.permutations([8, 377, 120])))
def test_never_first_wins_for_any_arrival_order(outputs: tuple[int, ...]) -> None:
    tally = Tally(prices)
    for out in outputs:
        tally.apply([use(A, "msg_1", input=4, output=out)])
    acc = tally.thread(A).account
    assert acc.tokens == Tokens(input=4, output=377)
    assert acc.calls == 1
    assert acc.cost == pytest.approx((4 * 3.0 + 377 * 15.0) / 1e6, rel=1e-12)


def test_distinct_keys_are_separate_calls() -> None:
    tally = Tally(prices)
    tally.apply([use(A, "msg_1", input=1, output=2), use(A, "msg_2", input=3, output=4)])
    assert tally.thread(A).account.calls == 2
    assert tally.thread(A).account.tokens == Tokens(input=4, output=6)


# ---- change events ----------------------------------------------------------------------------
def test_change_deltas_sum_to_final_totals_including_negative_moves() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    tally.apply([seen(B, 100, 200), use(A, "k", input=100)])  # A's start still unknown
    tally.apply([use(B, "k", input=150)])  # B starts first so far: B takes the call, grown
    assert tally.calls[("k", "req")].owner == B
    tally.apply([seen(A, 50, 300)])  # A started earlier: the call moves back to A
    tally.apply([use(A, "k", input=160), use(A, "other", output=7)])
    assert tally.calls[("k", "req")].owner == A

    sums: dict[ThreadKey, Tokens] = {}
    for e in events:
        sums[e.thread] = sums.get(e.thread, ZERO) + e.delta
    assert sums[A] == tally.thread(A).account.tokens == Tokens(input=160, output=7)
    assert sums[B] == tally.thread(B).account.tokens == ZERO
    negatives = [e for e in events if e.delta.input < 0]
    assert {e.thread for e in negatives} == {A, B}
    assert Tokens(input=-150) in {e.delta for e in negatives if e.thread == B}


def test_a_moved_call_leaves_its_old_owner_at_the_time_it_was_credited_there() -> None:
    events: list[UsageChange] = []
    tally = Tally(prices, on_change=events.append)
    copy_b = UsageRecord(B, ("k", "req"), SONNET, T0 + 10, Tokens(input=5), "k", "req")
    tally.apply([seen(B, 100, 200), copy_b])
    grown_a = UsageRecord(A, ("k", "req"), SONNET, T0 + 70, Tokens(input=9), "k", "req")
    tally.apply([seen(A, 50, 300), grown_a])  # A ranks first and has a larger, later copy
    assert tally.calls[("k", "req")].owner == A
    moved = [(e.thread, e.delta.input, e.ts) for e in events[1:]]
    assert moved == [(B, -5, T0 + 10), (A, 9, T0 + 70)]
    tally.apply([UsageRecord(A, ("k", "req"), SONNET, T0 + 90, Tokens(input=12), "k", "req")])
    assert (events[-1].thread, events[-1].delta.input, events[-1].ts) == (A, 3, T0 + 90)


# ---- C4: global dedup, credit to the session that starts first ------------------------------
SPANS = [
    # (A main file span, B main file span, credited session)
    ((100, 900), (200, 300), A),  # A starts first, even though B ends first
    ((200, 300), (100, 900), B),
    ((100, 900), (100, 300), B),  # same start: B ends first
    ((100, 300), (100, 300), A),  # full tie: smaller id
]


def _c4_records(a_span: Sequence[int], b_span: Sequence[int]) -> list[Record]:
    return [
        use(A, "shared", input=5, output=40, cache_read=1000),
        use(B, "shared", input=5, output=300, cache_read=1000),  # a copy taken later, larger
        use(B, "own", output=11),
        seen(A, *a_span),
        seen(B, *b_span),
    ]


@pytest.mark.parametrize(("a_span", "b_span", "winner"), SPANS)
def test_shared_key_credit_is_identical_for_every_order(
    a_span: tuple[int, int], b_span: tuple[int, int], winner: ThreadKey
) -> None:
    records = _c4_records(a_span, b_span)
    loser = B if winner == A else A
    results = []
    for order in itertools.permutations(records):
        for batched in (False, True):
            tally = Tally(prices)
            if batched:
                tally.apply(order)
            else:
                for rec in order:
                    tally.apply([rec])
            call = tally.calls[("shared", "req")]
            assert call.owner == winner, (order, batched)
            assert call.tokens == Tokens(input=5, output=300, cache_read=1000)
            results.append(snapshot(tally))
    assert all(r == results[0] for r in results)
    final = results[0]
    own = Tokens(output=11)
    shared = Tokens(input=5, output=300, cache_read=1000)
    assert final[winner][0] == shared + (own if winner == B else ZERO)
    assert final[loser][0] == (own if loser == B else ZERO)
    assert final[winner][1] == (2 if winner == B else 1)
    assert final[loser][1] == (1 if loser == B else 0)
    assert final[loser][3] == ([SONNET] if loser == B else [])


@pytest.mark.parametrize("seen_first", [True, False])
def test_key_in_main_and_subagent_of_one_session_goes_to_main(seen_first: bool) -> None:
    usages: list[Record] = [
        use(A_SUB, "k", input=2, output=900),
        use(A, "k", input=2, output=50),
    ]
    seens: list[Record] = [seen(A_SUB, 0, 10, main=False), seen(A, 20, 30)]
    for order in itertools.permutations(usages):
        tally = Tally(prices)
        batches = [seens, list(order)] if seen_first else [list(order), seens]
        for batch in batches:
            tally.apply(batch)
        assert tally.calls[("k", "req")].owner == A
        assert tally.thread(A).account.tokens == Tokens(input=2, output=900)
        assert tally.thread(A_SUB).account.calls == 0
        assert tally.thread(A_SUB).account.tokens == ZERO
        assert set(tally.calls[("k", "req")].threads) == {A, A_SUB}


# ---- accounts: models, prices, estimates --------------------------------------------------
def test_per_model_accounts() -> None:
    tally = Tally(prices)
    tally.apply(
        [
            use(A, "m1", input=1000, output=2000),
            use(A, "m2", input=10, output=20),
            use(A, "m3", HAIKU, input=4000, cache_write=1000, cache_write_1h=400),
        ]
    )
    acc = tally.thread(A).account
    assert acc.models == [HAIKU, SONNET]
    assert acc.by_model[SONNET] == Tokens(input=1010, output=2020)
    assert acc.by_model[HAIKU] == Tokens(input=4000, cache_write=1000, cache_write_1h=400)
    assert acc.model_calls == {SONNET: 2, HAIKU: 1}
    assert acc.cost_by_model[SONNET] == pytest.approx((1010 * 3 + 2020 * 15) / 1e6, rel=1e-12)
    assert acc.cost_by_model[HAIKU] == pytest.approx((4000 + 600 * 1.25 + 400 * 2) / 1e6)
    assert acc.cost == pytest.approx(sum(acc.cost_by_model.values()), rel=1e-12)


def test_unpriced_model_only_gives_no_cost() -> None:
    tally = Tally(prices)
    tally.apply([use(A, "x1", "mystery-model", input=5), use(A, "x2", "mystery-model", output=3)])
    acc = tally.thread(A).account
    assert acc.cost_usd is None
    assert acc.unpriced == {"mystery-model": 2}
    assert acc.unpriced_models == ["mystery-model"]
    assert acc.priced_calls == 0
    assert acc.cost_is_estimate is True
    assert acc.by_model["mystery-model"] == Tokens(input=5, output=3)


def test_unpriced_next_to_priced_keeps_the_priced_cost() -> None:
    tally = Tally(prices)
    tally.apply([use(A, "x1", "mystery-model", input=5), use(A, "s1", input=1_000_000)])
    acc = tally.thread(A).account
    assert acc.cost_usd == pytest.approx(3.0)
    assert acc.unpriced_models == ["mystery-model"]
    assert acc.calls == 2
    assert acc.priced_calls == 1
    assert acc.cost_is_estimate is True


def test_estimate_flag_follows_the_rates() -> None:
    exact = Tally(prices)
    exact.apply([use(A, "s1", input=100)])
    assert exact.thread(A).account.cost_is_estimate is False
    assert exact.thread(A).account.estimate_calls == 0
    est = Tally(prices)
    est.apply([use(A, "h1", HAIKU, input=100), use(A, "s1", input=100)])
    assert est.thread(A).account.estimate_calls == 1
    assert est.thread(A).account.cost_is_estimate is True
    assert est.calls[("h1", "req")].estimate is True


def _call(key: str, model: str, tokens: Tokens, cost: float | None, estimate: bool) -> Call:
    return Call((key,), tokens, model, T0, A, cost, estimate, (A,))


def test_account_add_then_remove_returns_to_zero() -> None:
    c1 = _call(
        "c1", SONNET, Tokens(input=3, output=70, cache_write=9, cache_write_1h=4), 0.25, True
    )
    c2 = _call("c2", "mystery", Tokens(input=8, cache_read=1000), None, False)
    c3 = _call("c3", SONNET, Tokens(output=5), 0.125, False)
    acc = Account()
    for c in (c1, c2, c3):
        acc.add(c)
    assert acc.calls == 3
    assert acc.models == [SONNET, "mystery"]
    assert acc.cost_usd == pytest.approx(0.375)
    acc.remove(c1)
    assert acc.by_model[SONNET] == Tokens(output=5)
    assert acc.estimate_calls == 0
    assert acc.cost_by_model[SONNET] == pytest.approx(0.125)
    acc.remove(c2)
    acc.remove(c3)
    assert acc.tokens == ZERO
    assert acc.calls == acc.priced_calls == acc.estimate_calls == 0
    assert acc.cost == pytest.approx(0.0, abs=1e-15)
    assert acc.cost_usd is None
    assert acc.models == []
    assert acc.unpriced_models == []
    assert not acc.model_calls
    assert acc.cost_by_model == {}
    assert acc.cost_is_estimate is False


def test_account_merge_equals_adding_every_call() -> None:
    c1 = _call("c1", SONNET, Tokens(input=3, output=70), 0.5, False)
    c2 = _call("c2", "mystery", Tokens(input=8), None, False)
    left, right, both = Account(), Account(), Account()
    left.add(c1)
    right.add(c2)
    for c in (c1, c2):
        both.add(c)
    left.merge(right)
    assert left.tokens == both.tokens == Tokens(input=11, output=70)
    assert left.calls == both.calls == 2
    assert left.unpriced == both.unpriced
    assert left.by_model == both.by_model
    assert left.cost_usd == both.cost_usd == 0.5


def test_price_ahead_looks_up_every_call_before_the_settle() -> None:
    asked: list[tuple[str, float | None]] = []

    def lookup(model: str, ts: float | None, /) -> None:
        asked.append((model, ts))

    tally = Tally(lookup)
    tally.begin_bulk()  # (a bulk load prices nothing until it settles)
    tally.apply(
        [
            UsageRecord(A, ("cc", "m1", "r1"), "model-a", 100.0, Tokens(1, 2)),
            UsageRecord(A, ("cc", "m2", "r2"), "model-b", 200.0, Tokens(3, 4)),
        ]
    )
    assert asked == []
    tally.price_ahead()
    assert sorted(asked) == [("model-a", 100.0), ("model-b", 200.0)]


def test_the_total_after_a_bulk_load_is_summed_on_demand_and_then_kept_live() -> None:
    tally = Tally(prices)
    tally.begin_bulk()
    tally.apply([seen(A, 0, 60), seen(B, 10, 90), seen(A_SUB, 5, 20, main=False)])
    tally.apply(
        [use(A, "k1", output=100), use(B, "k2", HAIKU, output=40), use(A_SUB, "k3", input=7)]
    )
    tally.settle()
    # Calls arriving live after the load: one grows, one moves the total only through its owner.
    tally.apply([use(B, "k2", HAIKU, output=65), use(A, "k4", cache_read=1000)])
    accounts = [s.main.account for s in tally.sessions.values()]
    accounts += [t.account for s in tally.sessions.values() for t in s.subagents.values()]
    assert tally.total.tokens == sum((a.tokens for a in accounts), ZERO)
    assert tally.total.tokens == Tokens(input=7, output=165, cache_read=1000)
    assert tally.total.calls == 4
    assert tally.total.cost == pytest.approx(sum(a.cost for a in accounts))
    assert tally.total.by_model[HAIKU] == Tokens(output=65)
