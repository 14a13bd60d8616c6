"""Process discovery and control on real processes: dummy agents started like the real CLIs.

Every signal goes through `RecordingTable`, which refuses (and fails the test on) any pid the
test did not start; the `spawner` fixture SIGKILLs everything it started at teardown.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from agentwatch.core.procs import AgentProcess, Confidence, ProcStatus
from agentwatch.infra.applog import LOG
from agentwatch.infra.procs import (
    Guard,
    Identity,
    ProcessMonitor,
    PsutilTable,
    discover,
    signal_tree,
    terminate_tree,
)
from agentwatch.sources.claude_code import encode_cwd
from tests.conftest import AgentSpawner, Dummy, RecordingTable

U1 = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
U2 = "0d9a41c6-2b7e-4f3a-8c51-6e2f9b7a1d30"
U3 = "5f3b8e21-9c4d-4a7e-b2f6-81d0c3a9e457"
U4 = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
WAIT = 10.0


def until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `check` with a deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A Claude Code root (`--claude-dir`)."""
    r = tmp_path / "claude"
    (r / "projects").mkdir(parents=True)
    return r


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Lines written to agentwatch's own log during the test."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler, level = Keep(), LOG.level
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    yield lines
    LOG.removeHandler(handler)
    LOG.setLevel(level)


def node_claude(spawner: AgentSpawner, *args: str) -> list[str]:
    """`node .../node_modules/@anthropic-ai/claude-code/cli.js ARGS` (Python as the runtime)."""
    cli = spawner.script("lib/node_modules/@anthropic-ai/claude-code/cli.js")
    return [sys.executable, str(cli), *args]


def bin_claude(spawner: AgentSpawner, *args: str) -> list[str]:
    """`claude ARGS` through an npm-style bin script: the kernel runs `<interpreter> bin/claude`."""
    return [str(spawner.script("bin/claude", shebang=True)), *args]


def ident(d: Dummy) -> Identity:
    got = PsutilTable().identity(d.pid)
    assert got is not None
    return got


def mine(procs: Sequence[AgentProcess], spawner: AgentSpawner) -> dict[int, AgentProcess]:
    ours = {d.pid for d in spawner.dummies}
    return {p.pid: p for p in procs if p.pid in ours}


# ---- discovery and mapping ----------------------------------------------------------------
def test_discovery_maps_each_agent_to_its_session(
    spawner: AgentSpawner, root: Path, tmp_path: Path
) -> None:
    # argv: --resume, with a `sleep` and an `npm test` child (tools, not agents)
    a = spawner.start(
        node_claude(spawner, "--resume", U1), children=[["sleep", "120"], spawner.sleeper()]
    )
    # the live registry <root>/sessions/<pid>.json
    shop = tmp_path / "shop"
    shop.mkdir()
    b = spawner.start(
        bin_claude(spawner), cwd=shop, registry=str(root / "sessions"), registry_session=U2
    )
    # a native binary: cwd + the session file that became active after it started
    api = tmp_path / "api_v2"
    api.mkdir()
    folder = root / "projects" / encode_cwd(str(api))
    folder.mkdir()
    old = folder / f"{U1}.jsonl"
    old.write_text("{}\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    c = spawner.start(
        spawner.native("native/claude"), cwd=api, session_file=str(folder / f"{U3}.jsonl")
    )
    # Codex holding its rollout open
    rollout = tmp_path / "codex" / "sessions" / "2026" / "02" / "04"
    rollout = rollout / f"rollout-2026-02-04T08-21-30-{U4}.jsonl"
    d = spawner.start([str(spawner.script("bin/codex", shebang=True))], hold=str(rollout))
    # an agent with nothing to go on, and a node server that is not an agent
    empty = tmp_path / "empty"
    empty.mkdir()
    e = spawner.start(bin_claude(spawner), cwd=empty)
    spawner.start([sys.executable, str(spawner.script("srv/server.js"))])

    found = mine(discover(PsutilTable(), [root], cpu_interval=0.1), spawner)

    assert set(found) == {a.pid, b.pid, c.pid, d.pid, e.pid}  # not the server
    assert (found[a.pid].session.session_id, found[a.pid].session.mapping) == (
        U1,
        Confidence.EXACT,
    )
    assert found[a.pid].session.source == "argv"
    assert set(found[a.pid].children) == set(a.children)
    assert len(a.children) == 2
    assert (found[b.pid].session.session_id, found[b.pid].session.source) == (U2, "registry")
    assert found[b.pid].cwd == str(shop)
    assert (found[c.pid].session.session_id, found[c.pid].session.mapping) == (
        U3,
        Confidence.LIKELY,
    )
    assert found[c.pid].session.candidates == ()  # the old file is not one
    assert found[c.pid].name == "claude"
    assert found[d.pid].agent.value == "codex"
    assert (found[d.pid].session.session_id, found[d.pid].session.source) == (U4, "open-file")
    assert found[e.pid].session.mapping is Confidence.UNKNOWN
    assert found[e.pid].session.session_id is None
    for p in found.values():
        assert p.user == psutil.Process().username()
        assert p.rss_bytes > 0
        assert p.status in (ProcStatus.SLEEPING, ProcStatus.RUNNING)
        assert p.create_time == pytest.approx(psutil.Process(p.pid).create_time())
        assert p.cpu_percent >= 0.0
        assert p.terminal is None
        assert p.waiting_on_terminal is False


