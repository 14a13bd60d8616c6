"""Codex CLI homes end to end: `report --json` through the installed script, and the live engine
with a real observer. Trees follow FORMATS.md section 2; expected counts are worked out by hand.
"""

from __future__ import annotations

import json
import queue
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentwatch.core.events import Event, UsageEvent
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import Tokens
from agentwatch.infra.files import Root
from agentwatch.infra.live import LiveEngine, session_total
from agentwatch.infra.workspace import Options, open_workspace
from agentwatch.sources import claude_code, codex
from tests.conftest import Run, check_report_invariants
from tests.fixtures.claude import ClaudeTree
from tests.fixtures.claude import ts as claude_ts
from tests.fixtures.claude import usage as claude_usage
from tests.fixtures.codex import CODEX, MAX, MINI, CodexTree, toks, ts, usage

Agentwatch = Callable[..., Run]
A = "019c2a1e-3b7f-7c2a-9e81-0a6b2c4d8f10"
B = "019c2a33-1111-7222-8333-944455566677"
C = "019c2a2f-5b3d-7f6e-9a18-2d4c6b8e0f13"
D = "019c2a50-aaaa-7bbb-8ccc-dddeeefff000"
F = "019c2a40-0d5a-7f83-b6c2-71a8e3d9f405"
WAIT = 10.0  # upper bound for an event to arrive; nothing sleeps for a fixed time


def report(agentwatch: Agentwatch, *args: str) -> dict[str, Any]:
    res = agentwatch("report", "--json", *args)
    assert res.code == 0, res.err
    assert "Traceback" not in res.err
    doc: dict[str, Any] = res.json()
    check_report_invariants(doc)
    doc["stderr"] = res.err
    return doc


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["session_id"]: s for s in doc["sessions"]}


def add(*parts: dict[str, int]) -> dict[str, int]:
    return {k: sum(p[k] for p in parts) for k in parts[0]}


@pytest.fixture
def tree(tmp_path: Path) -> CodexTree:
    t = CodexTree(tmp_path / "codex")
    t.root.mkdir()
    return t


def build(tree: CodexTree) -> dict[str, dict[str, int]]:
    """Every case of the format in one home; returns the expected tokens per thread."""
    a = tree.rollout(A, ts(0))
    a.meta(ts(0))
    a.token_count(ts(0, 1), None)
    a.turn(ts(0, 2), CODEX, "turn-a1")
    first = usage(100, 0, 10, 4, cw=0)
    a.token_count(ts(0, 5), first, first)
    a.token_count(ts(0, 6), first, first)
    a.token_count(ts(0, 10), usage(250, 80, 30, 12, cw=30), usage(150, 80, 20, 8, cw=30))
    # A sub-agent: its rollout replays A so far, stamped in its creation second.
    c = tree.subagent(a, C, ts(1, 0, 250), "explorer", "otter", replayed=ts(1, 0, 900))
    c.turn(ts(1, 1), MINI, "turn-c1")
    c.token_count(ts(1, 3), usage(40, 0, 8), usage(40, 0, 8))
    c.token_count(ts(1, 5), usage(90, 32, 20))
    a.turn(ts(2), CODEX, "turn-a2")
    a.token_count(ts(2, 5), usage(400, 200, 50, 20, cw=30))
    # A fork: its own session; its totals continue A's.
    f = tree.fork(a, F, ts(3, 0, 500))
    f.turn(ts(3, 2), MAX, "turn-f1")
    f.token_count(ts(3, 4), usage(460, 250, 56, 20, cw=30))
    # An older build (no turn ids, no cache writes) with resets, archived while a copy stayed.
    b = tree.rollout(B, ts(4), version="0.40.0")
    b.meta(ts(4))
    b.turn(ts(4, 1), MAX)
    b.token_count(ts(4, 2), usage(1000, 600, 50))
    b.token_count(ts(4, 3), usage(300, 100, 20, 5), usage(120, 100, 20, 5))
    b.token_count(ts(4, 4), usage(50, 0, 5))
    archived = tree.root / "archived_sessions" / b.path.name
    archived.parent.mkdir(parents=True)
    shutil.copyfile(b.path, archived)
    # Archived only, with garbage lines and a torn last line.
    d = tree.rollout(D, ts(5), archived=True)
    d.meta(ts(5))
    d.turn(ts(5, 1), CODEX)
    d.raw(b"<<<<<<< HEAD\n")
    d.token_count(ts(5, 2), usage(77, 0, 3))
    d.raw(b"\x00" * 64 + b"\n")
    d.token_count(ts(5, 3), usage(100, 20, 9))
    torn = {"total_token_usage": usage(999_999, 0, 1)}
    d.raw(json.dumps({"timestamp": ts(5, 4), "type": "event_msg", "payload": torn})[:70])
    return {
        A: add(toks(100, 10, 0, 0, 4), toks(40, 20, 30, 80, 8), toks(30, 20, 0, 120, 8)),
        C: add(toks(40, 8), toks(18, 12, 0, 32)),
        F: toks(10, 6, 0, 50),
        B: add(toks(400, 50, 0, 600), toks(20, 20, 0, 100, 5), toks(50, 5)),
        D: add(toks(77, 3), toks(3, 6, 0, 20)),
    }


