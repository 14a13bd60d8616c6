"""Claude Code transcript layouts of every era, checked end to end through `report --json`.

Each test writes a small tree under tmp_path (FORMATS.md section 1) and states the expected
counts by hand; the `report_json` fixture also checks the report's invariants.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.claude import (
    HAIKU,
    SONNET,
    ClaudeTree,
    Transcript,
    task_block,
    toks,
    ts,
    usage,
)

Report = Callable[..., dict[str, Any]]

S1 = "5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10"
S2 = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
S3 = "9e4b7c21-0d5a-4f83-b6c2-71a8e3d9f405"
S4 = "3a8f2d6c-91e4-4b07-8c5d-e2f1a0b9c736"


def sessions(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["session_id"]: s for s in doc["sessions"]}


def subagents(session: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["agent_id"]: a for a in session["subagents"]}


def call(t: Transcript, n: str, u: dict[str, Any], when: str, **kw: Any) -> dict[str, Any]:
    """An assistant line of response `msg_<n>` / `req_<n>`."""
    return t.assistant(f"msg_{n}", f"req_{n}", u, when, **kw)


def side(parent: dict[str, Any]) -> dict[str, Any]:
    """Envelope fields of a 1.0.x inline sidechain line following `parent`."""
    return {"parentUuid": parent["uuid"], "isSidechain": True}


def agent_result(agent_id: str | None, u: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A Task call's `toolUseResult`: the sub-agent's last usage rides along (never counted)."""
    res = {
        "status": "completed",
        "content": [{"type": "text", "text": "done"}],
        "totalDurationMs": 4000,
        "totalTokens": 1276,
        "totalToolUseCount": 1,
        "usage": u,
    }
    if agent_id is not None:
        res["agentId"] = agent_id
    return {**res, **kw}


# ---- 1.0.x: inline sidechains ----------------------------------------------------------------
def test_inline_sidechains_1_0(claude_tree: ClaudeTree, report_json: Report) -> None:
    m = claude_tree.main(S1, version="1.0.80")
    m.user("fix the refund rounding", ts(0))
    # One response with two parallel Task calls: one line per content block, same usage.
    prompt_a, prompt_b = "Find where refunds are computed.", "Plan a fix for the rounding."
    m1 = usage(10, 100, 0, 0, 1000)
    t1 = m.task("msg_m1", "req_m1", m1, ts(1), "toolu_A", prompt_a, "Explore", "find refunds")
    t2 = m.task("msg_m1", "req_m1", m1, ts(1, 1), "toolu_B", prompt_b, "Plan", "plan the fix")
    # Sidechain roots: user lines with parentUuid null whose content is the Task prompt.
    ra = m.user(prompt_a, ts(2), parentUuid=None, isSidechain=True)
    rb = m.user(prompt_b, ts(2, 1), parentUuid=None, isSidechain=True)
    grep = [{"type": "tool_use", "id": "toolu_grep", "name": "Grep", "input": {"pattern": "ref"}}]
    # The two sidechains interleave.
    a1 = call(m, "a1", usage(3, 40, 200, 0, 500), ts(3), model=HAIKU, content=grep, **side(ra))
    b1 = call(m, "b1", usage(4, 50, 300, 0, 600), ts(3, 1), **side(rb))
    ar = m.tool_result("toolu_grep", ts(4), {"mode": "files", "numFiles": 1}, **side(a1))
    call(m, "b2", usage(5, 61, 0, 0, 900), ts(4, 1), **side(b1))
    call(m, "a2", usage(6, 70, 0, 0, 700), ts(5), model=HAIKU, **side(ar))
    for tool_use, parent in (("toolu_A", t1), ("toolu_B", t2)):
        res = agent_result(None, usage(6, 70, 0, 0, 700, split=False))
        m.tool_result(tool_use, ts(6), res, parentUuid=parent["uuid"], isSidechain=False)
    call(m, "m2", usage(20, 200, 100, 0, 3000), ts(7), isSidechain=False)

    doc = report_json(claude_tree.root)
    assert list(sessions(doc)) == [S1]
    s = doc["sessions"][0]
    assert s["tokens"] == toks(10 + 20, 100 + 200, 100, 0, 1000 + 3000)
    subs = subagents(s)
    assert set(subs) == {"toolu_A", "toolu_B"}
    a, b = subs["toolu_A"], subs["toolu_B"]
    assert (a["agent_type"], a["description"]) == ("Explore", "find refunds")
    assert (b["agent_type"], b["description"]) == ("Plan", "plan the fix")
    assert a["tokens"] == toks(3 + 6, 40 + 70, 200, 0, 500 + 700)
    assert a["models"] == [HAIKU]
    assert b["tokens"] == toks(4 + 5, 50 + 61, 300, 0, 600 + 900)
    assert b["models"] == [SONNET]
    total = toks(30 + 9 + 9, 300 + 110 + 111, 100 + 200 + 300, 0, 4000 + 1200 + 1500)
    assert s["total_tokens"] == total