def test_a_wrapper_and_its_native_child_are_one_agent_mapped_through_the_childs_fd(
    spawner: AgentSpawner, root: Path, tmp_path: Path
) -> None:
    rollout = tmp_path / "codex" / f"rollout-2026-02-04T08-21-30-{U4}.jsonl"
    rollout.parent.mkdir()
    native = spawner.native("vendor/x86_64-unknown-linux-musl/codex/codex", tool=True)
    wrapper = spawner.start(
        [str(spawner.script("bin/codex", shebang=True))],
        children=[native],
        child_hold=str(rollout),
    )
    child = wrapper.children[0]
    table = PsutilTable()

    def mapped() -> bool:
        found = mine(discover(table, [root]), spawner)
        return found.get(wrapper.pid) is not None and found[wrapper.pid].session.session_id == U4

    until(mapped, "the native child's rollout to map the wrapper")
    procs = discover(table, [root])
    assert child not in {p.pid for p in procs}  # folded into the wrapper
    row = next(p for p in procs if p.pid == wrapper.pid)
    assert row.children == (child,)
    assert row.session.mapping is Confidence.EXACT


def test_monitor_does_one_pass_per_interval(spawner: AgentSpawner, root: Path) -> None:
    a = spawner.start(bin_claude(spawner, "--session-id", U1))

    class Counting(PsutilTable):
        passes = 0

        def rows(self):  # type: ignore[no-untyped-def]
            Counting.passes += 1
            return super().rows()

    now = [100.0]
    mon = ProcessMonitor(Counting(), [root], min_interval=2.0, clock=lambda: now[0])
    first = mon.poll()
    now[0] += 1.9
    assert mon.poll() == first
    assert Counting.passes == 1
    now[0] += 0.1
    second = mon.poll()
    assert Counting.passes == 2
    assert a.pid in {p.pid for p in second}


# ---- kill: SIGTERM to the tree, grace, escalation -----------------------------------------
def test_kill_terminates_the_agent_and_its_tree(
    spawner: AgentSpawner, rec_table: RecordingTable, log_lines: list[str]
) -> None:
    a = spawner.start(
        node_claude(spawner, "--resume", U1), children=[["sleep", "120"], spawner.sleeper()]
    )
    rep = terminate_tree(rec_table, ident(a), grace=5.0, session=U1)
    assert rep.ok, rep
    assert {i.pid for i in rep.term.sent} == {a.pid, *a.children}
    assert rep.kill is None
    assert rep.survivors == []
    assert all(gone(p) for p in (a.pid, *a.children))
    assert {s for _, s, _ in rec_table.sent} == {signal.SIGTERM}  # never SIGKILL
    assert rec_table.sent[-1][0] == a.pid  # children first, the agent last
    lines = [x for x in log_lines if f"pid={a.pid} " in x]
    assert lines == [lines[0]]
    assert f"signal SIGTERM pid={a.pid} session={U1} outcome=sent" in lines[0]
    assert sum(f"pid={c} " in x for x in log_lines for c in a.children) == 2


