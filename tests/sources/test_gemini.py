"""The Gemini CLI parsers on their own: token mapping, last record wins, `$set`, `$rewindTo`,
legacy re-writes, sub-agents, tools, damage and resuming mid-file.

Each test writes chats under tmp_path (FORMATS.md section 3) and states the expected counts by
hand; the records go through a real Tally where the counting rule matters. End-to-end checks
through the CLI and the live engine are in test_gemini_tree.py and tests/infra.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest

from agentwatch.core.records import (
    Agent,
    HumanTurn,
    Record,
    ThreadKey,
    ThreadSeen,
    ToolCall,
    ToolResult,
    UsageRecord,
    UsageRetract,
)
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import Tokens
from agentwatch.sources import gemini
from agentwatch.sources.base import FileRole, FileSpec, parse_ts
from agentwatch.sources.registry import by_agent
from tests.fixtures.gemini import (
    FLASH,
    PRO,
    Chat,
    GeminiTree,
    LegacyChat,
    edit_display,
    gemini_msg,
    tokens,
    tool_call,
    ts,
    user_msg,
)

S = "7f3c2a10-5b3d-4f6e-9a18-2d4c6b8e0f13"
CHILD = "c0ffee00-1111-4222-8333-944455566677"


@pytest.fixture
def tree(tmp_path: Path) -> GeminiTree:
    return GeminiTree(tmp_path / ".gemini")


@pytest.fixture
def project(tree: GeminiTree) -> Path:
    return tree.project("garden", "/home/dev/garden\n")


def spec_of(tree: GeminiTree, path: Path) -> FileSpec:
    spec = gemini.classify(path.relative_to(tree.root / "tmp").parts)
    assert spec is not None
    return spec


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return data[: data.rfind(b"\n")].split(b"\n") if b"\n" in data else []


def chat_parser(tree: GeminiTree, c: Chat, context: str | None = None) -> gemini.GeminiChatParser:
    spec = dataclasses.replace(spec_of(tree, c.path), context=context)
    p = gemini.SOURCE.parser(str(c.path), spec)
    assert isinstance(p, gemini.GeminiChatParser)
    return p


def doc_parser(tree: GeminiTree, c: LegacyChat) -> gemini.GeminiDocumentParser:
    p = gemini.SOURCE.parser(str(c.path), spec_of(tree, c.path))
    assert isinstance(p, gemini.GeminiDocumentParser)
    return p


def usages(recs: list[Record]) -> list[UsageRecord]:
    return [r for r in recs if isinstance(r, UsageRecord)]


def main_total(tally: Tally, session: str = S) -> Tokens:
    return tally.thread(ThreadKey(Agent.GEMINI, session)).account.tokens


# ---- paths ----------------------------------------------------------------------------------
def test_classify_claims_chats_legacy_files_and_subagents() -> None:
    name = "session-2026-03-01T09-00-7f3c2a10"
    assert gemini.classify(("garden", "chats", f"{name}.jsonl")) == FileSpec(FileRole.MAIN, None)
    legacy = gemini.classify(("garden", "chats", f"{name}.json"))
    assert legacy == FileSpec(FileRole.MAIN, None, whole=True, replaced_by=f"{name}.jsonl")
    sub = gemini.classify(("garden", "chats", S, f"{CHILD}.jsonl"))
    assert sub == FileSpec(FileRole.SUBAGENT, S, CHILD)
    for rel in [
        ("garden", "logs.json"),
        ("garden", "chats", "notes.jsonl"),
        ("garden", "checkpoint-x.json"),
        ("garden", "chats", f"{name}.jsonl.bak"),
        ("garden", "tool-outputs", S, "out.jsonl"),
        ("garden", "chats", S, "deeper", "x.jsonl"),
        (f"{name}.jsonl",),
    ]:
        assert gemini.classify(rel) is None, rel
    assert gemini.SOURCE.transcript_dir(Path("/h/.gemini")) == Path("/h/.gemini/tmp")
    assert gemini.SOURCE.max_depth() == 4
    assert by_agent("gemini") is gemini.SOURCE


def test_default_root_and_gemini_cli_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert gemini.default_roots({}, home) == [home / ".gemini"]
    env = {"GEMINI_CLI_HOME": str(tmp_path / "alt")}
    assert gemini.default_roots(env, home) == [tmp_path / "alt" / ".gemini"]


def test_context_file_is_the_projects_project_root() -> None:
    base = "/h/.gemini/tmp/garden/chats"
    assert gemini.context_file(f"{base}/session-x.jsonl") == "/h/.gemini/tmp/garden/.project_root"
    assert gemini.context_file(f"{base}/{S}/{CHILD}.jsonl") == (
        "/h/.gemini/tmp/garden/.project_root"
    )
    assert gemini.context_file("/h/.gemini/tmp/garden/other/x.jsonl") is None


# ---- tokens ---------------------------------------------------------------------------------
def test_token_mapping_of_the_formats_example() -> None:
    t, flagged = gemini.usage_tokens(tokens(9120, 210, 8064, 95))
    assert t == Tokens(input=1056, output=305, cache_read=8064, reasoning=95)
    assert t.total == 9425 == tokens(9120, 210, 8064, 95)["total"]
    assert not flagged


def test_tool_use_prompt_tokens_count_as_fresh_input() -> None:
    t, _ = gemini.usage_tokens(tokens(1000, 10, 600, 0, 25))
    assert t == Tokens(input=425, output=10, cache_read=600)
    assert t.total == tokens(1000, 10, 600, 0, 25)["total"]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ({"input": "12", "output": 3}, Tokens(output=3)),
        ({"input": 10, "output": None, "cached": 20}, Tokens(output=0, cache_read=20)),
        ("lots", Tokens()),
        ({"input": -5, "output": 2}, Tokens(output=2)),
    ],
)
def test_mistyped_token_fields_read_as_zero_and_are_flagged(raw: object, want: Tokens) -> None:
    t, flagged = gemini.usage_tokens(raw)
    assert t == want
    assert flagged


# ---- JSONL: last record wins -----------------------------------------------------------------
def test_rewritten_message_counts_once_at_its_last_state(tree: GeminiTree, project: Path) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    c.user("u1", ts(0, 5))
    c.gemini("g1", ts(0, 10), usage=None)  # tokens arrive later
    c.gemini("g1", ts(0, 10), usage=tokens(5000, 400, 3000, 100))
    c.gemini("g1", ts(0, 10), usage=tokens(5000, 300, 3000, 100))  # last wins, even smaller
    p = chat_parser(tree, c, "/home/dev/garden\n")
    recs = p.feed(lines_of(c.path))
    seen = [r for r in recs if isinstance(r, ThreadSeen)]
    assert seen == [
        ThreadSeen(
            ThreadKey(Agent.GEMINI, S),
            str(c.path),
            True,
            parse_ts(ts(0)),
            parse_ts(ts(0, 10)),
            "/home/dev/garden",
        )
    ]
    us = usages(recs)
    assert all(u.replace and u.key == ("gemini", S, "g1") for u in us)
    assert (us[-1].model, us[-1].message_id) == (PRO, "g1")
    tally = Tally()
    tally.apply(recs)
    assert main_total(tally) == Tokens(input=2000, output=400, cache_read=3000, reasoning=100)
    assert tally.thread(ThreadKey(Agent.GEMINI, S)).account.calls == 1
    assert [type(r) for r in recs if isinstance(r, HumanTurn)] == [HumanTurn]
    assert p.stats.skipped_lines == 0


def test_a_message_rewritten_without_tokens_is_taken_back(tree: GeminiTree, project: Path) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    c.gemini("g1", ts(0, 1), usage=tokens(100, 10))
    c.gemini("g1", ts(0, 1), usage=None)
    tally = Tally()
    tally.apply(chat_parser(tree, c).feed(lines_of(c.path)))
    assert main_total(tally) == Tokens()


# ---- JSONL: $rewindTo and $set ---------------------------------------------------------------
def rewound_chat(tree: GeminiTree, project: Path) -> Chat:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    c.user("u1", ts(0, 1))
    c.gemini("g1", ts(0, 2), usage=tokens(1000, 100, 0, 10))
    c.user("u2", ts(1, 0))
    c.gemini("g2", ts(1, 1), usage=tokens(2000, 200, 1000))
    c.gemini("g3", ts(1, 2), usage=tokens(3000, 300, 2000))
    return c


def test_rewind_removes_the_message_and_everything_after_it(
    tree: GeminiTree, project: Path
) -> None:
    c = rewound_chat(tree, project)
    c.rewind("u2")
    c.user("u3", ts(2, 0))
    c.gemini("g4", ts(2, 1), FLASH, tokens(1500, 50, 1000))
    recs = chat_parser(tree, c).feed(lines_of(c.path))
    retracts = [r for r in recs if isinstance(r, UsageRetract)]
    assert [r.key for r in retracts] == [("gemini", S, "g2"), ("gemini", S, "g3")]
    tally = Tally()
    tally.apply(recs)
    assert main_total(tally) == Tokens(
        input=1000 + 500, output=110 + 50, cache_read=1000, reasoning=10
    )
    assert tally.thread(ThreadKey(Agent.GEMINI, S)).account.models == [FLASH, PRO]


def test_rewind_in_a_later_batch_is_a_negative_change(tree: GeminiTree, project: Path) -> None:
    c = rewound_chat(tree, project)
    p = chat_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed(lines_of(c.path)))
    before = main_total(tally)
    changes: list[Tokens] = []
    tally.on_change = lambda ch: changes.append(ch.delta)
    tally.apply(p.feed([c.rewind("g3").encode()]))
    assert changes == [Tokens(input=-1000, output=-300, cache_read=-2000)]
    assert main_total(tally) == before + changes[0]


def test_rewind_to_an_unknown_message_changes_nothing(tree: GeminiTree, project: Path) -> None:
    c = rewound_chat(tree, project)
    c.rewind("never-seen")
    p = chat_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed(lines_of(c.path)))
    assert main_total(tally).total == 1110 + 2200 + 3300
    assert p.stats.skipped["rewind to an unknown message"] == 1


def test_set_messages_updates_what_it_lists_and_keeps_the_rest(
    tree: GeminiTree, project: Path
) -> None:
    c = rewound_chat(tree, project)
    # History sync after compression: g1 and u2 are gone from the context, g2 was re-written,
    # a synthetic summary turn came in. Billed calls stay counted.
    summary = user_msg("sum", ts(3), "<state_snapshot>")
    g2 = gemini_msg("g2", ts(1, 1), PRO, tokens(2000, 250, 1000))
    c.set(
        messages=[summary, g2, gemini_msg("g3", ts(1, 2), PRO, tokens(3000, 300, 2000))],
        lastUpdated=ts(3),
    )
    c.set(sessionId=S)
    # A rewind now cuts by the new list: from g3 on.
    c.rewind("g3")
    recs = chat_parser(tree, c).feed(lines_of(c.path))
    tally = Tally()
    tally.apply(recs)
    assert main_total(tally).total == 1110 + 2250
    assert [r.key[-1] for r in recs if isinstance(r, UsageRetract)] == ["g3"]
    humans = [r for r in recs if isinstance(r, HumanTurn)]
    assert len(humans) == 3  # u1, u2 and the synthetic turn; nothing twice


def test_session_id_comes_from_the_metadata_not_the_file_name(
    tree: GeminiTree, project: Path
) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    c.gemini("g1", ts(0, 1), usage=tokens(10, 1))
    (u,) = usages(chat_parser(tree, c).feed(lines_of(c.path)))
    assert u.thread == ThreadKey(Agent.GEMINI, S)
    # Without metadata, the file name stands in (and stays).
    bare = tree.chat(project, "deadbeef-0000-4000-8000-000000000000", ts(5))
    bare.raw(b"{torn metadata\n")
    bare.gemini("g9", ts(5, 1), usage=tokens(10, 1))
    (u,) = usages(chat_parser(tree, bare).feed(lines_of(bare.path)))
    assert u.thread.session_id == bare.path.name[: -len(".jsonl")]


# ---- sub-agents ------------------------------------------------------------------------------
def test_subagent_chat_is_a_subagent_of_its_parent(tree: GeminiTree, project: Path) -> None:
    parent = tree.chat(project, S, ts(0))
    parent.meta(ts(0))
    sub = tree.subagent(parent, CHILD)
    sub.meta(ts(0, 30), kind="subagent")
    sub.user("su1", ts(0, 31), "investigate the codebase")
    sub.gemini("sg1", ts(0, 40), FLASH, tokens(800, 40, 500, 12))
    recs = chat_parser(tree, sub).feed(lines_of(sub.path))
    thread = ThreadKey(Agent.GEMINI, S, CHILD)
    (u,) = usages(recs)
    assert (u.thread, u.key) == (thread, ("gemini", CHILD, "sg1"))
    (seen,) = [r for r in recs if isinstance(r, ThreadSeen)]
    assert (seen.thread, seen.main_file) == (thread, False)
    assert not [r for r in recs if isinstance(r, HumanTurn)]  # the parent wrote that prompt
    tally = Tally()
    tally.apply(recs)
    s = tally.sessions[ThreadKey(Agent.GEMINI, S)]
    assert s.subagents[CHILD].account.tokens == Tokens(
        input=300, output=52, cache_read=500, reasoning=12
    )
    assert s.main.account.tokens == Tokens()


# ---- tools -----------------------------------------------------------------------------------
def test_tool_calls_once_results_once_with_file_changes(tree: GeminiTree, project: Path) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    shell = {"command": "npm test", "description": "run tests"}
    edit = {"file_path": "/home/dev/garden/app.ts", "old_string": "a", "new_string": "b"}
    write = {"file_path": "/home/dev/garden/new.ts", "content": "x\n" * 3}
    # The message is re-written as its calls move from scheduled to done.
    c.gemini("g1", ts(0, 1), calls=[tool_call("t1", "run_shell_command", shell, "executing")])
    c.gemini(
        "g1",
        ts(0, 1),
        calls=[tool_call("t1", "run_shell_command", shell, "error", ts(0, 2), output="1 failed")],
    )
    c.gemini(
        "g2",
        ts(0, 3),
        usage=tokens(100, 10),
        calls=[
            tool_call("t2", "replace", edit, "awaiting_approval"),
            tool_call("t3", "write_file", write, "scheduled"),
        ],
    )
    done = [
        tool_call(
            "t2",
            "replace",
            edit,
            "success",
            ts(0, 4),
            display=edit_display(edit["file_path"], 2, 1),
        ),
        tool_call(
            "t3",
            "write_file",
            write,
            "success",
            ts(0, 5),
            display=edit_display(write["file_path"], 3, 0, stat=False),
        ),
        tool_call("t4", "read_file", {"absolute_path": "/home/dev/garden/README.md"}, "cancelled"),
    ]
    c.gemini("g2", ts(0, 3), usage=tokens(100, 10), calls=done)
    c.gemini("g2", ts(0, 3), usage=tokens(100, 10), calls=done)  # unchanged re-write
    recs = chat_parser(tree, c).feed(lines_of(c.path))
    calls = [r for r in recs if isinstance(r, ToolCall)]
    assert [(x.call_id, x.name, x.target) for x in calls] == [
        ("t1", "run_shell_command", "npm test"),
        ("t2", "replace", "/home/dev/garden/app.ts"),
        ("t3", "write_file", "/home/dev/garden/new.ts"),
        ("t4", "read_file", "/home/dev/garden/README.md"),
    ]
    results = {r.call_id: r for r in recs if isinstance(r, ToolResult)}
    assert set(results) == {"t1", "t2", "t3", "t4"}
    assert results["t1"].ok is False
    assert results["t1"].ts == parse_ts(ts(0, 2))
    assert (results["t2"].changed_path, results["t2"].lines_added, results["t2"].lines_removed) == (
        "/home/dev/garden/app.ts",
        2,
        1,
    )
    assert (results["t3"].changed_path, results["t3"].lines_added) == ("/home/dev/garden/new.ts", 3)
    assert results["t4"].ok is False
    assert results["t4"].changed_path is None
    assert len(usages(recs)) == 3  # re-emitted; the tally counts it once
    tally = Tally()
    tally.apply(recs)
    main = tally.thread(ThreadKey(Agent.GEMINI, S))
    assert (main.tool_calls, main.tool_errors) == (4, 2)
    assert main.changed_paths == {"/home/dev/garden/app.ts", "/home/dev/garden/new.ts"}
    assert (main.lines_added, main.lines_removed) == (5, 1)


def test_same_failing_output_gets_the_same_digest(tree: GeminiTree, project: Path) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    for i in range(3):
        call = tool_call(f"t{i}", "run_shell_command", {"command": "make"}, "error", output="boom")
        c.gemini(f"g{i}", ts(0, i), calls=[call])
    recs = chat_parser(tree, c).feed(lines_of(c.path))
    digests = {r.digest for r in recs if isinstance(r, ToolResult)}
    assert len(digests) == 1


# ---- damage ----------------------------------------------------------------------------------
def test_garbage_lines_are_skipped_and_counted_the_rest_counts(
    tree: GeminiTree, project: Path
) -> None:
    c = tree.chat(project, S, ts(0))
    c.meta(ts(0))
    c.raw(b"<<<<<<< HEAD\n")
    c.gemini("g1", ts(0, 1), usage=tokens(100, 10))
    c.raw(b"\x00" * 40 + b"\n\n[1, 2]\n")
    c.raw(b'{"id": "g2", "type": "gemini", "toolCalls": "nope", "tokens": {"input": 7}}\n')
    c.raw(b'{"$set": "not an object"}\n')
    c.raw(b'{"type": "gemini", "tokens": {"input": 50}}\n')  # no id
    c.gemini("g3", ts(0, 2), usage=tokens(20, 2))
    c.raw(b'{"id": "g4", "type": "gemini", "tokens": {"input": 99')  # torn last line
    p = chat_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed(lines_of(c.path)))
    assert main_total(tally) == Tokens(input=127, output=12)
    assert p.stats.skipped == {
        "malformed JSON": 2,
        "empty line": 1,
        "not a JSON object": 1,
        "message without an id": 1,
    }


# ---- legacy whole-file chats -----------------------------------------------------------------
def legacy_chat(tree: GeminiTree, project: Path) -> LegacyChat:
    c = tree.legacy(project, S, ts(0))
    c.upsert(user_msg("u1", ts(0, 1)))
    c.upsert(gemini_msg("g1", ts(0, 2), PRO, tokens(1000, 100, 400, 10)))
    c.upsert(user_msg("u2", ts(1)))
    c.upsert(gemini_msg("g2", ts(1, 1), PRO, tokens(2000, 200, 1500)))
    c.write()
    return c


def test_a_legacy_rewrite_adds_nothing_twice(tree: GeminiTree, project: Path) -> None:
    c = legacy_chat(tree, project)
    p = doc_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed([c.path.read_bytes()]))
    first = main_total(tally)
    assert first == Tokens(input=600 + 500, output=110 + 200, cache_read=1900, reasoning=10)
    c.upsert(user_msg("u3", ts(2)))
    c.upsert(gemini_msg("g3", ts(2, 1), PRO, tokens(3000, 30, 2900)))
    c.write()
    recs = p.feed([c.path.read_bytes()])
    tally.apply(recs)
    assert main_total(tally) == first + Tokens(input=100, output=30, cache_read=2900)
    assert tally.thread(ThreadKey(Agent.GEMINI, S)).account.calls == 3
    assert len([r for r in recs if isinstance(r, HumanTurn)]) == 1  # only u3 is new
    assert p.stats.unreadable is None


def test_a_legacy_rewrite_that_drops_messages_takes_them_back(
    tree: GeminiTree, project: Path
) -> None:
    c = legacy_chat(tree, project)
    p = doc_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed([c.path.read_bytes()]))
    changes: list[Tokens] = []
    tally.on_change = lambda ch: changes.append(ch.delta)
    c.drop_from("u2")
    c.write()
    tally.apply(p.feed([c.path.read_bytes()]))
    assert changes == [Tokens(input=-500, output=-200, cache_read=-1500)]
    assert main_total(tally) == Tokens(input=600, output=110, cache_read=400, reasoning=10)


def test_a_half_written_legacy_file_keeps_the_last_good_state(
    tree: GeminiTree, project: Path
) -> None:
    c = legacy_chat(tree, project)
    p = doc_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed([c.path.read_bytes()]))
    good = main_total(tally)
    c.upsert(gemini_msg("g3", ts(2, 1), PRO, tokens(3000, 30, 2900)))
    for n in (0, 1, len(c.doc()) // 2, len(c.doc()) - 1):
        c.write_partial(n)
        assert p.feed([c.path.read_bytes()]) == []
        assert p.stats.unreadable is not None
        assert main_total(tally) == good
    assert p.stats.skipped_lines == 0  # a torn document is retried, not a skipped line
    c.write()
    tally.apply(p.feed([c.path.read_bytes()]))
    assert p.stats.unreadable is None
    assert main_total(tally) == good + Tokens(input=100, output=30, cache_read=2900)


def test_a_legacy_file_with_a_damaged_message_keeps_the_others(
    tree: GeminiTree, project: Path
) -> None:
    c = legacy_chat(tree, project)
    c.messages.insert(1, "not a message")  # type: ignore[arg-type]
    c.messages[2]["toolCalls"] = {"not": "a list"}
    c.write()
    p = doc_parser(tree, c)
    tally = Tally()
    tally.apply(p.feed([c.path.read_bytes()]))
    assert main_total(tally).total == 1110 + 2200
    assert p.stats.unreadable is None


# ---- resuming --------------------------------------------------------------------------------
def test_state_round_trip_mid_file_equals_one_pass(tree: GeminiTree, project: Path) -> None:
    c = rewound_chat(tree, project)
    c.gemini(
        "g5", ts(1, 5), calls=[tool_call("t1", "run_shell_command", {"command": "ls"}, "executing")]
    )
    head = len(lines_of(c.path))
    c.gemini(
        "g5",
        ts(1, 5),
        usage=tokens(10, 1),
        calls=[tool_call("t1", "run_shell_command", {"command": "ls"})],
    )
    c.rewind("g3")
    lines = lines_of(c.path)
    one = Tally()
    one.apply(chat_parser(tree, c).feed(lines))
    first = chat_parser(tree, c, "/home/dev/garden")
    two = Tally()
    two.apply(first.feed(lines[:head]))
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(first.state()))
    resumed = chat_parser(tree, c)
    resumed.restore(state)
    rest = resumed.feed(lines[head:])
    two.apply(rest)
    assert main_total(two) == main_total(one)
    assert main_total(two).total == 1110 + 2200
    assert not [r for r in rest if isinstance(r, ToolCall)]  # t1 was announced before
    assert [r.call_id for r in rest if isinstance(r, ToolResult)] == ["t1"]
    (seen,) = [r for r in rest if isinstance(r, ThreadSeen)]
    assert seen.cwd == "/home/dev/garden"


def test_legacy_state_round_trip_still_takes_back_dropped_messages(
    tree: GeminiTree, project: Path
) -> None:
    c = legacy_chat(tree, project)
    first = doc_parser(tree, c)
    tally = Tally()
    tally.apply(first.feed([c.path.read_bytes()]))
    resumed = doc_parser(tree, c)
    resumed.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(first.state())))
    c.drop_from("g2")
    c.write()
    recs = resumed.feed([c.path.read_bytes()])
    assert [r.key for r in recs if isinstance(r, UsageRetract)] == [("gemini", S, "g2")]
    tally.apply(recs)
    assert main_total(tally).total == 1110
