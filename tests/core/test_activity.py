"""The activity model: signatures, matching, disorder, bounded memory, rates."""

from __future__ import annotations

import math

import pytest

from agentwatch.core.activity import (
    DEFAULT_RETENTION_S,
    SIG_MAX,
    Activity,
    SessionActivity,
    ThreadActivity,
    signature,
)
from agentwatch.core.detectors import evaluate
from agentwatch.core.records import (
    Agent,
    HumanTurn,
    SubagentLink,
    ThreadKey,
    ToolCall,
    ToolResult,
    UsageRecord,
)
from agentwatch.core.thresholds import Thresholds
from agentwatch.core.tokens import Tokens

T0 = 1_770_112_800.0
S = ThreadKey(Agent.CLAUDE_CODE, "sess-1")
SUB = ThreadKey(Agent.CLAUDE_CODE, "sess-1", "a1")


def test_signature_collapses_whitespace_and_bounds_long_arguments() -> None:
    assert signature("Bash", "  npm\ttest \n -- -x ") == "Bash: npm test -- -x"
    assert signature("TodoWrite", None) == "TodoWrite"
    long_a, long_b = "x" * 400 + "a", "x" * 400 + "b"
    sig_a, sig_b = signature("Bash", long_a), signature("Bash", long_b)
    assert sig_a != sig_b
    assert len(sig_a) <= len("Bash: ") + SIG_MAX
    assert signature("Bash", long_a) == sig_a  # stable


def test_results_match_their_calls_in_either_order() -> None:
    t = ThreadActivity(S)
    assert t.add_call(ToolCall(S, T0, "c1", "Bash", "ls")) is None
    out = t.add_result(ToolResult(S, T0 + 1, "c1", True, "d1"))
    assert out is not None
    assert (out.ts, out.called, out.sig, out.ok, out.digest) == (T0 + 1, T0, "Bash: ls", True, "d1")
    assert t.add_result(ToolResult(S, T0 + 5, "c2", False, "d2")) is None  # result first
    early = t.add_call(ToolCall(S, T0 + 4, "c2", "Read", "/p/a.py"))
    assert early is not None
    assert (early.name, early.ok, early.read) == ("Read", False, False)
    assert (t.tool_calls, t.tool_errors) == (2, 1)


def test_events_arriving_out_of_order_stay_sorted() -> None:
    t = ThreadActivity(S)
    for i, at in enumerate([30, 10, 20, 5, 25]):
        t.add_usage(T0 + at, 100, key=f"k{i}")
        t.add_call(ToolCall(S, T0 + at, f"c{i}", "Grep", f"p{i}"))
        t.add_result(ToolResult(S, T0 + at + 1, f"c{i}", True, f"d{i}"))
    assert [u[0] - T0 for u in t.usage] == [5, 10, 20, 25, 30]
    assert [o.ts - T0 for o in t.outcomes] == [6, 11, 21, 26, 31]
    assert (t.first_ts, t.last_ts) == (T0 + 5, T0 + 31)


def test_a_growing_call_counts_once_and_usage_without_a_time_counts_in_totals() -> None:
    t = ThreadActivity(S)
    assert t.add_usage(T0, 30_000, key=("cc", "m1", "r1"))
    assert not t.add_usage(T0 + 2, 377, key=("cc", "m1", "r1"))
    assert t.add_usage(None, 500)
    assert (t.calls, t.tokens, len(t.usage)) == (2, 30_877, 2)


def test_tokens_per_minute_and_rate() -> None:
    t = ThreadActivity(S)
    for at, tokens in [(0, 100), (30, 50), (61, 200), (170, 400), (181, 1)]:
        t.add_usage(T0 + at, tokens)
    assert t.tokens_per_minute(T0 + 180, 3) == [50, 200, 400]  # (now - 3 min, now]
    assert t.rate(T0 + 180, 60) == 400.0
    assert t.rate(T0 + 181, 120) == pytest.approx(401 / 2)


def test_memory_stays_bounded_over_days_while_totals_keep_everything() -> None:
    hour = 3600.0
    act = Activity(retention_s=2 * hour)
    for i in range(3 * 24 * 360):  # three days, a call every 10 s
        at = T0 + i * 10
        act.add_usage(S, at, 1_000, key=("cc", str(i)))
        act.feed([ToolCall(S, at, f"c{i}", "Read", f"/p/{i % 50}.py")])
        act.feed([ToolResult(S, at + 1, f"c{i}", True, "same")])
        if i % 100 == 0:
            act.feed([ToolResult(S, at + 2, f"e{i}", True, "ok", f"/p/{i % 7}.py", 1, 0)])
            act.feed([HumanTurn(S, at + 3)])
    s = act.sessions[S]
    t = s.threads[S]
    limit = 2 * hour / 10 + 300
    assert len(t.usage) <= limit
    assert len(t.outcomes) <= limit
    assert len(t.changes) <= limit
    assert len(t.humans) <= limit
    assert len(t._keys) <= limit
    assert len(t._results) <= limit  # the unmatched edit results above
    assert len(s._win_tokens) <= 2 * hour / s.window_s + 2
    assert t.tokens == 3 * 24 * 360 * 1_000
    idle, total = s.idle_burn(T0 + 4 * 24 * hour)
    assert total == t.tokens
    assert 0 < idle < total
    assert s.paths == {f"/p/{i}.py" for i in range(7)}


