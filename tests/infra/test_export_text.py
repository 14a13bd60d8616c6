"""Reading a session's text back from its logs (`--include-text`), per agent format."""

from __future__ import annotations

import json
from pathlib import Path

from agentwatch.core.records import Agent
from agentwatch.infra.export.text import MAX_CHARS, read_session_text
from tests.fixtures.claude import ClaudeTree, usage
from tests.fixtures.codex import CODEX, CodexTree
from tests.fixtures.codex import ts as cts

PARENT = "019c2a1e-3b7f-7c2a-9e81-0a6b2c4d8f10"
CHILD = "019c2a2f-5b3d-7f6e-9a18-2d4c6b8e0f13"


def test_claude_streamed_copies_and_garbage(tmp_path: Path) -> None:
    tree = ClaudeTree(tmp_path)
    t = tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    t.user("first prompt", "2026-02-03T10:00:00.000Z")
    block = {"type": "text", "text": "one answer"}
    for out in (8, 377):  # the same block streamed twice (FORMATS 1.7)
        t.assistant("msg_1", "req_1", usage(1, out), "2026-02-03T10:00:01.000Z", content=[block])
    t.raw(b"{torn line\n\x00\x00\n")
    t.user("meta", "2026-02-03T10:00:02.000Z", isMeta=True)
    t.tool_result("toolu_x", "2026-02-03T10:00:03.000Z", "Error: nope", is_error=True, text="nope")
    t.assistant(
        "msg_2",
        "req_2",
        usage(1, 1),
        "2026-02-03T10:00:04.000Z",
        model="<synthetic>",
        content=[{"type": "text", "text": "You've hit your limit"}],
    )
    got = read_session_text(Agent.CLAUDE_CODE, [str(t.path)])
    assert [(e.kind, e.text, e.error) for e in got.entries] == [
        ("prompt", "first prompt", False),
        ("reply", "one answer", False),
        ("tool_result", "nope", True),
    ]
    assert got.unreadable == 2


def test_codex_child_skips_the_replayed_parent_history(tmp_path: Path) -> None:
    tree = CodexTree(tmp_path)
    parent = tree.rollout(PARENT, cts(0))
    parent.meta(cts(0))
    parent.turn(cts(0, 1), CODEX)
    parent.event("user_message", cts(0, 2), message="parent prompt")
    child = tree.subagent(parent, CHILD, cts(5), "explorer", "Darwin")
    child.event("user_message", cts(6), message="child task")
    child.item(
        "custom_tool_call", cts(7), call_id="c1", name="apply_patch", input="*** Begin Patch"
    )
    child.item("custom_tool_call_output", cts(8), call_id="c1", output={"content": "applied"})
    got = read_session_text(Agent.CODEX, [str(parent.path), str(child.path)])
    assert [(e.agent_id, e.kind, e.tool, e.text) for e in got.entries] == [
        (None, "prompt", None, "parent prompt"),
        (CHILD, "prompt", None, "child task"),  # the replayed parent prompt is not repeated
        (CHILD, "tool_call", "apply_patch", "*** Begin Patch"),
        (CHILD, "tool_result", "apply_patch", "applied"),
    ]


