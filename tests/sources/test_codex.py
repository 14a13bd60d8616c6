"""The Codex CLI parser on its own: counting rules X1-X7, tools, damage, resuming mid-file.

Each test writes rollouts under tmp_path (FORMATS.md section 2) and states the expected counts
by hand. End-to-end checks through the CLI and the live engine are in test_codex_tree.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentwatch.core.records import (
    Agent,
    Record,
    SubagentLink,
    ThreadKey,
    ThreadSeen,
    ToolCall,
    ToolResult,
    UsageRecord,
)
from agentwatch.core.tally import Tally
from agentwatch.sources import codex
from agentwatch.sources.base import FileRole, FileSpec
from tests.fixtures.codex import CODEX, MAX, MINI, CodexTree, Rollout, toks, ts, usage

A = "019c2a1e-3b7f-7c2a-9e81-0a6b2c4d8f10"
C = "019c2a2f-5b3d-7f6e-9a18-2d4c6b8e0f13"
F = "019c2a40-0d5a-7f83-b6c2-71a8e3d9f405"


def parser(r: Rollout) -> codex.CodexParser:
    return codex.CodexParser(str(r.path), FileSpec(FileRole.MAIN, codex.thread_id_of(r.path.name)))


def lines_of(r: Rollout) -> list[bytes]:
    data = r.path.read_bytes()
    return data[: data.rfind(b"\n")].split(b"\n") if b"\n" in data else []


def parse(r: Rollout) -> list[Record]:
    return parser(r).feed(lines_of(r))


def usages(recs: list[Record]) -> list[UsageRecord]:
    return [x for x in recs if isinstance(x, UsageRecord)]


def tokens(recs: list[Record]) -> list[dict[str, int]]:
    return [u.tokens.as_dict() for u in usages(recs)]


@pytest.fixture
def tree(tmp_path: Path) -> CodexTree:
    return CodexTree(tmp_path / "codex")


# ---- paths ----------------------------------------------------------------------------------
def test_classify_claims_rollouts_under_sessions_and_archived_sessions() -> None:
    name = f"rollout-2026-02-04T08-00-00-{A}.jsonl"
    assert codex.classify(("sessions", "2026", "02", "04", name)) == FileSpec(FileRole.MAIN, A)
    assert codex.classify(("archived_sessions", name)) == FileSpec(FileRole.MAIN, A)
    assert codex.classify(("archived_sessions", "2026", "02", "04", name)) is not None
    for rel in [
        ("history.jsonl",),
        ("sessions", "2026", "02", "04", "notes.jsonl"),
        ("sessions", "2026", "02", "04", name[:-1]),
        ("log", "2026", "02", "04", name),
        ("sessions", "a", "b", "c", "d", name),
        (name,),
    ]:
        assert codex.classify(rel) is None, rel
    assert codex.thread_id_of("rollout-2026-02-04T08-00-00-not-a-uuid.jsonl") == (
        "2026-02-04T08-00-00-not-a-uuid"
    )
    assert codex.SOURCE.transcript_dir(Path("/h/.codex")) == Path("/h/.codex")


def test_default_roots_from_codex_home_or_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert codex.default_roots({}, home) == [home / ".codex"]
    env = {"CODEX_HOME": f" {tmp_path}/a ,, {tmp_path}/b"}
    assert codex.default_roots(env, home) == [tmp_path / "a", tmp_path / "b"]


# ---- X1-X4, X6 ------------------------------------------------------------------------------
def test_repeats_and_info_null_are_skipped_deltas_are_counted(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    r.token_count(ts(0, 1), None)  # X2: rate limits only
    r.turn(ts(0, 2), CODEX, "turn-1", cwd="/home/dev/shop-api/docs")  # session_meta's wins
    first = usage(100, 0, 10, 4, cw=0)
    r.token_count(ts(0, 5), first, first)
    r.token_count(ts(0, 6), first, first)  # X2: re-emitted unchanged
    r.token_count(ts(0, 10), usage(250, 80, 30, 12, cw=30), usage(150, 80, 20, 8, cw=30))
    r.token_count(ts(0, 11), usage(250, 80, 30, 12, cw=30), usage(150, 80, 20, 8, cw=30))
    recs = parse(r)
    assert tokens(recs) == [toks(100, 10, 0, 0, 4), toks(150 - 80 - 30, 20, 30, 80, 8)]
    u1, u2 = usages(recs)
    assert (u1.model, u1.message_id, u1.thread) == (CODEX, "turn-1", ThreadKey(Agent.CODEX, A))
    assert u1.key != u2.key
    (seen,) = [x for x in recs if isinstance(x, ThreadSeen)]
    assert seen == ThreadSeen(
        ThreadKey(Agent.CODEX, A),
        str(r.path),
        True,
        codex.parse_ts(ts(0)),
        codex.parse_ts(ts(0, 11)),
        "/home/dev/shop-api",
        "0.152.0",
    )


def test_totals_that_fall_use_last_usage_or_the_totals(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    r.turn(ts(0, 1), MAX)  # an older build: no turn id
    r.token_count(ts(0, 2), usage(1000, 600, 50))  # no last_token_usage at all
    # Fell: last_token_usage is the call (not the totals).
    r.token_count(ts(0, 3), usage(300, 100, 20, 5), usage(120, 100, 20, 5))
    r.token_count(ts(0, 4), usage(500, 300, 30, 5))  # rose again: a plain delta
    r.token_count(ts(0, 5), usage(50, 0, 5))  # fell, no last_token_usage: the totals
    r.token_count(ts(0, 6), usage(60, 0, 7), usage(10, 0, 2))  # rose: last is not summed
    assert tokens(parse(r)) == [
        toks(400, 50, 0, 600),
        toks(20, 20, 0, 100, 5),
        toks(0, 10, 0, 200),
        toks(50, 5),
        toks(10, 2),
    ]


def test_mistyped_counters_read_as_zero_and_are_flagged(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    bad: dict[str, Any] = {**usage(100, 0, 10), "cached_input_tokens": "40"}
    r.token_count(ts(0, 1), bad)
    r.token_count(ts(0, 2), {**usage(200, 0, 20), "output_tokens": None})
    p = parser(r)
    recs = p.feed(lines_of(r))
    # The second reads as a fall (output 10 -> 0), so its totals are the call.
    assert tokens(recs) == [toks(100, 10), toks(200, 0)]
    assert [u.flagged for u in usages(recs)] == [True, True]
    assert p.stats.coerced == 2


def test_model_is_unknown_without_turn_context_and_follows_the_latest(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    r.token_count(ts(0, 1), usage(10, 0, 1))
    r.put("turn_context", {"model_name": MINI}, ts(0, 2))
    r.token_count(ts(0, 3), usage(20, 0, 2))
    r.turn(ts(0, 4), MAX)
    r.token_count(ts(0, 5), usage(30, 0, 3))
    assert [u.model for u in usages(parse(r))] == [codex.UNKNOWN_MODEL, MINI, MAX]


def test_cwd_from_turn_context_when_session_meta_has_none(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0), cwd="")
    r.meta(ts(0))
    r.put("turn_context", {"cwd": "/srv/app", "model": CODEX}, ts(0, 1))
    (seen,) = [x for x in parse(r) if isinstance(x, ThreadSeen)]
    assert seen.cwd == "/srv/app"


# ---- X5: sub-agents and forks -----------------------------------------------------------------
def parent_history(tree: CodexTree) -> Rollout:
    a = tree.rollout(A, ts(0))
    a.meta(ts(0))
    a.turn(ts(0, 1), CODEX, "turn-a1")
    a.token_count(ts(0, 5), usage(100, 0, 10), usage(100, 0, 10))
    a.token_count(ts(0, 9), usage(300, 90, 25), usage(200, 90, 15))
    return a


def test_subagent_replay_only_sets_the_baseline(tree: CodexTree) -> None:
    a = parent_history(tree)
    # Replayed lines land later in the same second as the child's session_meta.
    c = tree.subagent(a, C, ts(1, 0, 250), "explorer", "otter", replayed=ts(1, 0, 900))
    c.turn(ts(1, 1), MINI, "turn-c1")
    c.token_count(ts(1, 3), usage(40, 0, 8), usage(40, 0, 8))  # fell: the child's first call
    c.token_count(ts(1, 5), usage(90, 32, 20))
    recs = parse(c)
    child = ThreadKey(Agent.CODEX, A, C)
    assert tokens(recs) == [toks(40, 8), toks(18, 12, 0, 32)]
    assert {u.thread for u in usages(recs)} == {child}
    assert {u.model for u in usages(recs)} == {MINI}
    links = [x for x in recs if isinstance(x, SubagentLink)]
    assert links == [SubagentLink(ThreadKey(Agent.CODEX, A), C, None, "explorer", "otter")]
    (seen,) = [x for x in recs if isinstance(x, ThreadSeen)]
    assert (seen.thread, seen.main_file) == (child, False)
    # The replayed parent tool calls are not the child's activity.
    assert not [x for x in recs if isinstance(x, ToolCall | ToolResult)]


def test_subagent_whose_totals_continue_counts_the_difference(tree: CodexTree) -> None:
    a = parent_history(tree)
    c = tree.subagent(a, C, ts(1, 0, 250), "worker", "heron")
    c.token_count(ts(1, 2), usage(360, 140, 31))  # continues the parent's 300/90/25
    recs = parse(c)
    assert tokens(recs) == [toks(10, 6, 0, 50)]
    (u,) = usages(recs)
    assert u.model == CODEX  # the replayed turn_context is all it knows
    assert u.message_id is None  # but the parent's turn id is not the child's


def test_two_session_metas_alone_mean_replay(tree: CodexTree) -> None:
    a = parent_history(tree)
    c = tree.rollout(C, ts(2))
    c.meta(ts(2))  # no source.subagent, no forked_from_id
    c.replay(a, ts(2))
    c.token_count(ts(2, 1), usage(310, 90, 27))
    assert tokens(parse(c)) == [toks(10, 2)]


def test_fork_is_its_own_session_after_the_replay(tree: CodexTree) -> None:
    a = parent_history(tree)
    f = tree.fork(a, F, ts(3, 0, 500))
    f.turn(ts(3, 2), MAX, "turn-f1")
    f.token_count(ts(3, 4), usage(360, 140, 31))
    recs = parse(f)
    assert tokens(recs) == [toks(10, 6, 0, 50)]
    assert usages(recs)[0].thread == ThreadKey(Agent.CODEX, F)
    assert not [x for x in recs if isinstance(x, SubagentLink)]
    (seen,) = [x for x in recs if isinstance(x, ThreadSeen)]
    assert seen.main_file


def test_x7_the_same_turn_in_two_files_counts_once(tree: CodexTree) -> None:
    a = parent_history(tree)
    # A copy stamped after the creation second: X5 cannot see it, the turn ids can.
    f = tree.rollout(F, ts(3))
    f.meta(ts(3), "cli", forked_from_id=A)
    for text in a.lines[1:]:
        f.raw(json.dumps({**json.loads(text), "timestamp": ts(3, 1)}) + "\n")
    f.turn(ts(3, 2), MAX, "turn-f1")
    f.token_count(ts(3, 4), usage(360, 140, 31))
    tally = Tally()
    tally.apply(parse(a))
    tally.apply(parse(f))
    a_tok = tally.sessions[ThreadKey(Agent.CODEX, A)].main.account.tokens
    f_tok = tally.sessions[ThreadKey(Agent.CODEX, F)].main.account.tokens
    assert a_tok.as_dict() == toks(100 + 110, 25, 0, 90)
    assert f_tok.as_dict() == toks(10, 6, 0, 50)


def test_parent_spawn_event_names_the_child(tree: CodexTree) -> None:
    a = parent_history(tree)
    a.event(
        "collab_agent_spawn_end",
        ts(1, 10),
        call_id="call_spawn",
        sender_thread_id=A,
        new_thread_id=C,
        new_agent_nickname="wren",
        new_agent_role="reviewer",
        model=MINI,
    )
    links = [x for x in parse(a) if isinstance(x, SubagentLink)]
    assert links == [SubagentLink(ThreadKey(Agent.CODEX, A), C, "call_spawn", "reviewer", "wren")]


# ---- tools ------------------------------------------------------------------------------------
def test_tool_calls_and_their_outcomes(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    r.shell(ts(0, 1), "c1", "pytest -q")
    r.event("exec_command_end", ts(0, 2), call_id="c1", exit_code=1, stdout="1 failed")
    r.item("function_call_output", ts(0, 2), call_id="c1", output="Exit code: 1\nOutput: x")
    diff = "@@ -1,2 +1,3 @@\n-old\n+new\n+more\n ctx"
    r.patch(ts(0, 3), "c2", "src/app.py", diff)
    changes = {"/home/dev/shop-api/src/app.py": {"type": "update", "unified_diff": diff}}
    r.event("patch_apply_end", ts(0, 4), call_id="c2", success=True, changes=changes)
    r.item("custom_tool_call_output", ts(0, 4), call_id="c2", output="Success.")
    # An older build: no exec_command_end; the outcome is in the output's metadata.
    r.shell(ts(0, 5), "c3", ["bash", "-lc", "make lint"], name="shell")
    out = json.dumps({"output": "bad", "metadata": {"exit_code": 2, "duration_seconds": 0.1}})
    r.item("function_call_output", ts(0, 6), call_id="c3", output=out)
    r.shell(ts(0, 7), "c4", ["apply_patch", "*** Begin Patch\n*** Add File: b.py\n+x\n"], "shell")
    add = {"/home/dev/shop-api/b.py": {"add": {"content": "x\ny\n"}}}
    r.event("patch_apply_end", ts(0, 8), call_id="c4", success=True, changes=add)
    r.event("patch_apply_end", ts(0, 9), call_id="c5", success=False, changes=add)
    recs = parse(r)
    calls = [(x.call_id, x.name, x.target) for x in recs if isinstance(x, ToolCall)]
    assert calls == [
        ("c1", "shell_command", "pytest -q"),
        ("c2", "apply_patch", "src/app.py"),
        ("c3", "shell", "make lint"),
        ("c4", "apply_patch", "b.py"),
    ]
    results = [
        (x.call_id, x.ok, x.changed_path, x.lines_added, x.lines_removed)
        for x in recs
        if isinstance(x, ToolResult)
    ]
    assert results == [
        ("c1", False, None, 0, 0),
        ("c2", True, "/home/dev/shop-api/src/app.py", 2, 1),
        ("c3", False, None, 0, 0),
        ("c4", True, "/home/dev/shop-api/b.py", 2, 0),
        ("c5", False, None, 0, 0),
    ]


# ---- damage and resuming ------------------------------------------------------------------
GARBAGE: dict[str, bytes] = {
    "text": b"this is not json",
    "torn": b'{"timestamp":"2026-02-04T08:00:09.000Z","type":"event_msg","payload":{"ty',
    "nul-run": b"\x00" * 300,
    "invalid-utf8": b'{"timestamp":"\xff\xfe","type":"event_msg","payload":{}}',
    "array": b"[1,2]",
    "null": b"null",
    "glued": b'{"type":"x","payload":{}}{"type":"y","payload":{}}',
    "empty": b"",
    "blank": b"  \t",
}


@pytest.mark.parametrize("bad", list(GARBAGE.values()), ids=list(GARBAGE))
def test_a_damaged_line_is_skipped_and_counted(tree: CodexTree, bad: bytes) -> None:
    r = tree.rollout(A, ts(0))
    p = parser(r)
    assert p.feed([bad]) == []
    assert (p.stats.lines, p.stats.skipped_lines) == (1, 1)


def test_wrong_shapes_are_salvaged_not_fatal(tree: CodexTree) -> None:
    r = tree.rollout(A, ts(0))
    r.meta(ts(0))
    r.put("event_msg", "payload as a string", ts(0, 1))  # type: ignore[arg-type]
    r.event("token_count", ts(0, 2), info="later")
    r.event("token_count", ts(0, 3), info={"total_token_usage": [1, 2]})
    r.event("exec_command_end", ts(0, 4), call_id="c9", exit_code=0, stdout={"not": "text"})
    r.token_count(ts(0, 5), usage(10, 0, 1))
    p = parser(r)
    recs = p.feed(lines_of(r))
    assert tokens(recs) == [toks(10, 1)]
    assert [x.ok for x in recs if isinstance(x, ToolResult)] == [True]
    assert p.stats.skipped_lines == 0


def full_rollout(tree: CodexTree) -> Rollout:
    a = parent_history(tree)
    c = tree.subagent(a, C, ts(1, 0, 250), "explorer", "otter")
    c.turn(ts(1, 1), MINI, "turn-c1")
    c.raw(b"garbage line\n")
    c.token_count(ts(1, 3), usage(40, 0, 8), usage(40, 0, 8))
    c.shell(ts(1, 4), "c1", "ls")
    c.event("exec_command_end", ts(1, 5), call_id="c1", exit_code=0)
    c.item("function_call_output", ts(1, 5), call_id="c1", output="Exit code: 0")
    c.token_count(ts(1, 6), usage(40, 0, 8), usage(40, 0, 8))
    c.turn(ts(1, 7), MAX)
    c.token_count(ts(1, 8), usage(90, 32, 20))
    return c


def test_restore_continues_exactly_where_state_was_taken(tree: CodexTree) -> None:
    c = full_rollout(tree)
    lines = lines_of(c)
    whole = parser(c)
    expected = [x for x in whole.feed(lines) if not isinstance(x, ThreadSeen)]
    assert tokens(expected) == [toks(40, 8), toks(18, 12, 0, 32)]
    for cut in range(len(lines) + 1):
        first = parser(c)
        got = first.feed(lines[:cut])
        state = msgspec.msgpack.decode(msgspec.msgpack.encode(first.state()))  # as the index
        second = parser(c)
        second.restore(state)
        got += second.feed(lines[cut:])
        assert [x for x in got if not isinstance(x, ThreadSeen)] == expected, cut
        assert second.stats.lines == whole.stats.lines
        assert second.stats.skipped == whole.stats.skipped
