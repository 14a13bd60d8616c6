"""Each detector on hand-made activity: when it fires, what it says, when it clears."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agentwatch.core.activity import SessionActivity
from agentwatch.core.alerts import Alert, AlertKind, Severity, diff_alerts
from agentwatch.core.detectors import Thresholds, evaluate, signal
from agentwatch.core.records import Agent, HumanTurn, ThreadKey, ToolCall, ToolResult
from agentwatch.sources.base import digest

T0 = 1_770_112_800.0
S = ThreadKey(Agent.CLAUDE_CODE, "sess-1")
SUB = ThreadKey(Agent.CLAUDE_CODE, "sess-1", "a1b2c3")
TH = Thresholds()
INF = float("inf")


class Log:
    """Builds one session's activity; times are seconds from T0."""

    def __init__(self) -> None:
        self.act = SessionActivity(S)
        self.n = 0

    def call(
        self,
        at: float,
        name: str = "Bash",
        target: str | None = "npm test",
        *,
        ok: bool = True,
        out: str = "same",
        tokens: int = 50_000,
        thread: ThreadKey = S,
        changed: str | None = None,
    ) -> None:
        self.n += 1
        cid = f"toolu_{self.n}"
        self.act.add_usage(thread, T0 + at, tokens, key=("cc", f"msg_{self.n}"))
        self.act.feed(ToolCall(thread, T0 + at, cid, name, target))
        lines = (3, 1) if changed else (0, 0)
        self.act.feed(
            ToolResult(thread, T0 + at + 2, cid, ok, digest(out.encode()), changed, *lines)
        )

    def edit(self, at: float, path: str = "/p/a.py", thread: ThreadKey = S) -> None:
        self.call(at, "Edit", path, out=f"edited {path} at {at}", changed=path, thread=thread)

    def read(self, at: float, path: str, version: int = 0, thread: ThreadKey = S) -> None:
        self.call(at, "Read", path, out=f"{path} v{version}", thread=thread)

    def chat(self, at: float, tokens: int = 50_000, thread: ThreadKey = S) -> None:
        self.n += 1
        self.act.add_usage(thread, T0 + at, tokens, key=("cc", f"msg_{self.n}"))

    def human(self, at: float) -> None:
        self.act.feed(HumanTurn(S, T0 + at))

    def alerts(self, at: float, th: Thresholds = TH, since: float | None = None) -> list[Alert]:
        return evaluate(self.act, T0 + at, th, since=since)

    def kinds(self, at: float, th: Thresholds = TH) -> list[str]:
        return [str(a.kind) for a in self.alerts(at, th) if a.active]


# ---- repetition and error loops --------------------------------------------------------------
def test_repetition_fires_at_the_kth_identical_result_and_says_so() -> None:
    log = Log()
    for i in range(3):
        log.call(i * 30, target="curl -s  localhost:3000/health", out='{"status":"starting"}')
    assert log.kinds(31) == []  # two so far
    (a,) = log.alerts(62)
    assert (a.kind, a.severity, a.agent_id, a.ended_at) == ("repetition", "warning", None, None)
    assert (a.started_at, a.detected_at) == (T0, T0 + 62)
    assert a.reason == (
        "`curl -s localhost:3000/health` returned the same result 3 times in 62 s;"
        " 150k tokens, no file changed"
    )
    assert a.evidence["count"] == 3
    assert a.evidence["signature"] == "Bash: curl -s localhost:3000/health"
    assert (a.evidence["first_at"], a.evidence["last_at"]) == (T0, T0 + 62)


def test_a_different_result_ends_the_repetition_and_a_new_run_gets_a_new_id() -> None:
    log = Log()
    for i in range(4):
        log.call(i * 20, out="starting")
    log.call(100, out="ready")
    (a,) = log.alerts(103)
    assert a.ended_at == T0 + 102
    for i in range(3):
        log.call(200 + i * 20, out="starting")
    ended, again = log.alerts(243)
    assert ended.alert_id == a.alert_id
    assert again.active
    assert again.alert_id != a.alert_id


