"""What the board is built from: a tally plus activity records in a period, or live summaries."""

from __future__ import annotations

import pytest

from agentwatch.core.accounts import Account, Call
from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.leaderboard import By, build_rows
from agentwatch.core.leaderboard_input import AlertMark, from_history, from_summaries, mark
from agentwatch.core.records import Agent, Record, ThreadKey, ThreadSeen, ToolResult, UsageRecord
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import Filter, SessionSummary
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import Tokens

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
T0 = 1_770_112_800.0  # 2026-02-03T10:00:00Z, a multiple of the 600 s window
W = 600.0

SHOP = ThreadKey(Agent.CLAUDE_CODE, "shop")
SUB = ThreadKey(Agent.CLAUDE_CODE, "shop", "a1b2c3d")
BLOG = ThreadKey(Agent.CODEX, "blog")


def use(thread: ThreadKey, key: str, at: float, total: int, model: str = SONNET) -> UsageRecord:
    return UsageRecord(thread, (key, "r"), model, T0 + at, Tokens(input=total))


def change(thread: ThreadKey, at: float, path: str, added: int, removed: int) -> ToolResult:
    return ToolResult(thread, T0 + at, f"t{at}", True, "d", path, added, removed)


RECORDS: list[Record] = [
    ThreadSeen(SHOP, "/l/shop.jsonl", True, T0, T0 + 4200, "/home/dev/shop", "2.1.150"),
    ThreadSeen(SUB, "/l/shop/agent-a1b2c3d.jsonl", False, T0 + 90, T0 + 130),
    ThreadSeen(BLOG, "/l/blog.jsonl", True, T0, T0 + 900, "/home/dev/blog"),
    use(SHOP, "m1", 0, 1_000),  # window 0: the sub-agent changed a file in it
    use(SUB, "s1", 100, 400, HAIKU),  # window 0
    change(SUB, 120, "/home/dev/shop/b.py", 3, 0),
    change(SHOP, 650, "/home/dev/shop/a.py", 5, 1),  # window 1
    use(SHOP, "m2", 700, 2_000),  # window 1: not idle
    use(SHOP, "m3", 1300, 4_000),  # window 2: no change in it, idle
    use(SHOP, "m4", 4000, 8_000),  # window 6
    change(SHOP, 4100, "/home/dev/shop/a.py", 2, 2),  # window 6
    use(BLOG, "b1", 60, 50_000),
]
ALERTS = {
    SHOP: [
        AlertMark("a1b2c3d", "repetition", "warning", T0 + 100, T0 + 200),
        AlertMark(None, "idle_burn", "warning", T0 + 1250, None),
    ]
}


def tally() -> Tally:
    t = Tally()
    t.apply(RECORDS)
    return t


def activity() -> list[ToolResult]:
    return [r for r in RECORDS if isinstance(r, ToolResult)]


def test_the_whole_history_counts_every_call_change_and_alert():
    work = {s.session_id: s for s in from_history(tally(), activity(), Filter(), W, ALERTS)}
    assert set(work) == {"shop", "blog"}
    shop = work["shop"]
    assert shop.project == "/home/dev/shop"
    assert (shop.first_at, shop.last_at) == (T0, T0 + 4000)
    assert shop.files_changed == 2
    main, sub = shop.threads  # main thread first
    assert main.by_model == {SONNET: Tokens(input=15_000)}
    assert main.idle_by_model == {SONNET: 4_000}
    assert (main.files_changed, main.lines_added, main.lines_removed) == (1, 7, 3)
    assert [a.kind for a in main.alerts] == ["idle_burn"]
    assert sub.by_model == {HAIKU: Tokens(input=400)}
    assert sub.idle_by_model == {}
    assert (sub.files_changed, sub.lines_added) == (1, 3)
    assert [a.kind for a in sub.alerts] == ["repetition"]
    row = build_rows([shop])[0]
    assert row.idle_burn_share == pytest.approx(4_000 / 15_400)
    assert row.tokens_per_changed_line == pytest.approx(15_400 / 13)
    # BLOG made no change at all: every token idle
    assert build_rows([work["blog"]])[0].idle_burn_share == 1.0