def test_unbounded_retention_keeps_everything_for_a_report() -> None:
    act = Activity(retention_s=math.inf)
    for i in range(2000):
        act.add_usage(S, T0 + i * 60.0, 10, key=str(i))
        act.add_change(S, T0 + i * 60.0, f"/p/{i % 3}.py")
    s = act.sessions[S]
    assert len(s.threads[S].usage) == 2000
    assert s.idle_burn(T0 + 10**6) == (0, 20_000)


def test_session_routes_records_and_counts_changes_once_per_path() -> None:
    act = Activity()
    act.feed(
        [
            ToolCall(SUB, T0, "c1", "Edit", "/p/a.py"),
            ToolResult(SUB, T0 + 1, "c1", True, "d", "/p/a.py", 5, 2),
            ToolResult(S, T0 + 2, "c2", True, "d", "/p/a.py", 1, 1),
            HumanTurn(S, T0 + 3),
            UsageRecord(S, ("k",), "m", T0, Tokens(input=5)),  # usage comes from the tally
            SubagentLink(S, "a1", "toolu_1"),
        ]
    )
    act.add_change(S, T0 + 4, "/p/b.py")
    s = act.sessions[S]
    assert set(s.threads) == {S, SUB}
    assert (s.paths, s.lines_added, s.lines_removed) == ({"/p/a.py", "/p/b.py"}, 6, 3)
    assert s.tokens == 0
    assert s.resets(SUB, T0 + 10) == [T0 + 1, T0 + 4]  # its own edit and the watch, not S's
    assert s.resets(S, T0 + 10) == [T0 + 2, T0 + 3, T0 + 4]
    assert s.resets(S, T0 + 2.5) == [T0 + 2]


def test_idle_burn_counts_whole_windows_without_a_change() -> None:
    s = SessionActivity(S, window_s=600)
    s.add_usage(S, T0 + 10, 100)  # window A: no change
    s.add_usage(S, T0 + 610, 300)  # window B: a change
    s.add_change(T0 + 1190, "/p/a.py")
    s.add_usage(S, T0 + 1210, 50)  # window C: the current one, no change yet
    assert s.idle_burn(T0 + 1199) == (100, 400)
    assert s.idle_burn(T0 + 1220) == (150, 450)


def test_a_session_wakes_up_to_the_same_alerts_whole_pruned_or_slimmed() -> None:
    # Events past a thread's retention count as forgotten whether the model still holds
    # them (not pruned yet), pruned them, or dropped them when the session lay dormant.
    th = Thresholds(unattended=True)

    def history() -> Activity:
        act = Activity(th.window_s, DEFAULT_RETENTION_S)
        act.feed([ToolCall(S, T0 + 50, "c1", "Bash", "ls"), HumanTurn(S, T0 + 100)])
        for i in range(5):
            act.add_usage(S, T0 + 200 + i * 60, 1000, ("old", i))
        return act

    whole, pruned, slim = history(), history(), history()
    slim.sessions[S].forget_history()
    gap = 2 * 86400.0
    for act in (whole, pruned, slim):  # tokens flow for 3 h with nobody there, then someone is
        for i in range(180):
            act.add_usage(S, T0 + gap + i * 60, 1000, ("new", i))
        act.feed([HumanTurn(S, T0 + gap + 3 * 3600 + 60)])
    pruned.sessions[S].threads[S].forget_keys()  # (as a long-running model would have)
    pruned.sessions[S].threads[S]._prune()
    now = T0 + gap + 3 * 3600 + 120
    got = [
        [a.to_contract(str) for a in evaluate(act.sessions[S], now, th)]
        for act in (whole, pruned, slim)
    ]
    assert got[0] == got[1] == got[2]
    assert [a["kind"] for a in got[0]] == ["unattended"]


def test_a_slimmed_session_counts_a_late_delta_where_it_belongs() -> None:
    # A rewind (Gemini) or a moved call takes tokens away at the time they were credited.
    def burn(slim: bool) -> tuple[int, int]:
        s = SessionActivity(S, window_s=300)
        s.add_usage(S, T0 + 10, 100, "a")  # a window with no change: idle
        s.feed(ToolResult(S, T0 + 650, "c1", True, "d", "/p/a.py", 1, 0))
        s.add_usage(S, T0 + 700, 500, "b")  # a window with a change
        if slim:
            s.forget_history()
        s.add_usage(S, T0 + 700, -500, "b")
        return s.idle_burn(T0 + 10**6)

    assert burn(slim=True) == burn(slim=False) == (100, 100)  # the change's window: not idle
