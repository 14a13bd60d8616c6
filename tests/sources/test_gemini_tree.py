"""Gemini CLI homes end to end: `report --json` through the installed script, the persistent
index across re-writes and rewinds, and how `--gemini-dir` and the default home are found.
Trees follow FORMATS.md section 3; expected counts are worked out by hand.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentwatch.core.records import Agent
from agentwatch.infra.workspace import Options, open_workspace
from agentwatch.sources import gemini
from tests.conftest import Run, check_report_invariants
from tests.fixtures.claude import ClaudeTree
from tests.fixtures.claude import ts as claude_ts
from tests.fixtures.claude import usage as claude_usage
from tests.fixtures.gemini import (
    FLASH,
    PRO,
    GeminiTree,
    edit_display,
    gemini_msg,
    tokens,
    toks,
    tool_call,
    ts,
    user_msg,
)

Agentwatch = Callable[..., Run]
A = "7f3c2a10-5b3d-4f6e-9a18-2d4c6b8e0f13"
B = "b0b0b0b0-1111-4222-8333-944455566677"
C = "c1c1c1c1-1111-4222-8333-944455566677"
D = "d2d2d2d2-1111-4222-8333-944455566677"
E = "e3e3e3e3-1111-4222-8333-944455566677"
CHILD = "a9a9a9a9-1111-4222-8333-944455566677"
HASHED = "5f2b0c9e7a1d3b6f8e4c2a0b9d7f5e3c1a8b6d4f2e0c9a7b5d3f1e8c6a4b2d0f"


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
def tree(tmp_path: Path) -> GeminiTree:
    t = GeminiTree(tmp_path / ".gemini")
    t.root.mkdir()
    return t


def build(tree: GeminiTree) -> dict[str, dict[str, int]]:
    """Every form in one home; returns the expected tokens per session (sub-agent apart)."""
    garden = tree.project("garden", "/home/dev/garden\n")
    # A: JSONL with a re-written message, tool calls, a rewind, garbage and a sub-agent.
    a = tree.chat(garden, A, ts(0))
    a.meta(ts(0))
    a.user("a-u1", ts(0, 1), "fix the tests")
    shell = {"command": "npm test"}
    a.gemini("a-g1", ts(0, 2), calls=[tool_call("t1", "run_shell_command", shell, "executing")])
    a.gemini(
        "a-g1",
        ts(0, 2),
        usage=tokens(9120, 210, 8064, 95),
        calls=[tool_call("t1", "run_shell_command", shell, "error", output="2 failed")],
    )
    edit = {"file_path": "/home/dev/garden/src/app.ts", "old_string": "a", "new_string": "b"}
    display = edit_display(edit["file_path"], 4, 2)
    a.gemini(
        "a-g2",
        ts(0, 5),
        usage=tokens(10000, 300, 9000, 50, 20),
        calls=[tool_call("t2", "replace", edit, display=display)],
    )
    a.user("a-u2", ts(1), "try another way")
    a.gemini("a-g3", ts(1, 5), usage=tokens(11000, 900, 10000, 100))
    a.rewind("a-u2")
    a.raw(b"<<<<<<< HEAD\n")
    a.user("a-u3", ts(2), "no, this way")
    a.gemini("a-g4", ts(2, 5), FLASH, tokens(12000, 80, 11000))
    sub = tree.subagent(a, CHILD)
    sub.meta(ts(0, 10), kind="subagent")
    sub.user("s-u1", ts(0, 11), "investigate")
    sub.gemini("s-g1", ts(0, 20), FLASH, tokens(3000, 100, 2000, 40))
    # B: legacy, re-written three times (only the file as it stands counts).
    b = tree.legacy(garden, B, ts(3))
    b.upsert(user_msg("b-u1", ts(3, 1)))
    b.upsert(gemini_msg("b-g1", ts(3, 2), PRO, None))
    b.write()
    b.upsert(gemini_msg("b-g1", ts(3, 2), PRO, tokens(4000, 40, 1000, 4)))
    b.write()
    b.upsert(user_msg("b-u2", ts(4)))
    b.upsert(gemini_msg("b-g2", ts(4, 1), "gemini-9-ultra", tokens(500, 5)))
    b.write()
    # C: legacy, resumed (continued as .jsonl, the .json left behind), then rewound there.
    c = tree.legacy(garden, C, ts(5))
    c.upsert(user_msg("c-u1", ts(5, 1)))
    c.upsert(gemini_msg("c-g1", ts(5, 2), PRO, tokens(2000, 20)))
    c.upsert(user_msg("c-u2", ts(5, 3)))
    c.upsert(gemini_msg("c-g2", ts(5, 4), PRO, tokens(3000, 30)))
    c.write()
    cj = tree.resume_legacy(c)
    cj.rewind("c-u2")
    cj.user("c-u3", ts(6))
    cj.gemini("c-g3", ts(6, 1), PRO, tokens(2500, 25, 2000))
    # D: a legacy file caught half-written: a skipped file, nothing counted.
    d = tree.legacy(garden, D, ts(7))
    d.upsert(gemini_msg("d-g1", ts(7, 1), PRO, tokens(100, 1)))
    d.write_partial(60)
    # E: an older project folder named by hash, with no `.project_root`.
    old = tree.project(HASHED)
    e = tree.chat(old, E, ts(8))
    e.meta(ts(8))
    e.gemini("e-g1", ts(8, 1), FLASH, tokens(700, 7, 0, 0, 3))
    return {
        A: add(toks(1056, 305, 8064, 95), toks(1020, 350, 9000, 50), toks(1000, 80, 11000)),
        CHILD: toks(1000, 140, 2000, 40),
        B: add(toks(3000, 44, 1000, 4), toks(500, 5)),
        C: add(toks(2000, 20), toks(500, 25, 2000)),
        E: toks(703, 7),
    }


def test_report_counts_a_gemini_home_exactly(tree: GeminiTree, agentwatch: Agentwatch) -> None:
    want = build(tree)
    doc = report(agentwatch, "--gemini-dir", str(tree.root))
    got = by_id(doc)
    assert set(got) == {A, B, C, E}
    assert {s["agent"] for s in doc["sessions"]} == {"gemini"}
    a = got[A]
    assert a["tokens"] == want[A] == toks(3076, 735, 28064, 145)
    (sub,) = a["subagents"]
    assert (sub["agent_id"], sub["agent_type"], sub["description"]) == (CHILD, None, None)
    assert sub["tokens"] == want[CHILD]
    assert sub["models"] == [FLASH]
    assert a["total_tokens"] == add(want[A], want[CHILD])
    assert a["models"] == [FLASH, PRO]
    assert a["project"] == "/home/dev/garden"
    assert a["started_at"] == ts(0)
    assert len(a["files"]) == 2
    assert a["cost_usd"] is not None
    assert not a["cost_is_estimate"]
    assert a["signal"]["files_changed"] == 1
    assert (a["signal"]["lines_added"], a["signal"]["lines_removed"]) == (4, 2)
    assert got[B]["tokens"] == want[B]
    assert got[B]["unpriced_models"] == ["gemini-9-ultra"]
    assert got[B]["cost_is_estimate"] is True
    assert got[B]["cost_usd"] is not None  # the priced call still has its cost
    assert got[C]["tokens"] == want[C]  # the rewound c-g2 is not brought back by the .json
    assert [Path(p).suffix for p in got[C]["files"]] == [".jsonl"]
    assert got[E]["tokens"] == want[E]
    assert got[E]["project"] is None
    assert doc["totals"]["tokens"] == add(*want.values())
    assert doc["totals"]["tokens"]["total"] == 31875 + 3140 + 4549 + 4545 + 710
    assert (doc["skipped"]["lines"], doc["skipped"]["files"]) == (1, 1)  # garbage; the torn D


def test_gemini_beside_claude_and_the_agent_filter(
    tree: GeminiTree, claude_tree: ClaudeTree, agentwatch: Agentwatch
) -> None:
    want = build(tree)
    m = claude_tree.main("5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10")
    m.assistant("msg_1", "req_1", claude_usage(10, 100, 0, 0, 1000), claude_ts(0))
    args = ("--claude-dir", str(claude_tree.root), "--gemini-dir", str(tree.root))
    both = report(agentwatch, *args)
    assert both["totals"]["tokens"]["total"] == 1110 + 44819
    only = report(agentwatch, *args, "--agent", "gemini")
    assert set(by_id(only)) == {A, B, C, E}
    assert only["totals"]["tokens"] == add(*want.values())


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    doc.pop("generated_at")
    doc.pop("stderr")
    for s in doc["sessions"]:
        s.pop("status")
    return doc


def test_index_follows_rewrites_and_rewinds(
    tree: GeminiTree, agentwatch: Agentwatch, tmp_path: Path
) -> None:
    build(tree)
    cache = ("--cache-dir", str(tmp_path / "cache"))
    root = ("--gemini-dir", str(tree.root))
    cold = report(agentwatch, *root, *cache)
    # B re-written: b-g2 dropped, b-g1 re-written smaller, a new message.
    b = next((tree.root / "tmp" / "garden" / "chats").glob(f"session-*-{B[:8]}.json"))
    legacy = tree.legacy(tree.root / "tmp" / "garden", B, ts(3))
    legacy.path = b
    legacy.upsert(user_msg("b-u1", ts(3, 1)))
    legacy.upsert(gemini_msg("b-g1", ts(3, 2), PRO, tokens(4000, 30, 1000, 4)))
    legacy.upsert(gemini_msg("b-g5", ts(9, 1), PRO, tokens(100, 1)))
    legacy.write()
    # A: a rewind in the main chat, then an append.
    a = next((tree.root / "tmp" / "garden" / "chats").glob(f"session-*-{A[:8]}.jsonl"))
    with a.open("ab") as fh:
        fh.write(b'{"$rewindTo": "a-g4"}\n')
    # D is now complete.
    d = tree.legacy(tree.root / "tmp" / "garden", D, ts(7))
    d.upsert(gemini_msg("d-g1", ts(7, 1), PRO, tokens(100, 1)))
    d.write()
    warm = report(agentwatch, *root, *cache)
    again = report(agentwatch, *root, *cache)
    fresh = report(agentwatch, *root, "--no-cache")
    assert strip(warm) == strip(fresh) == strip(again)
    got, before = by_id(warm), by_id(cold)
    assert got[B]["tokens"] == add(toks(3000, 34, 1000, 4), toks(100, 1))
    assert got[A]["tokens"] == add(
        before[A]["tokens"], {k: -v for k, v in toks(1000, 80, 11000).items()}
    )
    assert got[D]["tokens"] == toks(100, 1)
    assert (warm["skipped"]["lines"], warm["skipped"]["files"]) == (1, 0)


def test_gemini_homes_from_flags_env_or_the_default(
    tmp_path: Path, agentwatch: Agentwatch, cli_env: dict[str, str]
) -> None:
    h1 = GeminiTree(tmp_path / "h1" / ".gemini")
    chat = h1.chat(h1.project("p1"), A, ts(0))
    chat.meta(ts(0))
    chat.gemini("g1", ts(0, 1), usage=tokens(10, 5))
    flags = report(agentwatch, "--gemini-dir", str(h1.root))
    assert {k: s["tokens"]["output"] for k, s in by_id(flags).items()} == {A: 5}
    assert "not read yet" not in flags["stderr"]
    res = agentwatch("report", "--json", env={"GEMINI_CLI_HOME": str(tmp_path / "h1")})
    assert res.code == 0, res.err
    assert {s["session_id"] for s in res.json()["sessions"]} == {A}
    shutil.copytree(h1.root, Path(cli_env["HOME"]) / ".gemini")
    res = agentwatch("report", "--json")
    assert res.code == 0, res.err
    assert {s["session_id"] for s in res.json()["sessions"]} == {A}


def test_missing_gemini_dir_is_a_usage_error(tmp_path: Path, agentwatch: Agentwatch) -> None:
    res = agentwatch("report", "--json", "--gemini-dir", str(tmp_path / "nope"))
    assert res.code == 2
    assert res.out == ""
    assert "--gemini-dir" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_workspace_roots_and_folders_searched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    opts = Options(cache_dir=str(tmp_path / "cache"), config_dir=str(tmp_path / "config"))
    ws = open_workspace(opts, env={}, home=home)
    assert [(r.source.agent, r.path) for r in ws.roots] == [(Agent.GEMINI, home / ".gemini")]
    assert home / ".gemini" / "tmp" in ws.searched
    assert ws.fingerprint()["parsers"] == {"gemini": gemini.PARSER_VERSION}
    assert ws.ignored == []


def test_a_blank_project_root_and_a_deeply_nested_line_are_survived(
    tree: GeminiTree, agentwatch: Agentwatch
) -> None:
    blank = tree.project("blank", cwd="\n  \n")
    chat = tree.chat(blank, E, ts(8))
    chat.meta(ts(8))
    chat.raw(b'{"id": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n")
    chat.gemini("e-g1", ts(8, 1), FLASH, tokens(700, 7))
    doc = report(agentwatch, "--gemini-dir", str(tree.root))
    (s,) = doc["sessions"]
    assert s["tokens"]["output"] == 7
    assert s["project"] is None
    assert doc["skipped"]["lines"] == 1


def test_a_resumed_legacy_chat_counts_its_tool_calls_once_when_warm(
    tree: GeminiTree, agentwatch: Agentwatch
) -> None:
    from tests.fixtures.gemini import tool_call  # noqa: PLC0415

    proj = tree.project("garden", cwd="/home/dev/garden")
    c = tree.legacy(proj, C, ts(5))
    c.upsert(user_msg("c-u1", ts(5, 1)))
    edit = tool_call(
        "tc-1", "replace", {"file_path": "/home/dev/garden/a.py"},
        display=edit_display("/home/dev/garden/a.py", 3, 1),
    )  # fmt: skip
    fail = tool_call("tc-2", "run_shell_command", {"command": "pytest"}, "error", output="1 failed")
    c.upsert(gemini_msg("c-g1", ts(5, 2), PRO, tokens(2000, 20), calls=[edit, fail]))
    c.write()

    def session() -> dict[str, Any]:
        s = dict(report(agentwatch, "--gemini-dir", str(tree.root))["sessions"][0])
        for volatile in ("files", "status", "last_activity_at"):
            s.pop(volatile)
        return s

    session()  # the index now knows the legacy chat
    cj = tree.resume_legacy(c)  # resumed: every message copied into a new .jsonl
    cj.user("c-u2", ts(6))
    cj.gemini("c-g2", ts(6, 1), PRO, tokens(500, 5))
    warm = session()
    cold = dict(report(agentwatch, "--gemini-dir", str(tree.root), "--no-cache")["sessions"][0])
    for volatile in ("files", "status", "last_activity_at"):
        cold.pop(volatile)
    assert warm == cold
    assert (warm["signal"]["lines_added"], warm["signal"]["lines_removed"]) == (3, 1)