# ---- 2.0.x: sibling agent-<8hex>.jsonl files ------------------------------------------------
def test_sibling_agent_files_2_0(claude_tree: ClaudeTree, report_json: Report) -> None:
    m = claude_tree.main(S2, version="2.0.50")
    m.user("search the code", ts(0))
    call(
        m,
        "p1",
        usage(8, 90, 400, 0, 2000),
        ts(1),
        content=[task_block("toolu_S", "Search for X", "general-purpose", "search code")],
    )
    sib = claude_tree.sibling(m, "1a2b3c4d")
    sib.user("Search for X", ts(1, 5), parentUuid=None)
    call(sib, "s1", usage(2, 30, 150, 0, 800), ts(2), model=HAIKU)
    call(sib, "s2", usage(3, 45, 0, 0, 950), ts(3), model=HAIKU)
    m.tool_result("toolu_S", ts(4), agent_result("1a2b3c4d", usage(3, 45, 0, 0, 950)))
    call(m, "p2", usage(9, 120, 0, 0, 2400), ts(5))
    # A second session in the same folder: its sibling file is attributed by the lines' sessionId.
    other = claude_tree.main(S4, version="2.0.50")
    other.user("hi", ts(10))
    call(other, "o1", usage(1, 11), ts(11))
    osib = claude_tree.sibling(other, "9f8e7d6c")
    osib.user("sub", ts(12), parentUuid=None)
    call(osib, "o2", usage(2, 22), ts(13))

    got = sessions(report_json(claude_tree.root))
    assert set(got) == {S2, S4}
    s = got[S2]
    assert s["tokens"] == toks(8 + 9, 90 + 120, 400, 0, 2000 + 2400)
    (sub,) = s["subagents"]
    assert sub["agent_id"] == "1a2b3c4d"
    assert (sub["agent_type"], sub["description"]) == ("general-purpose", "search code")
    assert sub["tokens"] == toks(2 + 3, 30 + 45, 150, 0, 800 + 950)
    assert sub["models"] == [HAIKU]
    o = got[S4]
    assert o["tokens"] == toks(1, 11)
    assert [(a["agent_id"], a["agent_type"]) for a in o["subagents"]] == [("9f8e7d6c", None)]
    assert o["subagents"][0]["tokens"] == toks(2, 22)


# ---- 2.1.x: <session>/subagents/, sidecars, progress copies, nesting, compaction -----------
X, Y, Z = "a0f1e2d3c4b5a6978", "b4e91d2", "c7d8e9f"  # meta-linked, nested, progress-linked
COMPACT, ORPHAN = "acompact-3f9a1c", "d00dfee"