@pytest.mark.parametrize("progress", ["edit", "watch", "human"])
def test_progress_between_repeats_prevents_and_ends_a_loop(progress: str) -> None:
    log = Log()

    def make_progress(at: float) -> None:
        if progress == "edit":
            log.edit(at)
        elif progress == "watch":
            log.act.add_change(T0 + at + 2, "/p/generated.py")
        else:
            log.human(at + 2)

    log.call(0, ok=False)
    log.call(30, ok=False)
    make_progress(45)
    log.call(60, ok=False)
    log.call(90, ok=False)
    assert log.kinds(93) == []
    log.call(120, ok=False)
    (a,) = log.alerts(123)
    assert (a.kind, a.started_at) == ("error_loop", T0 + 60)
    make_progress(150)
    (a2,) = log.alerts(160)
    assert (a2.alert_id, a2.ended_at) == (a.alert_id, T0 + 152)


def test_an_error_loop_counts_failures_of_one_call_even_when_outputs_differ() -> None:
    log = Log()
    for i in range(4):
        log.call(i * 30, "Bash", "pytest -q", ok=False, out=f"1 failed in {2 + i / 10}s")
    (a,) = log.alerts(100)
    assert a.kind == "error_loop"
    assert a.reason.startswith("`pytest -q` failed 4 times (4 outputs) in 92 s; 200k tokens")
    same = Log()
    for i in range(3):
        same.call(i * 30, "Bash", "npm test", ok=False, out="expected 90, received 100")
    assert same.alerts(70)[0].reason.startswith("`npm test` failed the same way 3 times in 62 s")


def test_a_success_of_the_same_call_ends_the_error_loop() -> None:
    log = Log()
    log.call(0, ok=False)
    log.call(30, ok=False)
    log.call(60, ok=True, out="passed")
    log.call(90, ok=False)
    assert log.kinds(100) == []
    for i in range(4):
        log.call(200 + i * 30, ok=False)
    log.call(330, ok=True, out="passed")
    (a,) = log.alerts(340)
    assert a.ended_at == T0 + 332


def test_a_run_that_goes_quiet_ends_quiet_s_after_its_last_repeat() -> None:
    log = Log()
    for i in range(3):
        log.call(i * 30, out="same")
    log.call(100, "Grep", "TODO", out="elsewhere")
    assert log.alerts(62 + TH.quiet_s)[0].active
    (a,) = log.alerts(63 + TH.quiet_s)
    assert a.ended_at == T0 + 62 + TH.quiet_s
    assert log.alerts(62 + TH.quiet_s + TH.keep_ended_s + 1) == []
    assert log.alerts(10_000, since=-INF) == [a]


def test_repeats_must_fall_within_the_window() -> None:
    log = Log()
    for at in (0, 250, 500):  # gaps under quiet_s, but 500 s from first to last
        log.call(at)
    assert log.kinds(510) == ["repetition"]
    assert log.kinds(510, replace(TH, window_s=400)) == []


def test_bookkeeping_calls_and_reads_never_count_as_repetition() -> None:
    log = Log()
    for i in range(6):
        log.call(i * 20, "TodoWrite", None, out="Todos have been modified successfully")
        log.call(i * 20 + 5, "Task", "look around", out="Findings")
    assert log.kinds(200) == []


# ---- re-reads ----------------------------------------------------------------------------------
def test_rereads_without_an_edit_alert_at_the_configured_count() -> None:
    log = Log()
    files = ["/p/cart.py", "/p/pay.py", "/p/orders.py"]
    for i, f in enumerate(files):
        log.read(i * 3, f)
    for i in range(3):
        log.read(10 + i * 10, files[i % 3])
    assert log.kinds(100) == []  # 3 re-reads
    log.read(40, files[0])
    (a,) = log.alerts(100)
    assert (a.kind, a.started_at, a.detected_at) == ("reread_loop", T0 + 10, T0 + 42)
    assert a.evidence["files"] == {"/p/cart.py": 2, "/p/pay.py": 1, "/p/orders.py": 1}
    assert a.reason.startswith("re-read `cart.py` and `pay.py` and 1 more 4 times in 32 s")
    log.edit(60)
    assert log.alerts(100)[0].ended_at == T0 + 62


def test_a_file_changed_on_disk_or_a_failed_read_is_not_a_reread() -> None:
    log = Log()
    log.read(0, "/p/a.py", version=0)
    for i in range(5):
        log.read(10 + i * 10, "/p/a.py", version=i + 1)  # new content every time
        log.call(12 + i * 10, "Read", f"/p/b{i}.py", ok=False, out="File does not exist.")
    assert log.kinds(100) == []