def test_survivors_are_listed_and_left_alone_without_escalation(
    spawner: AgentSpawner, rec_table: RecordingTable
) -> None:
    a = spawner.start(bin_claude(spawner), children=[["sleep", "120"]], ignore_term=True)
    rep = terminate_tree(rec_table, ident(a), grace=0.3, escalate=False)
    assert not rep.ok
    assert [i.pid for i in rep.survivors] == [a.pid]
    assert gone(a.children[0])  # the child did not ignore SIGTERM
    assert not gone(a.pid)
    assert signal.SIGKILL not in rec_table.signals(a.pid)


def test_grace_then_escalation_kills_what_survives(
    spawner: AgentSpawner, rec_table: RecordingTable, log_lines: list[str]
) -> None:
    a = spawner.start(bin_claude(spawner), children=[["sleep", "120"]], ignore_term=True)
    asked: list[list[int]] = []

    def confirm(alive: Sequence[Identity]) -> bool:
        asked.append([i.pid for i in alive])
        return True

    rep = terminate_tree(rec_table, ident(a), grace=0.5, escalate=confirm, session="s-1")
    assert rep.ok
    assert asked == [[a.pid]]
    assert rep.kill is not None
    assert [i.pid for i in rep.kill.sent] == [a.pid]
    assert gone(a.pid)
    assert rec_table.signals(a.pid) == [signal.SIGTERM, signal.SIGKILL]
    times = [t for p, _, t in rec_table.sent if p == a.pid]
    assert times[1] - times[0] >= 0.5  # the grace period came first
    assert any(f"signal SIGKILL pid={a.pid} session=s-1 outcome=sent" in x for x in log_lines)


def test_escalation_also_kills_what_the_tree_started_after_the_sigterm(
    spawner: AgentSpawner, rec_table: RecordingTable
) -> None:
    a = spawner.start(bin_claude(spawner), spawn_on_term=spawner.sleeper())
    asked: list[list[int]] = []

    def confirm(alive: Sequence[Identity]) -> bool:
        asked.append([i.pid for i in alive])
        return True

    late_file = spawner.tmp / f"ready-{spawner.n}.json.late"
    rep = terminate_tree(rec_table, ident(a), grace=1.0, escalate=confirm)
    assert late_file.exists(), "the dummy's SIGTERM trap did not run"
    late = int(late_file.read_text())
    spawner.seen.setdefault(late, psutil.Process(late))  # torn down even if this fails
    assert asked == [[a.pid, late]]  # the question names it
    assert rep.kill is not None
    assert {i.pid for i in rep.kill.sent} == {a.pid, late}
    assert rec_table.signals(late) == [signal.SIGKILL]
    until(lambda: gone(late), "the late child to die")
    assert rep.ok


def test_force_escalates_without_asking(spawner: AgentSpawner, rec_table: RecordingTable) -> None:
    a = spawner.start(bin_claude(spawner), ignore_term=True)
    rep = terminate_tree(rec_table, ident(a), grace=0.2, escalate=True)
    assert rep.ok
    assert gone(a.pid)
    assert rec_table.signals(a.pid) == [signal.SIGTERM, signal.SIGKILL]


def test_an_agent_that_already_exited_is_reported_not_an_error(
    spawner: AgentSpawner, rec_table: RecordingTable, log_lines: list[str]
) -> None:
    a = spawner.start(bin_claude(spawner))
    who = ident(a)
    a.exit_file.touch()
    a.popen.wait(timeout=WAIT)
    rep = terminate_tree(rec_table, who, grace=1.0)
    assert rep.ok
    assert rep.term.exited == [who]
    assert rep.term.sent == []
    assert rec_table.sent == []
    assert any(f"pid={a.pid} " in x and "outcome=already exited" in x for x in log_lines)
    assert signal_tree(rec_table, who, signal.SIGSTOP).exited == [who]