def test_subagents_dir_2_1(claude_tree: ClaudeTree, report_json: Report) -> None:
    m = claude_tree.main(S3)
    m.user("fix refunds", ts(0))
    m1 = usage(6, 150, 1200, 800, 20000)
    call(m, "m1", m1, ts(1), content=[task_block("toolu_X", "Find.", "Explore", "find refunds")])
    # Late 2.1.x also names the spawning tool `Agent`.
    zt = task_block("toolu_Z", "Check CI.", "general-purpose", "background check", name="Agent")
    call(m, "m1", m1, ts(1, 1), content=[zt])

    xs = claude_tree.subagent(m, X)
    xs.user("Find.", ts(1, 10), parentUuid=None)
    yt = task_block("toolu_Y", "Plan it.", "Plan", "nested plan")
    x1 = call(xs, "x1", usage(3, 60, 500, 0, 4000), ts(2), model=HAIKU, content=[yt])
    ys = claude_tree.subagent(m, Y)
    ys.user("Plan it.", ts(2, 5), parentUuid=None)
    call(ys, "y1", usage(2, 25, 0, 0, 1500), ts(2, 10), model=HAIKU)
    call(ys, "y2", usage(2, 35, 100, 0, 1600), ts(2, 20), model=HAIKU)
    xs.tool_result("toolu_Y", ts(2, 30), agent_result(Y, usage(2, 35, 100, 0, 1600)))
    x2 = call(xs, "x2", usage(4, 80, 0, 0, 5000), ts(3), model=HAIKU)
    zs = claude_tree.subagent(m, Z)
    zs.user("Check CI.", ts(1, 20), parentUuid=None)
    z1 = call(zs, "z1", usage(7, 90, 0, 0, 3000), ts(2, 40))  # still running: no result yet

    # Progress copies of sub-agent lines, usage included: never counted (C1).
    m.progress(X, "toolu_X", x1, ts(2, 1))
    m.progress(Z, "toolu_Z", z1, ts(2, 41))
    m.progress(X, "toolu_X", x2, ts(3, 1))
    res = agent_result(X, usage(4, 80, 0, 0, 5000), agentType="Explore")
    m.tool_result("toolu_X", ts(3, 5), res)
    claude_tree.meta(
        m, X, agentType="Explore", description="find refunds", toolUseId="toolu_X", spawnDepth=1
    )
    claude_tree.meta(
        m,
        Y,
        agentType="Plan",
        description="nested plan",
        toolUseId="toolu_Y",
        spawnDepth=2,
        parentAgentId=X,
    )

    # Compaction: boundary + summary in the main file, the summarizing call in acompact.
    meta = {"trigger": "auto", "preTokens": 160000}
    m.line("system", ts(4), subtype="compact_boundary", parentUuid=None, compactMetadata=meta)
    m.user("This session is being continued.", ts(4, 30), isCompactSummary=True)
    cs = claude_tree.subagent(m, COMPACT)
    cs.user("Summarize the conversation.", ts(4, 1), parentUuid=None)
    call(cs, "c1", usage(10, 2500, 0, 0, 150000), ts(4, 20))
    orphan = claude_tree.subagent(m, ORPHAN)  # nothing links to it
    orphan.user("?", ts(5), parentUuid=None)
    call(orphan, "o1", usage(1, 15, 0, 0, 700), ts(5, 5), model=HAIKU)
    call(m, "m2", usage(5, 300, 0, 0, 26000), ts(6))
    # Files agentwatch must ignore: lifecycle journal, workflows, spilled output, the index.
    session_dir = m.path.parent / S3
    for rel in ("subagents/journal.jsonl", "subagents/workflows/agent-w1.jsonl"):
        Transcript(session_dir / rel, S3, agent_id="e0e0e0e").assistant(
            "msg_j", "req_j", usage(99, 99), ts(7)
        )
    (session_dir / "tool-results").mkdir()
    (session_dir / "tool-results" / "toolu_X.txt").write_text("spilled output")
    (m.path.parent / "sessions-index.json").write_text('{"entries": []}')

    doc = report_json(claude_tree.root)
    assert list(sessions(doc)) == [S3]  # sub-agent files are never sessions of their own
    s = doc["sessions"][0]
    assert s["tokens"] == toks(6 + 5, 150 + 300, 2000, 800, 20000 + 26000)
    subs = subagents(s)
    assert set(subs) == {X, Y, Z, COMPACT, ORPHAN}
    expect = {
        X: ("Explore", "find refunds", toks(3 + 4, 60 + 80, 500, 0, 4000 + 5000)),
        Y: ("Plan", "nested plan", toks(2 + 2, 25 + 35, 100, 0, 1500 + 1600)),
        Z: ("general-purpose", "background check", toks(7, 90, 0, 0, 3000)),
        ORPHAN: (None, None, toks(1, 15, 0, 0, 700)),
    }
    for agent_id, want in expect.items():
        got = subs[agent_id]
        assert (got["agent_type"], got["description"], got["tokens"]) == want, agent_id
    assert subs[COMPACT]["agent_type"] == "compact"
    assert subs[COMPACT]["tokens"] == toks(10, 2500, 0, 0, 150000)
    assert subs[X]["models"] == [HAIKU]
    assert s["models"] == sorted([HAIKU, SONNET])
    assert s["total_tokens"] == toks(
        11 + 7 + 4 + 7 + 10 + 1,
        450 + 140 + 60 + 90 + 2500 + 15,
        2000 + 500 + 100,
        800,
        46000 + 9000 + 3100 + 3000 + 150000 + 700,
    )