def test_report_counts_a_codex_home_exactly(tree: CodexTree, agentwatch: Agentwatch) -> None:
    want = build(tree)
    doc = report(agentwatch, "--codex-dir", str(tree.root))
    got = by_id(doc)
    assert set(got) == {A, F, B, D}
    assert {s["agent"] for s in doc["sessions"]} == {"codex"}
    a = got[A]
    assert a["tokens"] == want[A] == toks(170, 50, 30, 200, 20)
    (sub,) = a["subagents"]
    assert (sub["agent_id"], sub["agent_type"], sub["description"]) == (C, "explorer", "otter")
    assert sub["tokens"] == want[C] == toks(58, 20, 0, 32)
    assert sub["models"] == [MINI]
    assert a["total_tokens"] == add(want[A], want[C])
    assert a["models"] == [CODEX, MINI]  # the session's models include its sub-agents'
    assert a["project"] == "/home/dev/shop-api"
    assert a["started_at"] == ts(0)
    assert len(a["files"]) == 2
    assert got[F]["tokens"] == got[F]["total_tokens"] == want[F]
    assert got[F]["subagents"] == []
    assert got[F]["models"] == [MAX]
    assert got[B]["tokens"] == want[B] == toks(470, 75, 0, 700, 5)
    assert sorted(Path(p).parent.name for p in got[B]["files"]) == ["04", "archived_sessions"]
    assert got[D]["tokens"] == want[D] == toks(80, 9, 0, 20)
    assert doc["totals"]["tokens"] == add(*want.values())
    assert doc["totals"]["tokens"]["total"] == 560 + 66 + 1245 + 109
    assert doc["skipped"]["lines"] == 3  # two garbage lines and the torn last line


def test_codex_beside_claude_and_the_agent_filter(
    tree: CodexTree, claude_tree: ClaudeTree, agentwatch: Agentwatch
) -> None:
    want = build(tree)
    m = claude_tree.main("5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10")
    m.assistant("msg_1", "req_1", claude_usage(10, 100, 0, 0, 1000), claude_ts(0))
    both = report(agentwatch, "--claude-dir", str(claude_tree.root), "--codex-dir", str(tree.root))
    assert both["totals"]["tokens"]["total"] == 1980 + 1110
    only = report(
        agentwatch,
        "--claude-dir",
        str(claude_tree.root),
        "--codex-dir",
        str(tree.root),
        "--agent",
        "codex",
    )
    assert set(by_id(only)) == {A, F, B, D}
    assert only["totals"]["tokens"] == add(*want.values())


def test_index_resumes_rollouts_mid_file(
    tree: CodexTree, agentwatch: Agentwatch, tmp_path: Path
) -> None:
    build(tree)
    cache = ("--cache-dir", str(tmp_path / "cache"))
    cold = report(agentwatch, "--codex-dir", str(tree.root), *cache)
    c = next(tree.root.glob(f"sessions/*/*/*/rollout-*-{C}.jsonl"))
    with c.open("ab") as fh:  # after (90, 32, 20): input 60, output 10
        fh.write(tc_line(ts(6), usage(150, 32, 30)))
    warm = report(agentwatch, "--codex-dir", str(tree.root), *cache)
    fresh = report(agentwatch, "--codex-dir", str(tree.root), "--no-cache")
    for doc in (cold, warm, fresh):
        doc.pop("generated_at")
        doc.pop("stderr")
        for s in doc["sessions"]:
            s.pop("status")
    assert warm == fresh
    grown = by_id(warm)[A]["total_tokens"]
    assert grown == add(by_id(cold)[A]["total_tokens"], toks(60, 10))


def home_with(root: Path, thread_id: str, out: int) -> None:
    r = CodexTree(root).rollout(thread_id, ts(0))
    r.meta(ts(0))
    r.token_count(ts(0, 1), usage(10, 0, out))


def test_codex_homes_from_flags_or_codex_home(
    tmp_path: Path, agentwatch: Agentwatch, cli_env: dict[str, str]
) -> None:
    h1, h2 = tmp_path / "h1", tmp_path / "h2"
    home_with(h1, A, 5)
    home_with(h2, B, 7)
    flags = report(agentwatch, "--codex-dir", str(h1), "--codex-dir", str(h2))
    assert {k: s["tokens"]["output"] for k, s in by_id(flags).items()} == {A: 5, B: 7}
    assert "not read yet" not in flags["stderr"]
    res = agentwatch("report", "--json", env={"CODEX_HOME": f"{h1},{h2}"})
    assert res.code == 0, res.err
    assert {s["session_id"] for s in res.json()["sessions"]} == {A, B}
    # The default home, beside an (empty) Gemini dir.
    shutil.copytree(h1, Path(cli_env["HOME"]) / ".codex")
    (tmp_path / "gem").mkdir()
    res = agentwatch("report", "--json", "--gemini-dir", str(tmp_path / "gem"))
    assert res.code == 0, res.err
    assert {s["session_id"] for s in res.json()["sessions"]} == {A}
    assert "not read yet" not in res.err
    assert "Codex" not in res.err