# ---- suspend / resume ---------------------------------------------------------------------
def test_suspend_and_resume_the_tree(spawner: AgentSpawner, rec_table: RecordingTable) -> None:
    a = spawner.start(bin_claude(spawner), children=[["sleep", "120"], ["sleep", "120"]])
    tree = (a.pid, *a.children)
    rep = signal_tree(rec_table, ident(a), signal.SIGSTOP, session=U1)
    assert rep.ok
    assert {i.pid for i in rep.sent} == set(tree)
    assert rec_table.sent[0][0] == a.pid  # the agent first: it cannot react by spawning
    until(lambda: all(stopped(p) for p in tree), "the tree to stop")
    found = {p.pid: p for p in discover(PsutilTable(), [])}
    assert found[a.pid].status is ProcStatus.SUSPENDED

    rep = signal_tree(rec_table, ident(a), signal.SIGCONT)
    assert rep.ok
    assert {i.pid for i in rep.sent} == set(tree)
    until(lambda: not any(stopped(p) for p in tree), "the tree to continue")


def test_kill_reaches_a_suspended_agent(spawner: AgentSpawner, rec_table: RecordingTable) -> None:
    a = spawner.start(bin_claude(spawner), children=[["sleep", "120"]])
    signal_tree(rec_table, ident(a), signal.SIGSTOP)
    until(lambda: stopped(a.pid), "the agent to stop")
    rep = terminate_tree(rec_table, ident(a), grace=5.0)
    assert rep.ok
    assert gone(a.pid)
    assert rec_table.signals(a.pid) == [signal.SIGSTOP, signal.SIGTERM, signal.SIGCONT]


# ---- safety -------------------------------------------------------------------------------
def test_a_reused_pid_is_refused(
    spawner: AgentSpawner, rec_table: RecordingTable, log_lines: list[str]
) -> None:
    a = spawner.start(bin_claude(spawner), children=[["sleep", "120"]])
    who = ident(a)
    rec_table.reused.add(a.pid)  # the pid now reads as a process started a second later
    rep = terminate_tree(rec_table, who, grace=0.2, escalate=True)
    assert not rep.ok
    assert [i.pid for i, _ in rep.term.refused] == [a.pid]
    assert "pid reused" in rep.term.refused[0][1]
    assert rec_table.sent == []  # not even the children of a pid that is no longer ours
    assert not gone(a.pid)
    assert not gone(a.children[0])
    assert any(f"pid={a.pid} " in x and "outcome=refused" in x for x in log_lines)


def test_a_changed_command_line_is_refused(
    spawner: AgentSpawner, rec_table: RecordingTable
) -> None:
    a = spawner.start(bin_claude(spawner))
    who = ident(a)
    other = Identity(who.pid, who.create_time, ("vim", "notes.md"), who.user)
    rep = signal_tree(rec_table, other, signal.SIGSTOP)
    assert rep.refused
    assert rec_table.sent == []


def test_agentwatch_itself_and_its_ancestors_are_refused(
    spawner: AgentSpawner, rec_table: RecordingTable
) -> None:
    table = PsutilTable()
    for pid in (os.getpid(), os.getppid()):
        who = table.identity(pid)
        assert who is not None
        rep = terminate_tree(rec_table, who, grace=0.1, escalate=True)
        assert not rep.ok
        assert "agentwatch" in rep.term.refused[0][1]
        rep2 = signal_tree(rec_table, who, signal.SIGSTOP)
        assert rep2.refused
        assert not rep2.sent
    assert rec_table.sent == []
    assert rec_table.violations == []
    assert Guard.current().protected >= {os.getpid(), os.getppid()}


def test_another_users_process_is_refused(spawner: AgentSpawner, rec_table: RecordingTable) -> None:
    a = spawner.start(bin_claude(spawner))
    guard = Guard(user="someone-else", protected=frozenset())
    rep = signal_tree(rec_table, ident(a), signal.SIGTERM, guard=guard)
    assert rep.refused[0][1] == f"it belongs to user {ident(a).user}"
    assert rec_table.sent == []
    assert not gone(a.pid)


def test_the_recording_table_blocks_strangers(rec_table: RecordingTable) -> None:
    # the guard the other tests rely on: a pid outside the test is never signalled
    with pytest.raises(PermissionError):
        rec_table.send_signal(os.getppid(), signal.SIGCONT)
    assert rec_table.violations == [(os.getppid(), signal.SIGCONT)]
    rec_table.violations.clear()
