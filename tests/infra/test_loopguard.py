"""The `--on-loop` guard against real dummy agent processes (the tests' own, nobody else's)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.events import Event, GuardEvent
from agentwatch.core.guard import GuardAction, LoopGuard
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.infra.loopguard import GuardRunner
from tests.conftest import AgentSpawner, RecordingTable
from tests.infra.test_procs import bin_claude, gone, stopped, until

U1 = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
U2 = "0d9b1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
S1 = ThreadKey(Agent.CLAUDE_CODE, U1)


def looping(session: ThreadKey = S1) -> dict[ThreadKey, dict[str, Alert]]:
    a = Alert(
        "al-1", session, AlertKind.ERROR_LOOP, Severity.WARNING, 0.0, 0.0, None,
        "`npm test` failed the same way 9 times in 6 min", 120_000,
    )  # fmt: skip
    return {session: {a.alert_id: a}}


def run(
    action: GuardAction, table: RecordingTable, root: Path, session: ThreadKey = S1
) -> list[GuardEvent]:
    events: list[Event] = []
    runner = GuardRunner(
        LoopGuard(action, grace_s=0), events.append, lambda: 1000.0, [root],
        table=lambda: table, kill_grace=1.0,
    )  # fmt: skip
    runner.tick(looping(session))
    runner.join(timeout=30)
    runner.tick(looping(session))  # once per episode: no second action
    runner.join(timeout=30)
    assert all(isinstance(e, GuardEvent) for e in events)
    return [e for e in events if isinstance(e, GuardEvent)]


def test_suspend_stops_the_looping_sessions_agent_and_only_it(
    spawner: AgentSpawner, rec_table: RecordingTable, tmp_path: Path
) -> None:
    a = spawner.start(bin_claude(spawner, "--session-id", U1), children=[["sleep", "120"]])
    other = spawner.start(bin_claude(spawner, "--session-id", U2))
    [ev] = run(GuardAction.SUSPEND, rec_table, tmp_path / "claude")
    assert ev.ok, ev.message
    assert ev.pids == (a.pid,)
    assert ev.action == "suspend"
    assert "suspended pid" in ev.message
    assert "agentwatch resume" in ev.message
    assert "npm test" in ev.message  # the alert is cited
    until(lambda: stopped(a.pid) and all(stopped(c) for c in a.children), "the tree to stop")
    assert rec_table.signals(other.pid) == []
    assert not stopped(other.pid)


def test_kill_terminates_and_escalates_past_the_grace(
    spawner: AgentSpawner, rec_table: RecordingTable, tmp_path: Path
) -> None:
    a = spawner.start(bin_claude(spawner, "--session-id", U1), ignore_term=True)
    [ev] = run(GuardAction.KILL, rec_table, tmp_path / "claude")
    assert ev.ok, ev.message
    assert "killed pid" in ev.message
    assert rec_table.signals(a.pid)[:1] == [signal.SIGTERM]
    assert signal.SIGKILL in rec_table.signals(a.pid)
    until(lambda: gone(a.pid), "the agent to die")


def test_no_mapped_process_is_reported_and_nothing_is_signalled(
    spawner: AgentSpawner, rec_table: RecordingTable, tmp_path: Path
) -> None:
    spawner.start(bin_claude(spawner, "--session-id", U2))
    [ev] = run(GuardAction.KILL, rec_table, tmp_path / "claude")
    assert not ev.ok
    assert ev.pids == ()
    assert "no running process is mapped" in ev.message
    assert rec_table.sent == []


def test_a_likely_mapping_is_never_acted_on_unasked(
    spawner: AgentSpawner, rec_table: RecordingTable, tmp_path: Path
) -> None:
    import time  # noqa: PLC0415

    from agentwatch.sources.claude_code import encode_cwd  # noqa: PLC0415

    root, cwd = tmp_path / "claude", tmp_path / "shop"
    cwd.mkdir()
    a = spawner.start(bin_claude(spawner), cwd=cwd)  # no id on its command line
    log = root / "projects" / encode_cwd(str(cwd)) / f"{U1}.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("{}\n")
    later = time.time() + 5
    os.utime(log, (later, later))  # written since the process started: a likely match
    [ev] = run(GuardAction.KILL, rec_table, root)
    assert not ev.ok
    assert ev.pids == ()
    assert "only a likely match" in ev.message
    assert rec_table.signals(a.pid) == []


class DeniedTable(RecordingTable):
    def send_signal(self, pid: int, sig: signal.Signals) -> None:
        raise PermissionError("operation not permitted")


def test_a_denied_signal_is_a_failure_not_a_kill(spawner: AgentSpawner, tmp_path: Path) -> None:
    spawner.start(bin_claude(spawner, "--session-id", U1))
    [ev] = run(GuardAction.KILL, DeniedTable(spawner.allowed), tmp_path / "claude")
    assert not ev.ok
    assert "permission denied" in ev.message
    assert "killed pid" not in ev.message
