"""The `--on-loop` guard's decisions, with an injected clock."""

from __future__ import annotations

import dataclasses

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.guard import GuardAction, LoopGuard, qualifies
from agentwatch.core.records import Agent, ThreadKey

S1 = ThreadKey(Agent.CLAUDE_CODE, "s1")
S2 = ThreadKey(Agent.CODEX, "s2")


def alert(
    aid: str,
    session: ThreadKey = S1,
    kind: AlertKind = AlertKind.ERROR_LOOP,
    severity: Severity = Severity.WARNING,
    ended: float | None = None,
) -> Alert:
    return Alert(aid, session, kind, severity, 0.0, 0.0, ended, f"reason {aid}", 1000)


def board(*alerts: Alert) -> dict[ThreadKey, dict[str, Alert]]:
    out: dict[ThreadKey, dict[str, Alert]] = {}
    for a in alerts:
        out.setdefault(a.thread.main, {})[a.alert_id] = a
    return out


def test_acts_once_after_the_grace_period_then_rearms_when_the_loop_ends() -> None:
    g = LoopGuard(GuardAction.SUSPEND, grace_s=60)
    a = alert("a1")
    assert g.due(board(a), 100.0) == []  # first seen at 100
    assert g.due(board(a), 159.0) == []
    [due] = g.due(board(a), 160.0)
    assert (due.session, due.alert.alert_id, due.action) == (S1, "a1", GuardAction.SUSPEND)
    assert g.due(board(a), 500.0) == []  # once per episode
    assert g.due(board(dataclasses.replace(a, ended_at=510.0)), 510.0) == []  # over: re-armed
    b = alert("a2")
    assert g.due(board(b), 600.0) == []  # a new episode gets the whole grace again
    assert [d.alert.alert_id for d in g.due(board(b), 660.0)] == ["a2"]


def test_the_grace_restarts_if_the_alert_closes_before_it_runs_out() -> None:
    g = LoopGuard(GuardAction.KILL, grace_s=60)
    a = alert("a1")
    g.due(board(a), 0.0)
    g.due(board(), 30.0)  # progress: alert gone
    g.due(board(a), 40.0)  # the same id again: counted from 40
    assert g.due(board(a), 90.0) == []
    assert len(g.due(board(a), 100.0)) == 1


def test_cites_the_alert_open_longest_and_handles_sessions_separately() -> None:
    g = LoopGuard(GuardAction.KILL, grace_s=10)
    old, new, other = alert("old"), alert("new"), alert("o", session=S2)
    g.due(board(old), 0.0)
    g.due(board(old, new, other), 5.0)
    due = g.due(board(old, new, other), 15.0)
    assert [(d.session, d.alert.alert_id) for d in due] == [(S1, "old"), (S2, "o")]


def test_a_sub_agent_alert_counts_for_its_session() -> None:
    g = LoopGuard(GuardAction.SUSPEND, grace_s=0)
    sub = alert("x", session=ThreadKey(Agent.CLAUDE_CODE, "s1", "agent-7"))
    [due] = g.due({S1: {"x": sub}}, 1.0)
    assert due.session == S1


def test_what_qualifies() -> None:
    assert qualifies(alert("a"))
    assert qualifies(alert("a", severity=Severity.CRITICAL))
    assert not qualifies(alert("a", severity=Severity.INFO))
    assert not qualifies(alert("a", kind=AlertKind.UNATTENDED, severity=Severity.CRITICAL))
    assert not qualifies(alert("a", ended=5.0))
    g = LoopGuard(GuardAction.KILL, grace_s=0)
    assert g.due(board(alert("i", severity=Severity.INFO)), 10.0) == []


def test_notify_never_acts() -> None:
    g = LoopGuard(GuardAction.NOTIFY, grace_s=0)
    assert not g.active
    assert g.due(board(alert("a")), 1000.0) == []