def test_gemini_jsonl_last_record_wins_and_rewinds(tmp_path: Path) -> None:
    path = tmp_path / "session-2026-03-01T09-12-abcd1234.jsonl"
    lines = [
        {"sessionId": "abcd1234", "projectHash": "h", "startTime": "2026-03-01T09:12:00Z"},
        {"id": "u1", "timestamp": "2026-03-01T09:12:01Z", "type": "user", "content": "hi"},
        {"id": "g1", "timestamp": "2026-03-01T09:12:02Z", "type": "gemini", "content": "draft"},
        {
            "id": "g1",
            "timestamp": "2026-03-01T09:12:03Z",
            "type": "gemini",
            "content": "final",
            "toolCalls": [
                {"id": "t", "name": "run_shell_command", "args": {"command": "ls"}, "result": "a b"}
            ],
        },
        {"id": "u2", "timestamp": "2026-03-01T09:12:04Z", "type": "user", "content": "undo me"},
        {"$rewindTo": "g1"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    got = read_session_text(Agent.GEMINI, [str(path)])
    assert [(e.kind, e.tool, e.text) for e in got.entries] == [
        ("prompt", None, "hi"),
        ("reply", None, "final"),
        ("tool_call", "run_shell_command", "command: ls"),
        ("tool_result", "run_shell_command", "a b"),
    ]


def test_gemini_legacy_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "session-2026-03-01T09-12-abcd1234.json"
    doc = {
        "sessionId": "abcd1234",
        "messages": [
            {"id": "u1", "timestamp": "2026-03-01T09:12:01Z", "type": "user", "content": "hello"},
            {"id": "i1", "timestamp": "2026-03-01T09:12:02Z", "type": "info", "content": "x"},
        ],
    }
    path.write_text(json.dumps(doc, indent=2))
    got = read_session_text(Agent.GEMINI, [str(path)])
    assert [(e.kind, e.text) for e in got.entries] == [("prompt", "hello")]
    (tmp_path / "broken.json").write_text("{half")
    assert read_session_text(Agent.GEMINI, [str(tmp_path / "broken.json")]).unreadable == 1
    assert read_session_text(Agent.GEMINI, [str(tmp_path / "gone.json")]).unreadable == 1


def test_long_text_is_cut_after_redaction_and_entries_are_capped(tmp_path: Path) -> None:
    tree = ClaudeTree(tmp_path)
    t = tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    secret = "ghp_4fGh7Jk2Lm9Np3Qr6St8Uv1Wx5Yz0AbCdEf12"
    t.user(secret + " " + "x" * (MAX_CHARS * 2), "2026-02-03T10:00:00.000Z")
    for i in range(5):
        t.user(f"prompt {i}", f"2026-02-03T10:00:0{i + 1}.000Z")
    got = read_session_text(Agent.CLAUDE_CODE, [str(t.path)])
    first = got.entries[0]
    assert first.truncated
    assert first.text.startswith("[REDACTED:github-token] xxx")
    assert len(first.text) < MAX_CHARS + 100
    assert got.secrets == 1
    raw = read_session_text(Agent.CLAUDE_CODE, [str(t.path)], do_redact=False)
    assert raw.entries[0].text.startswith(secret)
    assert raw.secrets == 0
    capped = read_session_text(Agent.CLAUDE_CODE, [str(t.path)], max_entries=3)
    assert len(capped.entries) == 3
    assert capped.omitted == 3


def test_gemini_wrong_shapes_are_skipped_not_fatal(tmp_path: Path) -> None:
    null_messages = tmp_path / "session-2026-03-01T09-12-aaaa1111.json"
    null_messages.write_text(json.dumps({"sessionId": "aaaa1111", "messages": None}))
    assert read_session_text(Agent.GEMINI, [str(null_messages)]).entries == ()
    odd_calls = tmp_path / "session-2026-03-01T09-12-bbbb2222.json"
    msg = {"id": "g1", "type": "gemini", "content": "done", "toolCalls": 7}
    odd_calls.write_text(json.dumps({"sessionId": "bbbb2222", "messages": [msg]}))
    got = read_session_text(Agent.GEMINI, [str(odd_calls)])
    assert [(e.kind, e.text) for e in got.entries] == [("reply", "done")]


def test_text_outside_the_reports_period_is_left_out(tmp_path: Path) -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    tree = ClaudeTree(tmp_path)
    t = tree.main("aaaaaaaa-0000-4000-8000-000000000002")
    t.user("yesterday's secret plan", "2026-02-02T10:00:00.000Z")
    t.user("today's prompt", "2026-02-03T10:00:00.000Z")
    t.user("tomorrow's prompt", "2026-02-04T10:00:00.000Z")
    day = datetime(2026, 2, 3, tzinfo=UTC).timestamp()
    got = read_session_text(Agent.CLAUDE_CODE, [str(t.path)], since=day, until=day + 86400)
    assert [e.text for e in got.entries] == ["today's prompt"]