def test_a_period_keeps_only_its_calls_changes_and_overlapping_alerts():
    flt = Filter(since=T0 + 600, until=T0 + 4050)
    work = {s.session_id: s for s in from_history(tally(), activity(), flt, W, ALERTS)}
    assert set(work) == {"shop"}  # blog's only call is before the period
    shop = work["shop"]
    assert (shop.first_at, shop.last_at) == (T0 + 700, T0 + 4000)
    assert len(shop.threads) == 1  # the sub-agent did nothing in the period
    (main,) = shop.threads
    assert main.by_model == {SONNET: Tokens(input=14_000)}
    # window 6's change (at +4100) is after the period but still marks its window as busy
    assert main.idle_by_model == {SONNET: 4_000}
    assert (main.lines_added, main.lines_removed) == (5, 1)
    assert [a.kind for a in main.alerts] == ["idle_burn"]


def test_an_alert_of_a_thread_idle_in_the_period_stays_with_its_session():
    flt = Filter(since=T0 + 600)
    alerts = {SHOP: [AlertMark("a1b2c3d", "repetition", "critical", T0 + 100, None)]}
    (shop,) = [
        s for s in from_history(tally(), activity(), flt, W, alerts) if s.session_id == "shop"
    ]
    assert [a.agent_id for t in shop.threads for a in t.alerts] == ["a1b2c3d"]
    assert build_rows([shop])[0].disqualified


def test_session_filters_apply_before_anything_is_counted():
    flt = Filter(project="blog")
    assert [s.session_id for s in from_history(tally(), activity(), flt, W, ALERTS)] == ["blog"]
    flt = Filter(agent=Agent.CLAUDE_CODE)
    assert [s.session_id for s in from_history(tally(), activity(), flt, W, ALERTS)] == ["shop"]


def test_by_model_from_history_keeps_each_threads_lines_with_its_model():
    work = from_history(tally(), activity(), Filter(project="shop"), W, ALERTS)
    rows = {r.key: r for r in build_rows(work, By.MODEL)}
    assert (rows[SONNET].lines_added, rows[SONNET].lines_removed) == (7, 3)
    assert (rows[HAIKU].lines_added, rows[HAIKU].lines_removed) == (3, 0)
    assert not rows[SONNET].produced_estimated
    assert rows[HAIKU].idle_burn_share == 0.0


def summary(sid: str, minutes: list[int], alerts_ok: bool = True) -> SessionSummary:
    acc = Account()
    owner = ThreadKey(Agent.CLAUDE_CODE, sid)
    for i, m in enumerate(minutes):
        acc.add(
            Call(
                (sid, str(i)),
                Tokens(input=1000),
                SONNET,
                m * 60.0 + 5,
                owner,
                None,
                False,
                (owner,),
            )
        )
    return SessionSummary(
        Agent.CLAUDE_CODE,
        sid,
        "/home/dev/shop",
        (),
        0.0,  # a resumed session's copied lines can start long before its own calls
        minutes[-1] * 60.0 + 30,
        SessionStatus.IDLE,
        acc,
        (),
        acc,
        False,
        None,
        0,
        0,
        4,
        40,
        10,
    )


def test_live_summaries_become_one_thread_sessions_spanning_their_call_minutes():
    alert = Alert(
        "x",
        ThreadKey(Agent.CLAUDE_CODE, "s"),
        AlertKind.ERROR_LOOP,
        Severity.WARNING,
        5.0,
        6.0,
        None,
        "r",
        10,
    )
    (s,) = from_summaries([summary("s", [1000, 1010, 1090])], {"s": [alert]})
    assert (s.first_at, s.last_at) == (60_000.0, 65_400.0)
    assert s.files_changed == 4
    (t,) = s.threads
    assert t.by_model == {SONNET: Tokens(input=3000)}
    assert t.idle_by_model is None
    assert (t.lines_added, t.lines_removed) == (40, 10)
    assert t.alerts == (mark(alert),)
    assert mark(alert) == AlertMark(None, "error_loop", "warning", 5.0, None)
