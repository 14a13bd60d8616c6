"""Context estimates from a session's real log files: incremental, robust, read-only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agentwatch.core.context import ContextKind
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.infra.context import (
    ContextTracker,
    LogFile,
    describe,
    estimate,
    logs_from_paths,
    logs_of,
)
from agentwatch.infra.files import ScanStats
from agentwatch.infra.scan import Root, scan_files
from agentwatch.infra.tokenizer import CL100K, Tokenizer, TokenizerError
from agentwatch.sources.claude_code import SOURCE
from agentwatch.sources.codex import SOURCE as CODEX_SOURCE
from tests.fixtures.claude import ClaudeTree, Transcript, ts, usage
from tests.fixtures.codex import CODEX, Rollout
from tests.fixtures.codex import ts as cts

SID = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
CWD = "/home/dev/shop-api"


class Words:
    """One token per word; remembers every text it counted."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, text: str) -> int:
        self.seen.append(text)
        return len(text.split())


def body(n: int, tag: str = "x") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def read_call(t: Transcript, n: int, path: str, text: str, minute: int) -> None:
    block = {"type": "tool_use", "id": f"t{n}", "name": "Read", "input": {"file_path": path}}
    t.assistant(f"m{n}", f"r{n}", usage(1, 5), ts(minute), content=[block])
    t.tool_result(f"t{n}", ts(minute, 1), {"type": "text", "file": {"filePath": path}}, text=text)


def session(tree: ClaudeTree) -> tuple[Transcript, Transcript]:
    main = tree.main(SID, CWD, version="2.1.90")
    main.user("fix the cart", ts(0))
    for n in range(3):
        read_call(main, n, f"{CWD}/src/big.py", body(1000), n + 1)
    sub = tree.subagent(main, "b4e91d2")
    sub.user("find refunds", ts(5))
    for n in range(2):  # placeholder output: no final line, output stuck at 3
        sub.assistant(
            f"s{n}", f"q{n}", usage(1, 3), ts(6, n), content=[{"type": "text", "text": body(250)}]
        )
    return main, sub


def tracker(main: Transcript, sub: Transcript, count: Words) -> ContextTracker:
    logs = [LogFile(str(main.path), None), LogFile(str(sub.path), "b4e91d2")]
    return ContextTracker(Agent.CLAUDE_CODE, logs, count=count)


def test_a_sessions_files_give_its_top_consumers_and_placeholder_estimates(
    claude_tree: ClaudeTree,
) -> None:
    main, sub = session(claude_tree)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (main.path, sub.path)}
    rep = tracker(main, sub, Words()).update()
    att = rep.attribution
    assert att.top[0].describe() == "Read src/big.py x3: ~3k tokens est."
    _main_t, sub_t = att.threads
    assert (sub_t.agent_id, sub_t.unfinished, sub_t.unfinished_logged) == ("b4e91d2", 2, 6)
    assert sub_t.unfinished_est == 500
    assert rep.files == 2
    assert rep.bytes_read == main.path.stat().st_size + sub.path.stat().st_size
    text = "\n".join(describe(rep))
    assert "Read src/big.py x3: ~3k tokens est." in text
    assert "sub-agent b4e91d2" in text
    assert "2 responses without a final line log 6" in text
    assert "~500 est. from their content" in text
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (main.path, sub.path)}
    assert after == before  # read only


def test_updates_read_only_what_was_appended_and_replace_the_estimate_by_the_final_figure(
    claude_tree: ClaudeTree,
) -> None:
    main, sub = session(claude_tree)
    count = Words()
    tr = tracker(main, sub, count)
    tr.update()
    counted = len(count.seen)
    thinking = {"type": "thinking", "thinking": body(300, "t")}
    main.assistant("live", "rl", usage(4, 8), ts(9), content=[thinking])
    rep = tr.update()
    assert count.seen[counted:] == [body(300, "t")]  # nothing counted twice
    (s,) = [s for s in rep.attribution.streaming if s.agent_id is None]
    assert (s.response, s.logged_output, s.est_output) == ("live", 8, 300)
    assert "has no final line yet: ~300 output tokens est. so far" in "\n".join(describe(rep))
    final = main.assistant("live", "rl", usage(4, 377), ts(9, 5), content=[])
    final["message"]["stop_reason"] = "end_turn"
    main.put({**final, "uuid": "final"})
    rep = tr.update()
    assert [s.agent_id for s in rep.attribution.streaming] == ["b4e91d2"]  # main is exact now
    assert rep.attribution.threads[0].corrected_output == 5 * 3 + 377


