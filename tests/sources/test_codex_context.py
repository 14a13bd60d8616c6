"""Codex CLI rollouts as context items (FORMATS.md section 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentwatch.core.context import ContextItem, ContextKind
from agentwatch.sources._codex_context import CodexContext, read_target
from tests.fixtures.codex import CODEX, Rollout, ts

K = ContextKind
TID = "019a1b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b"
CHILD = "019a1b2c-9999-7f00-8a1b-2c3d4e5f6a7b"
PERMS = "<permissions instructions>sandboxed</permissions instructions>"
ENV = "<environment_context><cwd>/home/dev</cwd></environment_context>"


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def msg(r: Rollout, when: str, role: str, text: str) -> None:
    kind = "output_text" if role == "assistant" else "input_text"
    r.item("message", when, role=role, content=[{"type": kind, "text": text}])


def output(r: Rollout, when: str, call_id: str, text: str) -> None:
    r.item("function_call_output", when, call_id=call_id, output=text)


def got(recs: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(i.kind, i.label, i.text) for i in recs if isinstance(i, ContextItem)]


@pytest.fixture
def rollout(tmp_path: Path) -> Rollout:
    r = Rollout(tmp_path / "sessions/2026/02/04" / f"rollout-2026-02-04T08-00-00-{TID}.jsonl", TID)
    r.meta(ts(0))
    r.turn(ts(0, 1), CODEX)
    return r


def test_instructions_prompts_reads_and_tool_outputs(rollout: Rollout) -> None:
    r = rollout
    msg(r, ts(0, 2), "developer", PERMS)
    msg(r, ts(0, 3), "user", ENV)
    msg(r, ts(0, 4), "user", "fix the cart")
    r.item(
        "reasoning",
        ts(0, 5),
        summary=[{"type": "summary_text", "text": "**Reading the cart**"}],
        content=None,
        encrypted_content="gAAAA",
    )
    r.shell(ts(1), "c1", ["bash", "-lc", "sed -n '1,200p' src/cart.py"])
    output(r, ts(1, 1), "c1", "Exit code: 0\nOutput:\nqty = 0")
    r.shell(ts(2), "c2", ["bash", "-lc", "cat /home/dev/shop-api/src/cart.py"])
    output(r, ts(2, 1), "c2", "qty = 0")
    r.shell(ts(3), "c3", ["bash", "-lc", "pytest -q"])
    output(r, ts(3, 1), "c3", "1 failed")
    r.patch(ts(4), "c4", "src/cart.py", "-qty = 0\n+qty = 1")
    r.item("custom_tool_call_output", ts(4, 1), call_id="c4", output="Success. Updated src/cart.py")
    msg(r, ts(5), "assistant", "Fixed.")
    recs = CodexContext().feed(lines(r.path))
    inputs = [x for x in got(recs) if x[0] is not K.OUTPUT]
    assert inputs == [
        (
            K.INJECTED,
            "instructions",
            "<permissions instructions>sandboxed</permissions instructions>",
        ),
        (
            K.INJECTED,
            "instructions",
            "<environment_context><cwd>/home/dev</cwd></environment_context>",
        ),
        (K.PROMPT, "prompts", "fix the cart"),
        (K.READ, "Read src/cart.py", "Exit code: 0\nOutput:\nqty = 0"),
        (K.READ, "Read src/cart.py", "qty = 0"),  # same file: the same group
        (K.TOOL, "shell_command `pytest -q`", "1 failed"),
        (K.TOOL, "apply_patch src/cart.py", "Success. Updated src/cart.py"),
    ]
    outputs = [x for x in got(recs) if x[0] is K.OUTPUT]
    assert outputs[0] == (K.OUTPUT, "reasoning (readable part)", "**Reading the cart**")
    assert outputs[-1] == (K.OUTPUT, "text", "Fixed.")
    assert sum(1 for o in outputs if o[1] == "tool calls") == 4


def test_a_childs_replayed_history_is_the_parents_and_skipped(tmp_path: Path) -> None:
    parent = Rollout(tmp_path / f"rollout-2026-02-04T08-00-00-{TID}.jsonl", TID)
    parent.meta(ts(0))
    msg(parent, ts(0, 1), "user", "parent prompt")
    child = Rollout(tmp_path / f"rollout-2026-02-04T08-05-00-{CHILD}.jsonl", CHILD)
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": TID, "depth": 1}}}
    child.meta(ts(5), source=spawn)
    child.replay(parent, ts(5))
    msg(child, ts(5, 2), "user", "child task")
    msg(child, ts(5, 3), "assistant", "child answer")
    recs = CodexContext(CHILD).feed(lines(child.path))
    assert got(recs) == [
        (K.PROMPT, "sub-agent task prompts", "child task"),
        (K.OUTPUT, "text", "child answer"),
    ]
    assert {i.thread for i in recs if isinstance(i, ContextItem)} == {CHILD}


def test_garbage_lines_are_skipped_and_counted(rollout: Rollout) -> None:
    rollout.raw(b"{not json\n")
    rollout.put("response_item", {"type": "message", "role": "user", "content": "plain"}, ts(1))
    rollout.raw(json.dumps({"type": "response_item", "payload": "odd"}).encode() + b"\n")
    ctx = CodexContext()
    assert got(ctx.feed(lines(rollout.path))) == [(K.PROMPT, "prompts", "plain")]
    assert ctx.skipped == 2


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ("cat src/a.py", "src/a.py"),
        ("nl -ba src/a.py", "src/a.py"),
        ("sed -n '40,120p' src/a.py", "src/a.py"),
        ("head -n 50 'src/a b.py'", None),
        ("head -n 50 src/a.py", "src/a.py"),
        ("tail -20 log.txt", "log.txt"),
        ("cat a.py | grep x", None),
        ("cat a.py b.py", None),
        ("rg qty src", None),
        (None, None),
    ],
)
def test_read_target(command: str | None, path: str | None) -> None:
    assert read_target(command) == path