def test_inline_sidechains_with_the_same_prompt_stay_apart(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    m = claude_tree.main(S1, version="1.0.80")
    m.user("run the tests twice", ts(0))
    prompt = "Run the test suite and report failures."
    t1 = m.task("msg_m1", "req_m1", usage(1, 1), ts(1), "toolu_1", prompt, "Explore", "tests 1")
    r1 = m.user(prompt, ts(2), parentUuid=None, isSidechain=True)
    call(m, "a1", usage(2, 20), ts(3), **side(r1))
    m.tool_result("toolu_1", ts(4), agent_result(None, usage(2, 20)), parentUuid=t1["uuid"])
    m.task("msg_m2", "req_m2", usage(1, 1), ts(5), "toolu_2", prompt, "general-purpose", "tests 2")
    r2 = m.user(prompt, ts(6), parentUuid=None, isSidechain=True)
    call(m, "b1", usage(3, 30), ts(7), **side(r2))

    subs = subagents(report_json(claude_tree.root)["sessions"][0])
    got = {k: (v["agent_type"], v["description"], v["tokens"]) for k, v in subs.items()}
    assert got == {
        "toolu_1": ("Explore", "tests 1", toks(2, 20)),
        "toolu_2": ("general-purpose", "tests 2", toks(3, 30)),
    }


# ---- streaming: one response over several lines (C3) ---------------------------------------
@pytest.mark.parametrize(
    "outputs", [(8, 120, 377), (377, 8, 120)], ids=["growing", "largest-first"]
)
def test_streamed_response_counts_largest_line(
    claude_tree: ClaudeTree, report_json: Report, outputs: tuple[int, int, int]
) -> None:
    m = claude_tree.main(S1, version="2.1.90")
    m.user("run the tests", ts(0))
    blocks: list[list[dict[str, Any]]] = [
        [{"type": "thinking", "thinking": "hmm"}],
        [{"type": "text", "text": "Running."}],
        [{"type": "tool_use", "id": "toolu_b", "name": "Bash", "input": {"command": "pytest"}}],
    ]
    st = [usage(4, o, 0, 0, 30120, split=False) for o in outputs]
    call(m, "st", st[0], ts(1), content=blocks[0])
    call(m, "other", usage(2, 10, 0, 0, 100), ts(1, 5))  # another response in between
    call(m, "st", st[1], ts(1, 9), content=blocks[1])
    m.line("system", ts(1, 10), subtype="turn_duration", durationMs=900)
    call(m, "st", st[2], ts(1, 30), content=blocks[2])
    m.tool_result("toolu_b", ts(2), {"stdout": "ok", "stderr": "", "interrupted": False})

    s = report_json(claude_tree.root)["sessions"][0]
    assert s["tokens"] == toks(4 + 2, 377 + 10, 0, 0, 30120 + 100)


# ---- resume / fork copies: global dedup, credit to the original (C4) -----------------------
@pytest.mark.parametrize("keep_session", [False, True], ids=["copies-renamed", "copies-keep-id"])
@pytest.mark.parametrize(
    ("a_id", "b_id"),
    [
        ("0a1b2c3d-0000-4000-8000-00000000000a", "fb1c2d3e-0000-4000-8000-00000000000b"),
        ("fa1b2c3d-0000-4000-8000-00000000000a", "0b1c2d3e-0000-4000-8000-00000000000b"),
    ],
    ids=["A-sorts-first", "B-sorts-first"],
)
def test_resume_copies_dedup_globally(
    claude_tree: ClaudeTree, report_json: Report, a_id: str, b_id: str, keep_session: bool
) -> None:
    a = claude_tree.main(a_id)
    lines = [a.user("start", ts(0))]
    lines.append(a.assistant("msg_r1", "req_r1", usage(5, 50, 1000, 0, 0), ts(1)))
    lines.append(a.user("next", ts(2)))
    lines.append(a.assistant("msg_r2", "req_r2", usage(6, 300, 0, 0, 1100), ts(3)))
    lines.append(a.user("more", ts(4)))
    lines.append(a.assistant("msg_r3", "req_r3", usage(7, 40, 0, 0, 1200), ts(5)))

    b = claude_tree.main(b_id)
    smaller = {"msg_r2": usage(6, 8, 0, 0, 1100)}  # copy taken mid-stream: a placeholder output
    larger = {"msg_r3": usage(7, 400, 0, 0, 1200)}  # A's own line stopped mid-stream
    for line in lines:
        mid = line["message"].get("id")
        b.resume_copy(line, smaller.get(mid) or larger.get(mid), keep_session=keep_session)
    b.user("resumed", ts(10))
    b.assistant("msg_b1", "req_b1", usage(8, 70, 0, 0, 1300), ts(11))
    b.assistant("msg_b2", "req_b2", usage(9, 80, 0, 0, 1400), ts(12))

    doc = report_json(claude_tree.root)
    got = sessions(doc)
    assert set(got) == {a_id, b_id}
    assert got[a_id]["tokens"] == toks(5 + 6 + 7, 50 + 300 + 400, 1000, 0, 1100 + 1200)
    assert got[b_id]["tokens"] == toks(8 + 9, 70 + 80, 0, 0, 1300 + 1400)
    assert doc["totals"]["tokens"] == toks(35, 900, 1000, 0, 5000)


# ---- <synthetic> lines and the cache-write breakdown (C5, C6) ------------------------------
def test_synthetic_excluded_and_cache_write_split(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    m = claude_tree.main(S1)
    m.user("go", ts(0))
    syn = {"model": "<synthetic>", "isApiErrorMessage": True, "error": "rate_limit"}
    limit = [{"type": "text", "text": "You've hit your limit"}]
    m.assistant(
        "4be0c2d1-7f3a-4e69-a2c8-19d5e7b3f604", None, usage(10, 20), ts(1), **syn, content=limit
    )
    m.assistant(
        "5ce1d3e2-8a4b-4f70-b3d9-2ae6f8c4a715",
        None,
        usage(3, 4),
        ts(1, 5),
        model="<synthetic>",
        content="No response requested.",
    )
    split_only = usage(2, 30, 100, 300, 50)
    split_only["cache_creation_input_tokens"] = 0  # before 2.1.152 the top level could say 0
    m.assistant("msg_c1", "req_c1", split_only, ts(2))
    m.assistant("msg_c2", "req_c2", usage(3, 40, 700, 0, 60, split=False), ts(3))  # treated as 5m
    m.assistant("msg_c3", "req_c3", usage(4, 50, 50, 25, 70), ts(4))

    doc = report_json(claude_tree.root)
    s = doc["sessions"][0]
    assert s["tokens"] == toks(2 + 3 + 4, 30 + 40 + 50, 400 + 700 + 75, 300 + 25, 50 + 60 + 70)
    assert s["models"] == [SONNET]
    assert s["unpriced_models"] == []
    # Sonnet 4.5 per million: input 3, output 15, 5m write 3.75, 1h write 6, read 0.3.
    cost = (9 * 3 + 120 * 15 + (1175 - 325) * 3.75 + 325 * 6 + 180 * 0.3) / 1e6
    assert s["cost_usd"] == pytest.approx(cost, rel=1e-9)


# ---- several roots holding the same session ------------------------------------------------
def _small_tree(tree: ClaudeTree) -> None:
    m = tree.main(S2)
    m.user("hi", ts(0))
    call(m, "1", usage(1, 10, 100, 0, 1000), ts(1), content=[task_block("toolu_1", "Look.")])
    sub = tree.subagent(m, "a1b2c3d")
    sub.user("Look.", ts(1, 5), parentUuid=None)
    sub.assistant("msg_2", "req_2", usage(2, 20, 0, 0, 2000), ts(2))
    tree.meta(m, "a1b2c3d", agentType="Explore", description="look", toolUseId="toolu_1")


@pytest.mark.parametrize("how", ["two-roots", "same-root-twice", "CLAUDE_CONFIG_DIR"])
def test_same_session_in_several_roots_counts_once(
    tmp_path: Path, report_json: Report, how: str
) -> None:
    first = ClaudeTree(tmp_path / "one")
    _small_tree(first)
    second = tmp_path / "two"
    shutil.copytree(first.root, second)
    if how == "two-roots":
        doc = report_json(first.root, second)
    elif how == "same-root-twice":
        doc = report_json(first.root, first.root)
    else:
        doc = report_json(env={"CLAUDE_CONFIG_DIR": f"{first.root},{second}"})
    assert [s["session_id"] for s in doc["sessions"]] == [S2]
    s = doc["sessions"][0]
    assert s["tokens"] == toks(1, 10, 100, 0, 1000)
    assert [(a["agent_id"], a["agent_type"]) for a in s["subagents"]] == [("a1b2c3d", "Explore")]
    assert s["subagents"][0]["tokens"] == toks(2, 20, 0, 0, 2000)
    assert doc["totals"]["tokens"] == toks(3, 30, 100, 0, 3000)
