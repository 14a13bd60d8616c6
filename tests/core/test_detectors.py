"""The detectors on the labelled scenario set (tests/core/scenarios, docs/loop-detection.md).

Each scenario is written as a real Claude Code transcript, parsed with the real parser, fed
record by record (tally for usage, activity model for the rest) and evaluated at every
record's time and every 15 s of scenario time, with the default thresholds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.detectors import Thresholds, evaluate, steady_until
from agentwatch.core.records import Agent as AgentName
from agentwatch.core.records import ThreadKey
from tests.core.scenarios.agent import T0
from tests.core.scenarios.catalog import SCRIPTS, Built, build
from tests.core.scenarios.replay import Timeline, labels, records, replay, result

LABELS = labels()
NORMAL = [lab for lab in LABELS if lab["kind"] == "normal"]
LOOPS = [lab for lab in LABELS if lab["kind"] == "loop"]
CLEARING = [lab for lab in LOOPS if "clears_s" in lab]
TH = Thresholds()
DEADLINE_S = 60.0


def ids(labs: list[dict[str, Any]]) -> list[str]:
    return [lab["name"] for lab in labs]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Built, Timeline]]:
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    for lab in LABELS:
        built = build(lab["name"], root / lab["name"] / "claude")
        out[lab["name"]] = (built, replay(built, TH))
    return out


# ---- the set itself --------------------------------------------------------------------------
def test_the_set_has_every_kind_twice_and_matches_the_scripts() -> None:
    assert len(LABELS) >= 12
    assert sorted(ids(LABELS)) == sorted(SCRIPTS)
    per_category = Counter(lab["category"] for lab in LABELS)
    for category in (
        "normal_coding",
        "explore_then_edit",
        "testfix_converging",
        "planning",
        "failing_command",
        "polling",
        "rereading",
        "chat_only",
    ):
        assert per_category[category] >= 2, category
    for lab in LOOPS:
        assert lab["expected"], lab["name"]
        assert set(lab["expected"]) <= {"idle_burn", "repetition", "error_loop", "reread_loop"}
    assert all(lab["expected"] == [] for lab in NORMAL)


@pytest.mark.parametrize("label", LABELS, ids=ids(LABELS))
def test_each_scenario_spans_30_minutes_or_more(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    built, _ = runs[label["name"]]
    times = [ts for ts, _ in records(built)]
    assert max(times) - min(times) >= 30 * 60


@pytest.mark.parametrize("label", LOOPS, ids=ids(LOOPS))
def test_labels_agree_with_the_scripts(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    built, _ = runs[label["name"]]
    thread = label["thread"]
    prefix = "" if thread == "main" else f"{thread}."
    assert built.marks[f"{prefix}onset"] == label["onset_s"]
    assert built.marks.get(f"{prefix}clear") == label.get("clears_s")


# ---- the targets -------------------------------------------------------------------------------
@pytest.mark.parametrize("label", NORMAL, ids=ids(NORMAL))
def test_a_normal_session_never_alerts(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    _, tl = runs[label["name"]]
    alerts = [(now - T0, a.reason) for now, a in tl.versions()]
    assert alerts == []
    assert len(tl.evaluations) > 120  # evaluated all along, not just at the end


@pytest.mark.parametrize("label", LOOPS, ids=ids(LOOPS))
def test_a_loop_alerts_within_60_s_of_its_onset(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    _, tl = runs[label["name"]]
    res = result(label, tl)
    assert res.got == tuple(sorted(label["expected"]))  # that kind, and nothing else
    assert res.delay is not None
    assert 0 <= res.delay <= DEADLINE_S
    assert res.ids == 1  # one episode, one id


@pytest.mark.parametrize("label", LOOPS, ids=ids(LOOPS))
def test_alert_ids_are_stable_across_evaluations(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    _, tl = runs[label["name"]]
    versions: dict[str, set[tuple[Any, ...]]] = {}
    appearances: dict[str, list[float]] = {}
    for now, a in tl.versions():
        versions.setdefault(a.alert_id, set()).add((a.thread, a.kind, a.started_at))
        appearances.setdefault(a.alert_id, []).append(now)
    assert versions
    assert all(len(v) == 1 for v in versions.values())
    for times in appearances.values():  # present at every evaluation from first to last sight
        span = [now for now, _ in tl.evaluations if times[0] <= now <= times[-1]]
        assert span == times


@pytest.mark.parametrize("label", CLEARING, ids=ids(CLEARING))
def test_the_alert_clears_when_progress_resumes(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    _, tl = runs[label["name"]]
    res = result(label, tl)
    assert res.ended is not None
    if label["clear"] == "progress":
        assert res.ended == pytest.approx(label["clears_s"], abs=0.01)
    else:
        assert res.onset is not None
        assert res.onset < res.ended <= label["clears_s"] + TH.quiet_s
    final = tl.evaluations[-1][1]
    assert [a for a in final if a.active] == []
    for now, a in tl.versions():
        assert a.active == (now < T0 + res.ended)


@pytest.mark.parametrize("label", LOOPS, ids=ids(LOOPS))
def test_evaluate_reads_only_events_up_to_now(
    label: dict[str, Any], runs: dict[str, tuple[Built, Timeline]]
) -> None:
    """With the whole log fed, evaluating at an earlier time gives what the replay saw then."""
    _, tl = runs[label["name"]]
    (session,) = tl.activity.sessions.values()
    for now, seen in tl.evaluations[:: max(1, len(tl.evaluations) // 25)]:
        assert evaluate(session, now, TH) == seen


def test_a_report_over_history_finds_every_episode(tmp_path: Path) -> None:
    """Evaluated once at the end with `since=-inf`, the ended loop is still reported."""
    built = build("loop_npm_test_same_failure", tmp_path / "claude")
    tl = replay(built, TH, step=10**9)
    (session,) = tl.activity.sessions.values()
    assert evaluate(session, tl.end, TH) == []  # ended long before the end: not "recent"
    (alert,) = evaluate(session, tl.end, TH, since=float("-inf"))
    assert (alert.kind, alert.ended_at) == ("error_loop", T0 + 788.585)
    assert alert.reason.startswith("`npm test` failed the same way 31 times in 9 min; ")


def _alert(kind: str, severity: str, start: float, last: float, ended: float | None) -> Alert:
    key = ThreadKey(AgentName.CLAUDE_CODE, "s")
    return Alert(
        f"{kind}-x",
        key,
        AlertKind(kind),
        Severity(severity),
        start,
        start + 30,
        ended,
        "r",
        1000,
        {"last_at": last},
    )


def test_steady_until_is_when_time_alone_would_change_the_alerts() -> None:
    th = Thresholds()
    warn = _alert("error_loop", "warning", T0, T0 + 100, None)
    crit = _alert("reread_loop", "critical", T0, T0 + 50, None)
    gone = _alert("idle_burn", "warning", T0, T0 + 10, T0 + 20)
    assert steady_until([], th) == float("inf")
    assert steady_until([gone], th) == float("inf")  # an ended alert never changes again
    assert steady_until([crit], th) == T0 + 50 + th.quiet_s  # it ends by quiet time
    assert steady_until([warn], th) == min(T0 + 100 + th.quiet_s, T0 + th.critical_after_s)
    assert steady_until([warn, crit, gone], th) == T0 + 50 + th.quiet_s


def test_an_open_alert_evaluated_at_its_steady_until_has_changed(
    runs: dict[str, tuple[Built, Timeline]],
) -> None:
    """On the replayed loops: alerts evaluated after a session's last event stay as they are
    up to steady_until and differ right after it."""
    checked = 0
    for _, tl in runs.values():
        (session,) = tl.activity.sessions.values()
        last = max(
            [o.ts for t in session.threads.values() for o in t.outcomes]
            + [u[0] for t in session.threads.values() for u in t.usage]
        )
        alerts = evaluate(session, last + 1, TH)
        until = steady_until(alerts, TH)
        if until == float("inf"):
            continue
        assert evaluate(session, until - 0.5, TH) == alerts
        assert evaluate(session, until + 0.5, TH) != alerts
        checked += 1
    assert checked


def test_a_session_quiet_for_long_is_skipped_with_the_same_answer(
    runs: dict[str, tuple[Built, Timeline]],
) -> None:
    """The shortcut for long-quiet sessions gives what a full evaluation filtered to the
    recent window gives, right around the moment it starts to apply."""
    compared = 0
    for _, tl in runs.values():
        (session,) = tl.activity.sessions.values()
        last = max(t.last_ts for t in session.threads.values() if t.last_ts is not None)
        edge = last + TH.quiet_s + TH.keep_ended_s
        for now in (edge - 2.0, edge - 0.5, edge, edge + 0.5, edge + 60.0):
            full = evaluate(session, now, TH, since=float("-inf"))
            recent = [a for a in full if a.ended_at is None or a.ended_at >= now - TH.keep_ended_s]
            assert evaluate(session, now, TH) == recent
            compared += len(recent)
    assert compared  # some alerts were still in the window just before the edge