def test_reads_before_an_edit_do_not_count_after_it() -> None:
    log = Log()
    for i in range(3):
        log.read(i * 10, "/p/a.py")
    log.edit(35, "/p/other.py")
    for i in range(3):
        log.read(40 + i * 10, "/p/a.py")
    assert log.kinds(100) == []  # 2 re-reads before the edit, 2 after


# ---- idle burn -----------------------------------------------------------------------------------
def test_idle_burn_needs_calls_and_tokens_with_no_tool_use_or_person() -> None:
    log = Log()
    log.human(0)
    log.chat(10)
    log.chat(30)
    assert log.kinds(45) == []
    log.chat(50)
    (a,) = log.alerts(55)
    assert (a.kind, a.started_at, a.detected_at) == ("idle_burn", T0 + 10, T0 + 50)
    assert a.tokens == 150_000
    assert a.reason == (
        "3 API calls in 40 s with no tool use, file change or human turn; 150k tokens"
    )
    log.human(70)
    assert log.alerts(80)[0].ended_at == T0 + 70
    small = Log()
    for i in range(10):
        small.chat(i * 20, tokens=5_000)
    assert small.kinds(200) == []  # a cheap bot is below idle_tokens


def test_a_tool_result_is_activity_and_a_growing_call_counts_once() -> None:
    log = Log()
    log.chat(0)
    log.call(20, "Grep", "x", out="1")
    log.chat(40)
    log.act.add_usage(S, T0 + 41, 10_000, key=("cc", f"msg_{log.n}"))  # the same call grew
    assert log.kinds(60) == []
    log.chat(60)
    log.chat(80)
    assert log.kinds(90) == ["idle_burn"]


# ---- unattended ----------------------------------------------------------------------------------
def test_unattended_is_off_by_default_and_info_when_on() -> None:
    log = Log()
    log.human(0)
    for i in range(1, 200):
        log.call(i * 60, "Grep", f"pattern {i}", out=str(i))  # novel work, no person, 3+ h
    assert log.alerts(12_000) == []
    on = replace(TH, unattended=True, unattended_after_s=3600)
    (a,) = log.alerts(12_000, on)
    assert (a.kind, a.severity, a.started_at) == ("unattended", "info", T0 + 3600)
    assert a.reason.startswith("no human turn for 3 h 19 min while tokens keep flowing; ")
    assert log.alerts(12_090, on) == [a]  # no new event: the same alert, word for word
    log.human(12_100)
    assert log.alerts(12_200, on)[0].ended_at == T0 + 12_100


def test_sub_agents_are_never_unattended_and_their_alerts_carry_the_agent_id() -> None:
    log = Log()
    on = replace(TH, unattended=True, unattended_after_s=600)
    for i in range(40):
        log.call(i * 30, "Bash", "make", ok=False, out="boom", thread=SUB)
    (a,) = log.alerts(1300, on)
    assert (a.kind, a.agent_id, a.thread) == ("error_loop", "a1b2c3", SUB)


