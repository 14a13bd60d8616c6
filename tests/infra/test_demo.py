"""The demo's simulator and its life cycle: real files, real scans, a real dummy process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from agentwatch.core.alerts import AlertKind
from agentwatch.core.procs import Confidence
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.signals import history_activity, session_signals
from agentwatch.core.tally import Tally
from agentwatch.core.thresholds import Thresholds
from agentwatch.core.tokens import Tokens
from agentwatch.infra.demo import DUMMY_AGENT, PREFILL, Demo, Simulator
from agentwatch.infra.files import Root, ScanStats
from agentwatch.infra.scan import scan
from agentwatch.sources import claude_code, codex

T0 = 1_770_200_000.0  # a fixed clock: 2026-02-04


def roots(sim: Simulator) -> list[Root]:
    return [Root(claude_code.SOURCE, sim.claude_root), Root(codex.SOURCE, sim.codex_root)]


def counted(sim: Simulator) -> tuple[dict[ThreadKey, Tokens], Tally, ScanStats]:
    """What the real scanner finds, per thread (main threads and sub-agents apart)."""
    tally = Tally()
    stats = scan(roots(sim), tally)
    out: dict[ThreadKey, Tokens] = {}
    for key, s in tally.sessions.items():
        out[key] = s.main.account.tokens
        for aid, t in s.subagents.items():
            out[ThreadKey(key.agent, key.session_id, aid)] = t.account.tokens
    return {k: v for k, v in out.items() if v}, tally, stats


def alerts_at(sim: Simulator, now: float) -> dict[str, list[tuple[AlertKind, bool]]]:
    """Loop alerts per project name, evaluated the way reports do (whole history)."""
    tally = Tally()
    stats = scan(roots(sim), tally)
    th = Thresholds()
    names = {sid: name for name, sid in sim.sessions.items()}
    signals = session_signals(
        history_activity(tally, stats.activity_by_session(), th), tally.sessions, now, th
    )
    return {
        names[k.session_id]: [(a.kind, a.active) for a in alerts]
        for k, (_, alerts) in signals.items()
        if alerts
    }


# ---- what it writes ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_every_token_written_is_counted_exactly(tmp_path: Path, seed: int) -> None:
    sim = Simulator(tmp_path, T0, seed)
    # checkpoints fall mid-response too: streamed lines written so far count at their largest
    for at in (7.3, 61.1, 333.3, 900.0):
        sim.advance(T0 + at)
        got, _, stats = counted(sim)
        assert stats.lines_skipped == 0
        assert not stats.skipped_files
        assert got == sim.stage.ledger.totals(), at
    # ...and the run covered what the demo is for
    threads = sim.stage.ledger.totals()
    assert sum(t.total for t in threads.values()) > 1_000_000
    subs = {k for k in threads if k.agent_id is not None}
    assert any(k.agent is Agent.CODEX for k in subs)
    assert any(k.agent_id and k.agent_id.startswith("acompact-") for k in subs)
    assert any(k.agent_id and not k.agent_id.startswith("acompact-") for k in subs)
    assert {k.session_id for k in threads if k.agent_id is None} == set(sim.sessions.values())


def test_lines_follow_the_formats(tmp_path: Path) -> None:
    sim = Simulator(tmp_path, T0, 3)
    sim.advance(T0 + 600)
    projects = sim.claude_root / "projects"
    metas = list(projects.glob("*/*/subagents/agent-a*.meta.json"))
    assert metas, "2.1.x sub-agents with sidecars"
    meta = json.loads(metas[0].read_text())
    assert {"agentType", "description", "toolUseId"} <= set(meta)
    assert (metas[0].parent / metas[0].name.replace(".meta.json", ".jsonl")).exists()
    by_msg: dict[str, list[int]] = {}
    versions = set()
    for path in projects.glob("*/*.jsonl"):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            versions.add(obj.get("version"))
            if obj["type"] == "assistant":
                u = obj["message"]["usage"]
                by_msg.setdefault(obj["message"]["id"], []).append(u["output_tokens"])
    assert {"2.1.150", "2.1.90"} <= versions
    streamed = [outs for outs in by_msg.values() if len(outs) > 1]
    assert streamed, "responses written as several lines with one message id"
    assert any(len(set(outs)) > 1 for outs in streamed), "placeholder output before 2.1.97"
    rollouts = sorted(sim.codex_root.glob("sessions/*/*/*/rollout-*.jsonl"))
    assert len(rollouts) == 2  # the session and its collab sub-agent
    kinds = {json.loads(ln)["payload"].get("type") for ln in rollouts[0].read_text().splitlines()}
    assert {"token_count", "exec_command_end", "patch_apply_end"} <= kinds


# ---- the loop ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_loop_session_raises_an_error_loop_alert_within_a_minute(tmp_path, seed):
    sim = Simulator(tmp_path, T0, seed)
    opened = T0 + PREFILL  # the demo writes PREFILL seconds of history before the view opens
    sim.advance(opened)
    assert alerts_at(sim, opened) == {}
    sim.advance(opened + 45)
    assert alerts_at(sim, opened + 45) == {"billing-svc": [(AlertKind.ERROR_LOOP, True)]}


def test_no_other_session_ever_alerts(tmp_path: Path) -> None:
    sim = Simulator(tmp_path, T0, 5)
    sim.advance(T0 + 1800)
    assert alerts_at(sim, T0 + 1800) == {"billing-svc": [(AlertKind.ERROR_LOOP, True)]}


# ---- the demo's life cycle --------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, FakeClock]]:
    clock = FakeClock()
    d = Demo.create(parent=tmp_path, clock=clock, seed=7)
    try:
        yield d, clock
    finally:
        d.close()


def until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def loop_file(d: Demo) -> Path:
    (path,) = d.sim.claude_root.glob(f"projects/*/{d.sim.loop_session}.jsonl")
    return path


def test_close_removes_the_folder_and_ends_the_dummy(tmp_path: Path) -> None:
    with Demo.create(parent=tmp_path, clock=FakeClock(), seed=7) as d:
        d.start(thread=False)
        assert d.root.parent == tmp_path
        assert d.root.name.startswith("agentwatch-demo-")
        assert d.dummy is not None
        assert d.dummy.poll() is None
        dummy = d.dummy
    assert not d.root.exists()
    assert dummy.returncode == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_an_exception_still_cleans_up(tmp_path: Path) -> None:
    started: list[Demo] = []

    def crash() -> None:
        with Demo.create(parent=tmp_path, seed=7) as d:
            started.append(d)
            d.start()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crash()
    dummy = started[0].dummy
    assert dummy is not None
    assert dummy.returncode is not None
    assert list(tmp_path.iterdir()) == []


def test_the_dummy_is_the_only_process_and_maps_to_the_loop_session(demo) -> None:
    d, _ = demo
    assert d.processes() == []  # not started yet
    d.start(thread=False)
    until(lambda: bool(d.processes()), "the dummy's command line")  # empty while it execs
    (p,) = d.processes()
    assert d.dummy is not None
    assert p.pid == d.dummy.pid
    assert p.session.session_id == d.sim.loop_session
    assert p.session.mapping is Confidence.EXACT
    assert tuple(psutil.Process(p.pid).cmdline()) == p.cmdline  # kill re-checks this identity
    assert p.create_time == psutil.Process(p.pid).create_time()
    assert p.cwd == str(d.sim.work / "billing-svc")


def test_killing_the_dummy_ends_its_session_and_reaps_it(demo) -> None:
    d, clock = demo
    d.start(thread=False)
    assert d.dummy is not None
    clock.now += 30
    d.advance()
    size = loop_file(d).stat().st_size
    others = {f: f.stat().st_size for f in d.sim.claude_root.glob("projects/*/*.jsonl")}
    os.kill(d.dummy.pid, signal.SIGTERM)  # as the TUI's kill does (not through Popen)
    until(lambda: not _alive(d.dummy.pid), "the dummy to exit")
    clock.now += 120
    d.advance()
    assert d.dummy.returncode == -signal.SIGTERM  # reaped by the demo itself
    assert loop_file(d).stat().st_size == size  # a dead agent writes nothing more
    assert d.processes() == []
    grew = [f for f, n in others.items() if f.stat().st_size > n]
    assert grew
    assert loop_file(d) not in grew


def test_a_suspended_dummy_pauses_its_session(demo) -> None:
    d, clock = demo
    d.start(thread=False)
    assert d.dummy is not None
    clock.now += 30
    d.advance()
    proc = psutil.Process(d.dummy.pid)
    os.kill(d.dummy.pid, signal.SIGSTOP)
    try:
        until(lambda: proc.status() == psutil.STATUS_STOPPED, "SIGSTOP to land")
        size = loop_file(d).stat().st_size
        clock.now += 60
        d.advance()
        assert loop_file(d).stat().st_size == size
    finally:
        os.kill(d.dummy.pid, signal.SIGCONT)
    until(lambda: proc.status() != psutil.STATUS_STOPPED, "SIGCONT to land")
    clock.now += 60
    d.advance()
    assert loop_file(d).stat().st_size > size


def test_the_dummy_leaves_when_the_demo_is_gone(tmp_path: Path) -> None:
    script = tmp_path / "demo-agent.py"
    script.write_text(DUMMY_AGENT)
    starter = (
        "import os, subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, {str(script)!r}], start_new_session=True,\n"
        "                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,\n"
        "                      env={**os.environ, 'AGENTWATCH_DEMO_PARENT': str(os.getpid())})\n"
        "print(p.pid)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", starter], capture_output=True, text=True, check=True, timeout=30
    )
    pid = int(out.stdout)
    try:
        psutil.Process(pid).wait(timeout=15)  # orphaned: it notices and exits on its own
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("the dummy outlived the demo") from None


def test_the_demo_never_reads_the_users_agent_folders(demo, tmp_path: Path) -> None:
    d, _ = demo
    real = tmp_path / "real-home"
    (real / ".gemini" / "tmp").mkdir(parents=True)
    env = {
        "HOME": str(real),
        "GEMINI_CLI_HOME": str(real),
        "CODEX_HOME": str(real / ".codex"),
        "CLAUDE_CONFIG_DIR": str(real / ".claude"),
    }
    ws = d.workspace(env)
    for r in ws.roots:
        assert Path(r.path).is_relative_to(d.root), r.path
