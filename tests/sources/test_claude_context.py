"""Claude Code transcripts as context items (FORMATS.md sections 1.5-1.9)."""

from __future__ import annotations

import json
from pathlib import Path

from agentwatch.core.context import ContextItem, ContextKind, ResponseSeen
from agentwatch.sources._claude_context import ClaudeContext
from tests.fixtures.claude import ClaudeTree, task_block, ts, usage

K = ContextKind
SID = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
CWD = "/home/dev/shop-api"


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def items(recs: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(r.kind, r.label, r.thread) for r in recs if isinstance(r, ContextItem)]


def test_prompts_reads_tool_results_and_subagent_answers(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD)
    m.user("fix the cart", ts(0))
    m.user("<command-name>/clear</command-name>", ts(0, 1), isMeta=True)
    read = {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": f"{CWD}/a.py"}}
    bash = {"type": "tool_use", "id": "t2", "name": "Bash", "input": {"command": "pytest -q"}}
    m.assistant("m1", "r1", usage(1, 5), ts(1), content=[read, bash])
    m.tool_result("t1", ts(1, 2), {"type": "text", "file": {"filePath": f"{CWD}/a.py"}}, text="A")
    m.tool_result("t2", ts(1, 3), "Error: exit 1", is_error=True, text="E   assert 0 == 1")
    m.assistant("m2", "r2", usage(1, 5), ts(2), content=[task_block("t3", "find refunds")])
    m.tool_result("t3", ts(3), {"agentId": "b4e91d2", "status": "completed"}, text="in refund.py")
    m.user("summary of the work so far", ts(4), isCompactSummary=True)
    recs = ClaudeContext().feed(lines(m.path))
    assert items(recs) == [
        (K.PROMPT, "prompts", None),
        (K.INJECTED, "injected messages", None),
        (K.OUTPUT, "tool calls", None),
        (K.OUTPUT, "tool calls", None),
        (K.READ, "Read a.py", None),
        (K.TOOL, "Bash `pytest -q` (failed)", None),
        (K.OUTPUT, "tool calls", None),
        (K.SUBAGENT, "Task look around", None),
        (K.SUMMARY, "compaction summaries", None),
    ]
    texts = [r.text for r in recs if isinstance(r, ContextItem)]
    assert texts[4] == "A"
    assert texts[5] == "E   assert 0 == 1"
    assert texts[2].startswith("Read{")
    assert "a.py" in texts[2]


def test_tool_result_blocks_text_and_images(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD)
    shot = {"type": "tool_use", "id": "t1", "name": "mcp__browser__screenshot", "input": {}}
    m.assistant("m1", "r1", usage(1, 5), ts(1), content=[shot])
    block = {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [
            {"type": "text", "text": "page title"},
            {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo" * 1000}},
        ],
    }
    m.put(m.envelope("user", ts(2), message={"role": "user", "content": [block]}))
    recs = ClaudeContext().feed(lines(m.path))
    (item,) = [r for r in recs if isinstance(r, ContextItem) and r.kind is not K.OUTPUT]
    assert (item.label, item.text, item.images) == ("mcp__browser__screenshot", "page title", 1)


def test_streaming_lines_give_responses_with_their_logged_output(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD, version="2.1.90")
    m.assistant("m1", "r1", usage(4, 8), ts(1), content=[{"type": "thinking", "thinking": "hm"}])
    m.assistant("m1", "r1", usage(4, 8), ts(1, 1), content=[{"type": "text", "text": "ok"}])
    m.assistant(
        "m1", "r1", usage(4, 377), ts(1, 2), stop_reason="tool_use", content=[]
    )  # the envelope's stop_reason is not the message's: still no final line
    final = m.assistant("m1", "r1", usage(4, 377), ts(1, 3), content=[])
    final["message"]["stop_reason"] = "tool_use"
    m.put({**final, "uuid": "final-line"})
    recs = ClaudeContext().feed(lines(m.path))
    seen = [
        (r.response, r.output, r.final, r.lower_bound) for r in recs if isinstance(r, ResponseSeen)
    ]
    assert seen == [
        ("m1", 8, False, True),
        ("m1", 8, False, True),
        ("m1", 377, False, True),
        ("m1", 377, False, True),
        ("m1", 377, True, True),
    ]
    out = [(r.label, r.text, r.response) for r in recs if isinstance(r, ContextItem)]
    assert out == [("thinking", "hm", "m1"), ("text", "ok", "m1")]


def test_copies_progress_synthetic_and_garbage_add_nothing(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD)
    first = m.user("hello", ts(0))
    m.put(first)  # the same line again (same uuid): counted once
    m.progress("b4e91d2", "t9", {"type": "user", "message": {"content": "copy"}}, ts(1))
    m.assistant(None, None, usage(), ts(2), model="<synthetic>", content="No response requested.")
    m.raw(b"{torn json\n\x00\x00\n[1,2]\n")
    m.line("file-history-snapshot", ts(3), snapshot={"trackedFileBackups": {}})
    ctx = ClaudeContext()
    assert items(ctx.feed(lines(m.path))) == [(K.PROMPT, "prompts", None)]
    assert ctx.skipped == 3  # torn JSON, NULs and a JSON array


def test_subagent_files_and_inline_sidechains_name_their_thread(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD)
    sub = claude_tree.subagent(m, "b4e91d2")
    sub.user("find refunds", ts(1))
    sub.assistant("s1", "q1", usage(1, 2), ts(2), content=[{"type": "text", "text": "found"}])
    recs = ClaudeContext("b4e91d2").feed(lines(sub.path))
    assert items(recs) == [
        (K.PROMPT, "sub-agent task prompts", "b4e91d2"),
        (K.OUTPUT, "text", "b4e91d2"),
    ]
    assert [r.thread for r in recs if isinstance(r, ResponseSeen)] == ["b4e91d2"]
    old = claude_tree.main("0d9a41c6-0000-4000-8000-000000000001", CWD, version="1.0.80")
    old.user("main prompt", ts(0))
    old.user("inline task", ts(1), isSidechain=True)
    assert items(ClaudeContext().feed(lines(old.path))) == [
        (K.PROMPT, "prompts", None),
        (K.PROMPT, "sub-agent task prompts", "sidechain"),
    ]


def test_a_result_whose_call_is_elsewhere_still_counts(claude_tree: ClaudeTree) -> None:
    m = claude_tree.main(SID, CWD)
    m.tool_result("t-unknown", ts(1), {"stdout": "x"}, text=json.dumps({"big": "x" * 50}))
    ((kind, label, _),) = items(ClaudeContext().feed(lines(m.path)))
    assert kind is K.TOOL
    assert label.startswith("tool results")