# ---- severity, ids, purity -------------------------------------------------------------------
def test_severity_turns_critical_with_tokens_or_time() -> None:
    log = Log()
    for i in range(30):
        log.call(i * 30, ok=False, tokens=10_000)
    assert log.alerts(120)[0].severity == Severity.WARNING
    assert log.alerts(TH.critical_after_s + 1)[0].severity == Severity.CRITICAL
    heavy = Log()
    for i in range(3):
        heavy.call(i * 30, ok=False, tokens=TH.critical_tokens // 2)
    assert heavy.alerts(70)[0].severity == Severity.CRITICAL


def test_ids_are_stable_per_episode_and_distinct_across_threads_and_sessions() -> None:
    log = Log()
    for i in range(6):
        log.call(i * 30, ok=False)
        log.call(i * 30 + 5, ok=False, thread=SUB)
    first = {a.agent_id: a.alert_id for a in log.alerts(70)}
    later = {a.agent_id: a.alert_id for a in log.alerts(170)}
    assert first == later
    assert len(set(first.values())) == 2
    other = Log()
    other.act = SessionActivity(ThreadKey(Agent.CLAUDE_CODE, "sess-2"))
    for i in range(3):
        other.call(i * 30, ok=False, thread=other.act.key)
    assert other.alerts(70)[0].alert_id not in first.values()


def test_evaluate_ignores_events_after_now_and_changes_nothing() -> None:
    log = Log()
    for i in range(5):
        log.call(i * 30, ok=False)
    assert log.alerts(50) == []
    assert log.alerts(62) == log.alerts(62)
    assert log.alerts(62)[0].evidence["count"] == 3


# ---- signal and events ------------------------------------------------------------------------
def test_signal_counts_changes_lines_and_idle_share() -> None:
    log = Log()
    assert signal(log.act, [], T0).tokens_per_changed_line is None
    log.chat(10, tokens=100)  # window 0: no change
    log.act.add_usage(S, T0 + 700, 250, key="x")  # window 1, with the edit below
    log.edit(650, "/p/a.py")
    log.edit(660, "/p/a.py")
    log.act.add_change(T0 + 670, "/p/b.py")
    sig = signal(log.act, [], T0 + 800)
    assert (sig.files_changed, sig.lines_added, sig.lines_removed) == (2, 6, 2)
    total = 100 + 250 + 2 * 50_000
    assert sig.tokens_per_changed_line == total / 8
    assert sig.idle_burn_share == pytest.approx(100 / total)
    assert signal(SessionActivity(S), [], T0).idle_burn_share == 0.0


def test_contract_shapes_use_the_callers_iso() -> None:
    log = Log()
    for i in range(3):
        log.call(i * 30, ok=False)
    alerts = log.alerts(70)
    doc = signal(log.act, alerts, T0 + 70).to_contract(lambda t: f"T+{t - T0:g}")
    (alert,) = doc.pop("alerts")
    assert doc == {
        "files_changed": 0,
        "lines_added": 0,
        "lines_removed": 0,
        "tokens_per_changed_line": None,
        "idle_burn_share": 1.0,
    }
    evidence = alert.pop("evidence")
    assert alert == {
        "alert_id": alerts[0].alert_id,
        "agent_id": None,
        "kind": "error_loop",
        "severity": "warning",
        "started_at": "T+0",
        "ended_at": None,
        "reason": alerts[0].reason,
        "tokens": 150_000,
    }
    assert (evidence["first_at"], evidence["last_at"], evidence["count"]) == ("T+0", "T+62", 3)


def test_diff_alerts_gives_raised_escalated_and_cleared() -> None:
    log = Log()
    for i in range(3):
        log.call(i * 30, ok=False, tokens=10_000)
    (a,) = log.alerts(70)
    raised, cleared = diff_alerts({}, [a])
    assert (raised, cleared) == ([a], [])
    assert diff_alerts({a.alert_id: a}, [a]) == ([], [])
    worse = replace(a, severity=Severity.CRITICAL)
    assert diff_alerts({a.alert_id: a}, [worse]) == ([worse], [])
    ended = replace(a, ended_at=T0 + 80)
    assert diff_alerts({a.alert_id: a}, [ended]) == ([], [ended])
    assert diff_alerts({a.alert_id: a}, []) == ([], [a])
    assert diff_alerts({a.alert_id: ended}, [ended]) == ([], [])
    assert diff_alerts({}, [ended]) == ([ended], [ended])  # began and ended in between


def test_alert_kinds_are_the_contracts() -> None:
    assert {str(k) for k in AlertKind} == {
        "idle_burn",
        "repetition",
        "error_loop",
        "reread_loop",
        "unattended",
    }
    assert {str(s) for s in Severity} == {"info", "warning", "critical"}


def test_a_looping_commands_secrets_never_reach_the_alert() -> None:
    log = Log()
    cmd = "curl -H 'Authorization: Bearer sk-ant-api03-Zx81KqL0pV7mN2bR4tY6uI9oP3aS5dF8' api"
    for i in range(4):
        log.call(30.0 * i, "Bash", cmd, ok=False, out="401")
    [a] = evaluate(log.act, T0 + 200, TH)
    assert a.kind is AlertKind.ERROR_LOOP
    contract = a.to_contract(str)
    shown = " ".join([a.reason, str(a.evidence), str(contract)])
    assert "Zx81KqL0pV7m" not in shown
    assert "[REDACTED:" in a.evidence["signature"]
    assert "curl" in a.reason  # still says which command looped