def test_missing_codex_dir_is_a_usage_error(tmp_path: Path, agentwatch: Agentwatch) -> None:
    res = agentwatch("report", "--json", "--codex-dir", str(tmp_path / "nope"))
    assert res.code == 2
    assert res.out == ""
    assert "--codex-dir" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_workspace_roots_and_folders_searched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    opts = Options(cache_dir=str(tmp_path / "cache"), config_dir=str(tmp_path / "config"))
    ws = open_workspace(opts, env={}, home=home)
    assert [(r.source.agent, r.path) for r in ws.roots] == [(Agent.CODEX, home / ".codex")]
    assert home / ".codex" in ws.searched
    assert home / ".claude" / "projects" in ws.searched
    assert ws.fingerprint()["parsers"] == {"codex": codex.PARSER_VERSION}


# ---- live -------------------------------------------------------------------------------------
class Collector:
    """Events from the engine thread, waited on with a bound."""

    def __init__(self) -> None:
        self.q: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []

    def __call__(self, ev: Event) -> None:
        self.q.put(ev)

    def usage(self, thread: ThreadKey, what: str) -> UsageEvent:
        while True:
            try:
                ev = self.q.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no event within {WAIT}s: {what}; saw {self.seen[-5:]}")
            self.seen.append(ev)
            if isinstance(ev, UsageEvent) and ev.thread == thread:
                return ev


@pytest.fixture
def live(tree: CodexTree) -> Iterator[tuple[LiveEngine, Collector]]:
    events = Collector()
    eng = LiveEngine([Root(codex.SOURCE, tree.root)], Tally(), events, tick=0.05)
    yield eng, events
    eng.stop()


def tc_line(when: str, total: dict[str, int]) -> bytes:
    payload = {"type": "token_count", "info": {"total_token_usage": total}}
    return (
        json.dumps({"timestamp": when, "type": "event_msg", "payload": payload}) + "\n"
    ).encode()


def total_of(eng: LiveEngine, session_id: str) -> Tokens:
    return session_total(eng.tally.sessions[ThreadKey(Agent.CODEX, session_id)])


def test_live_rollout_held_open_by_the_writer(
    tree: CodexTree, live: tuple[LiveEngine, Collector]
) -> None:
    eng, events = live
    a = tree.rollout(A, ts(0))
    a.meta(ts(0))
    a.turn(ts(0, 1), CODEX, "turn-a1")
    a.token_count(ts(0, 2), usage(100, 0, 10))
    eng.open()
    eng.start()
    assert total_of(eng, A) == Tokens(input=100, output=10)
    main = ThreadKey(Agent.CODEX, A)
    with a.path.open("ab", buffering=0) as fh:  # Codex keeps the rollout's fd open
        fh.write(tc_line(ts(0, 3), usage(100, 0, 10)))  # a re-emit: no event
        fh.write(tc_line(ts(0, 4), usage(300, 90, 25)))
        ev = events.usage(main, "the second call")
        assert ev.delta == Tokens(input=110, output=15, cache_read=90)
        assert ev.message_id == "turn-a1"
        line = tc_line(ts(0, 5), usage(310, 90, 30))
        fh.write(line[:25])  # a partial line waits for its end
        fh.write(line[25:])
        ev = events.usage(main, "the line completed")
        assert ev.delta == Tokens(input=10, output=5)
        assert ev.session_total == Tokens(input=220, output=30, cache_read=90)
    # A sub-agent rollout appears in a new date folder; only its own calls count.
    c = tree.subagent(a, C, "2026-02-05T09:00:00.100Z", "worker", "heron")
    c.raw(tc_line("2026-02-05T09:00:01.000Z", usage(40, 0, 8)))
    ev = events.usage(ThreadKey(Agent.CODEX, A, C), "the sub-agent's call")
    assert ev.delta == Tokens(input=40, output=8)
    assert ev.session_total == Tokens(input=260, output=38, cache_read=90)
    s = eng.tally.sessions[main]
    assert s.subagent(C).agent_type == "worker"


def test_claude_and_codex_roots_watched_together(tree: CodexTree, claude_tree: ClaudeTree) -> None:
    events = Collector()
    roots = [Root(claude_code.SOURCE, claude_tree.root), Root(codex.SOURCE, tree.root)]
    eng = LiveEngine(roots, Tally(), events, tick=0.05)
    try:
        eng.open()
        eng.start()
        a = tree.rollout(A, ts(0))
        a.meta(ts(0))
        a.raw(tc_line(ts(0, 1), usage(5, 0, 1)))
        ev = events.usage(ThreadKey(Agent.CODEX, A), "a rollout created while watching")
        assert ev.delta == Tokens(input=5, output=1)
    finally:
        eng.stop()