def test_a_rewritten_file_starts_the_estimates_over(claude_tree: ClaudeTree) -> None:
    main, sub = session(claude_tree)
    tr = tracker(main, sub, Words())
    assert tr.update().attribution.top[0].count == 3
    main.path.write_text("")  # truncated in place (FORMATS 1.12)
    main.last_uuid = None
    read_call(main, 7, f"{CWD}/src/other.py", body(10), 1)
    att = tr.update().attribution
    assert [c.label for c in att.top] == ["Read src/other.py", "sub-agent task prompts"]


def test_an_unreadable_file_is_a_note_and_the_rest_still_counts(claude_tree: ClaudeTree) -> None:
    main, sub = session(claude_tree)
    gone = str(main.path.parent / "vanished.jsonl")
    logs = [LogFile(gone, None), LogFile(str(sub.path), "b4e91d2")]
    rep = estimate(Agent.CLAUDE_CODE, logs, count=Words())
    assert rep.notes == (f"cannot read {gone}: No such file or directory",)
    assert rep.attribution.threads[0].agent_id == "b4e91d2"
    assert any(line.startswith("note: cannot read") for line in describe(rep))


def test_a_tokenizer_that_cannot_load_is_an_error_for_the_caller(claude_tree: ClaudeTree) -> None:
    main, _ = session(claude_tree)

    def broken(name: str):  # type: ignore[no-untyped-def]
        raise TokenizerError("the cl100k_base vocabulary does not match tiktoken's published hash")

    tok = Tokenizer(CL100K, loader=broken)
    with pytest.raises(TokenizerError, match="published hash"):
        estimate(Agent.CLAUDE_CODE, [LogFile(str(main.path), None)], tokenizer=tok)


def test_real_tokenizer_counts(claude_tree: ClaudeTree) -> None:
    main = claude_tree.main(SID, CWD)
    main.user("hello world", ts(0))
    rep = estimate(Agent.CLAUDE_CODE, [LogFile(str(main.path), None)])
    assert rep.encoding == CL100K
    assert rep.attribution.by_kind[ContextKind.PROMPT] == 2


def test_log_files_from_paths_and_from_the_tally(claude_tree: ClaudeTree, tmp_path: Path) -> None:
    main, sub = session(claude_tree)
    meta = claude_tree.meta(main, "b4e91d2", agentType="Explore")
    sibling = claude_tree.sibling(main, "5a6b7c8d")
    sibling.user("old-style sub-agent", ts(7))
    paths = [str(main.path), str(sub.path), str(meta), str(sibling.path)]
    assert logs_from_paths(Agent.CLAUDE_CODE, SID, paths) == [
        LogFile(str(main.path), None),
        LogFile(str(sub.path), "b4e91d2"),
        LogFile(str(sibling.path), "5a6b7c8d"),
    ]
    tally = Tally()
    scan_files([Root(SOURCE, claude_tree.root)], tally, ScanStats())
    info = tally.sessions[ThreadKey(Agent.CLAUDE_CODE, SID)]
    assert sorted(logs_of(info), key=lambda f: f.path) == sorted(
        logs_from_paths(Agent.CLAUDE_CODE, SID, paths), key=lambda f: f.path
    )

    home = tmp_path / "codex"
    parent_id = "019a1b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b"
    child_id = "019a1b2c-9999-7f00-8a1b-2c3d4e5f6a7b"
    day = home / "sessions/2026/02/04"
    parent = Rollout(day / f"rollout-2026-02-04T08-00-00-{parent_id}.jsonl", parent_id)
    parent.meta(cts(0))
    parent.turn(cts(0, 1), CODEX)
    child = Rollout(day / f"rollout-2026-02-04T08-05-00-{child_id}.jsonl", child_id)
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": parent_id, "depth": 1}}}
    child.meta(cts(5), source=spawn)
    child.turn(cts(5, 1), CODEX)
    expected = [LogFile(str(parent.path), None), LogFile(str(child.path), child_id)]
    assert logs_from_paths(Agent.CODEX, parent_id, [str(parent.path), str(child.path)]) == expected
    ctally = Tally()
    scan_files([Root(CODEX_SOURCE, home)], ctally, ScanStats())
    assert logs_of(ctally.sessions[ThreadKey(Agent.CODEX, parent_id)]) == expected


def test_agents_without_an_extractor_are_refused() -> None:
    with pytest.raises(ValueError, match="no context extractor"):
        ContextTracker(Agent.GEMINI, [], count=Words())
