"""Damaged Claude Code transcripts: skip and count what cannot be read, keep everything else.

FORMATS.md section 6: a bad line never stops a file; unreadable files never stop a scan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentwatch.core.records import UsageRecord
from agentwatch.sources.base import FileRole, FileSpec
from agentwatch.sources.claude_code import ClaudeParser
from tests.conftest import Run
from tests.fixtures.claude import SONNET, ClaudeTree, Transcript, toks, ts, usage

Report = Callable[..., dict[str, Any]]
S1 = "5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10"
S2 = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"


def line(msg_id: str = "msg_1", **message: Any) -> dict[str, Any]:
    """A well-formed assistant line (input 7, output 11) whose message can be overridden."""
    msg = {"id": msg_id, "model": SONNET, "role": "assistant", "usage": usage(7, 11), **message}
    return {
        "type": "assistant",
        "sessionId": S1,
        "uuid": f"u-{msg_id}",
        "parentUuid": None,
        "timestamp": ts(1),
        "requestId": f"req-{msg_id}",
        "message": msg,
    }


def raw(obj: Any) -> bytes:
    return json.dumps(obj).encode()


# Lines that cannot be read at all: each is skipped and counted.
GARBAGE: dict[str, bytes] = {
    "text": b"this is not json",
    "torn": raw(line())[:57],
    "nul-run": b"\x00" * 300,
    "invalid-utf8": b"\xff\xfe\xfa\xc3(" + raw(line())[5:],
    "invalid-utf8-in-field": raw(line(model="Q")).replace(b"Q", b"claude-\xff\xfe"),
    "array": b"[1,2]",
    "string": b'"x"',
    "number": b"42",
    "null": b"null",
    "glued": raw(line("msg_g1")) + raw(line("msg_g2")),
    "empty": b"",
    "blank": b"   \t",
    "nested-too-deep": raw(line("msg_deep"))[:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


def parser() -> ClaudeParser:
    return ClaudeParser(f"/logs/projects/-p/{S1}.jsonl", FileSpec(FileRole.MAIN, S1))


# ---- the parser on its own ------------------------------------------------------------------
@pytest.mark.parametrize("bad", list(GARBAGE.values()), ids=list(GARBAGE))
def test_parser_skips_and_counts_a_damaged_line(bad: bytes) -> None:
    p = parser()
    assert p.feed([bad]) == []
    assert p.stats.skipped_lines == 1
    assert p.stats.lines == 1


def test_parser_keeps_good_lines_around_damaged_ones() -> None:
    p = parser()
    good = [raw(line("msg_a")), raw(line("msg_b", usage=usage(1, 2, 3, 4, 5)))]
    recs = p.feed([good[0], *GARBAGE.values(), good[1]])
    got = [(r.message_id, r.tokens.as_dict()) for r in recs if isinstance(r, UsageRecord)]
    assert got == [("msg_a", toks(7, 11)), ("msg_b", toks(1, 2, 3 + 4, 4, 5))]
    assert p.stats.skipped_lines == len(GARBAGE)
    assert p.stats.lines == len(GARBAGE) + 2


@pytest.mark.parametrize(
    "message",
    [None, "str", {"id": "m", "model": SONNET, "usage": None}, {"id": "m", "usage": "lots"}],
    ids=["message-null", "message-str", "usage-null", "usage-str"],
)
def test_parser_counts_no_usage_from_a_wrong_shape(message: Any) -> None:
    p = parser()
    recs = p.feed([raw({**line(), "message": message})])
    assert [r for r in recs if isinstance(r, UsageRecord)] == []


# FORMATS 6: a missing, null or mistyped usage field reads as 0 and is flagged (a digit string
# too: agentwatch never guesses a count).
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input_tokens", -5, 0),
        ("output_tokens", 2.5, 0),
        ("input_tokens", True, 0),
        ("cache_read_input_tokens", None, 0),
        ("input_tokens", "12", 0),
        ("input_tokens", 2**64, 0),
    ],
    ids=["negative", "fraction", "bool", "null", "digit-string", "absurd"],
)
def test_parser_flags_a_mistyped_usage_field(field: str, value: Any, expected: int) -> None:
    u = {"input_tokens": 7, "output_tokens": 11, "cache_read_input_tokens": 13, field: value}
    p = parser()
    (rec,) = [r for r in p.feed([raw(line(usage=u))]) if isinstance(r, UsageRecord)]
    want = {"input_tokens": 7, "output_tokens": 11, "cache_read_input_tokens": 13, field: expected}
    assert rec.tokens.as_dict() == toks(
        want["input_tokens"], want["output_tokens"], 0, 0, want["cache_read_input_tokens"]
    )
    assert rec.flagged
    assert p.stats.coerced == 1
    assert p.stats.skipped_lines == 0


# ---- whole files through `report --json` ------------------------------------------------------
def run_report(agentwatch: Callable[..., Run], root: Path, *extra: str) -> Run:
    res = agentwatch("report", "--claude-dir", str(root), *extra)
    assert res.code == 0, res.err
    assert "Traceback" not in res.err
    return res


def good_session(tree: ClaudeTree, sid: str = S2) -> Transcript:
    t = tree.main(sid)
    t.user("hi", ts(0))
    t.assistant("msg_ok1", "req_ok1", usage(100, 200, 300, 0, 400), ts(1))
    return t


def test_garbage_lines_are_skipped_and_counted(
    claude_tree: ClaudeTree, report_json: Report, agentwatch: Callable[..., Run]
) -> None:
    t = claude_tree.main(S1)
    t.user("start", ts(0))
    for i, bad in enumerate(GARBAGE.values()):
        t.raw(bad + b"\n")
        t.assistant(f"msg_{i}", f"req_{i}", usage(1, 10 + i, 0, 0, 100), ts(2, i))
    t.raw(raw(line("msg_torn_tail"))[:-9])  # the writer died mid-line: no newline

    doc = report_json(claude_tree.root)
    n = len(GARBAGE)
    (s,) = doc["sessions"]
    assert s["tokens"] == toks(n, sum(10 + i for i in range(n)), 0, 0, 100 * n)
    assert doc["skipped"]["lines"] == n + 1  # and the unterminated last line
    assert doc["skipped"]["files"] == 0

    res = run_report(agentwatch, claude_tree.root)  # the human table
    notes = [ln for ln in res.err.splitlines() if "skipped" in ln]
    assert len(notes) == 1
    assert str(n + 1) in notes[0]
    assert S1[:8] in res.out


def test_wrong_shapes_keep_the_rest_of_the_line_and_file(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    t = claude_tree.main(S1)
    base = {"type": "assistant", "sessionId": S1, "cwd": "/home/dev/shop-api", "version": "2.1.150"}
    for i, message in enumerate([None, "str", {"id": "m3", "model": SONNET, "usage": None}]):
        t.put(
            {
                **base,
                "uuid": f"u{i}",
                "timestamp": ts(1, i),
                "requestId": f"r{i}",
                "message": message,
            }
        )
    t.assistant("msg_str", "req_str", {"input_tokens": "12", "output_tokens": 5}, ts(2))
    t.assistant("msg_neg", "req_neg", {"input_tokens": 3, "output_tokens": -5}, ts(3))
    t.assistant("msg_ok", "req_ok", usage(1, 2, 0, 0, 3), ts(4))

    doc = report_json(claude_tree.root)
    (s,) = doc["sessions"]
    assert s["project"] == "/home/dev/shop-api"
    assert s["tokens"] == toks(0 + 3 + 1, 5 + 0 + 2, 0, 0, 3)
    # message null, message "str" and usage null carry no usage: skipped and counted
    assert doc["skipped"]["lines"] == 3
    assert doc["skipped"]["fields"] == 2  # the "12" and the -5, flagged


def test_unknown_types_and_future_fields_are_ignored_not_skipped(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    t = claude_tree.main(S1)
    t.user("go", ts(0), futureEnvelopeField={"x": [1, 2]}, session_id=S1)
    t.line("hologram-sync", ts(0, 5), payload={"deep": {"er": None}})
    t.line("attachment", ts(0, 6), attachment={"type": "file", "path": "a.py"})
    t.line("file-history-snapshot", ts(0, 7), snapshot={"trackedFileBackups": {}})
    t.line("queue-operation", ts(0, 8), operation="enqueue", content="later")
    t.line("summary", ts(0, 9), summary="Refund fix", leafUuid="x")
    u = usage(5, 6, 7, 8, 9)
    u.update(
        server_tool_use={"web_search_requests": 2},
        service_tier="standard",
        speed="fast",
        inference_geo="us",
        iterations=[usage(5000, 6000)],
        future_counter=99,
    )
    t.assistant("msg_f", "req_f", u, ts(1), container={"id": "c"}, stop_sequence=None)
    t.line("progress", ts(1, 1), data={"type": "bash_progress", "output": "..."})

    doc = report_json(claude_tree.root)
    (s,) = doc["sessions"]
    assert s["tokens"] == toks(5, 6, 7 + 8, 8, 9)  # iterations[] never counted (C1)
    assert (doc["skipped"]["lines"], doc["skipped"]["files"]) == (0, 0)
    assert doc["skipped"].get("fields", 0) == 0


def test_a_20_mb_line_is_read_and_counted(claude_tree: ClaudeTree, report_json: Report) -> None:
    t = claude_tree.main(S1)
    t.user("read the dump", ts(0))
    big = [{"type": "text", "text": "é" * 10_000_000}]  # 20 MB of UTF-8 on one line
    t.assistant("msg_big", "req_big", usage(3, 4000, 0, 0, 190000), ts(1), content=big)
    t.assistant("msg_after", "req_after", usage(1, 2), ts(2))
    assert t.path.stat().st_size > 20_000_000

    doc = report_json(claude_tree.root)
    (s,) = doc["sessions"]
    assert s["tokens"] == toks(3 + 1, 4000 + 2, 0, 0, 190000)
    assert doc["skipped"]["lines"] == 0


def test_empty_and_torn_only_files(claude_tree: ClaudeTree, report_json: Report) -> None:
    good_session(claude_tree)
    folder = claude_tree.folder("/home/dev/shop-api")
    (folder / f"{S1}.jsonl").write_bytes(b"")  # created, never written: nothing to skip
    (folder / "0e0e0e0e-0000-4000-8000-000000000000.jsonl").write_bytes(raw(line())[:40])

    doc = report_json(claude_tree.root)
    assert [s["session_id"] for s in doc["sessions"]] == [S2]
    assert doc["sessions"][0]["tokens"] == toks(100, 200, 300, 0, 400)
    assert doc["skipped"]["lines"] == 1  # the torn, unterminated line
    assert doc["skipped"]["files"] == 0


def test_unreadable_entries_are_skipped_files(
    claude_tree: ClaudeTree, report_json: Report, agentwatch: Callable[..., Run]
) -> None:
    good_session(claude_tree)
    folder = claude_tree.folder("/home/dev/shop-api")
    (folder / "x.jsonl").symlink_to(folder / "gone.jsonl")  # dangling symlink
    (folder / "dir.jsonl").mkdir()  # a directory with a transcript's name
    subs = folder / S2 / "subagents"
    subs.mkdir(parents=True)
    (subs / "agent-a1b2c3d.jsonl").symlink_to(subs / "missing")

    doc = report_json(claude_tree.root)
    assert [s["session_id"] for s in doc["sessions"]] == [S2]
    assert doc["sessions"][0]["tokens"] == toks(100, 200, 300, 0, 400)
    assert doc["skipped"]["files"] == 3
    assert doc["skipped"]["lines"] == 0

    res = run_report(agentwatch, claude_tree.root)
    notes = [ln for ln in res.err.splitlines() if "skipped" in ln]
    assert len(notes) == 1
    assert "3" in notes[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_skipped(claude_tree: ClaudeTree, report_json: Report) -> None:
    good_session(claude_tree)
    locked = claude_tree.main(S1)
    locked.assistant("msg_l", "req_l", usage(1, 1), ts(1))
    locked.path.chmod(0)
    try:
        doc = report_json(claude_tree.root)
    finally:
        locked.path.chmod(0o600)
    assert [s["session_id"] for s in doc["sessions"]] == [S2]
    assert doc["skipped"]["files"] == 1


def test_damaged_sidecar_does_not_lose_the_subagent(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    m = good_session(claude_tree, S1)
    m.task("msg_t", "req_t", usage(1, 1), ts(2), "toolu_1", "Look.", "Explore", "look")
    sub = claude_tree.subagent(m, "a1b2c3d")
    sub.user("Look.", ts(2, 5), parentUuid=None)
    sub.assistant("msg_s", "req_s", usage(2, 3, 0, 0, 4), ts(3))
    m.tool_result("toolu_1", ts(4), {"status": "completed", "agentId": "a1b2c3d"})
    meta = claude_tree.meta(m, "a1b2c3d")
    meta.write_bytes(b'{"agentType": "Expl')  # torn sidecar
    claude_tree.meta(m, "e5f6a7b").write_bytes(b"[1, 2]")  # a sidecar with no transcript

    doc = report_json(claude_tree.root)
    (s,) = doc["sessions"]
    assert s["tokens"] == toks(100 + 1, 200 + 1, 300, 0, 400)
    assert [(a["agent_id"], a["agent_type"], a["description"]) for a in s["subagents"]] == [
        ("a1b2c3d", "Explore", "look")
    ]
    assert s["subagents"][0]["tokens"] == toks(2, 3, 0, 0, 4)


def test_an_absurd_count_is_flagged_and_the_index_still_works(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    t = good_session(claude_tree)
    t.assistant("msg_huge", "req_huge", {"input_tokens": 2**64, "output_tokens": 5}, ts(2))
    for _ in range(2):  # cold (saves the index), then warm (loads it)
        doc = report_json(claude_tree.root)
        (s,) = doc["sessions"]
        assert s["tokens"]["input"] == 100
        assert doc["skipped"]["fields"] == 1
