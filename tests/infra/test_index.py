"""The persistent index: warm starts equal cold ones, and a broken index is rebuilt."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.fixtures.claude import ClaudeTree, Transcript, ts, usage


def build_tree(tree: ClaudeTree) -> Transcript:
    a = tree.main("aaaaaaaa-0000-4000-8000-000000000001", version="1.0.80")
    a.user("go", ts(0))
    a.task("m1", "r1", usage(inp=2, out=10, cw5=100, cr=1000), ts(1), "toolu_1", "explore it")
    a.user("explore it", ts(2), isSidechain=True, parentUuid=None)
    a.assistant("m2", "r2", usage(inp=1, out=7), ts(3), isSidechain=True)
    b = tree.main("bbbbbbbb-0000-4000-8000-000000000002")
    b.assistant("m3", "r3", usage(inp=5, out=50, cw1=20, cr=500), ts(4))
    sub = tree.subagent(b, "a1b2c3d")
    sub.assistant("m4", "r4", usage(inp=1, out=3), ts(5))
    tree.meta(b, "a1b2c3d", agentType="Explore", description="find refunds", toolUseId="t9")
    return a


def report(tree: ClaudeTree, cache: Path, env: dict[str, str], *extra: str) -> dict:
    p = subprocess.run(
        [
            str(BIN),
            "report",
            "--json",
            "--claude-dir",
            str(tree.root),
            "--cache-dir",
            str(cache),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    doc.pop("generated_at")
    for s in doc["sessions"]:
        s.pop("status")  # depends on the wall clock
    doc["stderr"] = p.stderr
    return doc


def without_stderr(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "stderr"}


def test_warm_start_equals_cold_and_appends_are_counted(claude_tree, tmp_path, cli_env):
    a = build_tree(claude_tree)
    cache = tmp_path / "cache"
    cold = report(claude_tree, cache, cli_env, "--no-cache")
    assert not list(cache.glob("*")), "--no-cache must not write an index"
    first = report(claude_tree, cache, cli_env)
    assert list(cache.glob("index-*.sqlite"))
    warm = report(claude_tree, cache, cli_env)
    assert without_stderr(cold) == without_stderr(first) == without_stderr(warm)
    # Appended lines: a sidechain continuing (parser state survived) and a new call.
    a.assistant("m5", "r5", usage(inp=1, out=4), ts(6), isSidechain=True)
    a.assistant("m6", "r6", usage(inp=3, out=30), ts(7))
    after = report(claude_tree, cache, cli_env)
    again_cold = report(claude_tree, cache, cli_env, "--no-cache")
    assert without_stderr(after) == without_stderr(again_cold)
    (sa,) = [s for s in after["sessions"] if s["session_id"].startswith("aaaaaaaa")]
    (side,) = sa["subagents"]
    assert side["agent_id"] == "toolu_1"
    assert side["tokens"]["output"] == 7 + 4
    assert sa["tokens"]["output"] == 10 + 30


def test_file_rewritten_behind_the_index_is_read_again(claude_tree, tmp_path, cli_env):
    build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)
    b = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002")
    st = b.path.stat()
    b.path.write_text("")  # rewritten from scratch with different content
    b.assistant("m7", "r7", usage(inp=9, out=90), ts(8))
    os.utime(b.path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime
    warm = report(claude_tree, cache, cli_env)
    cold = report(claude_tree, cache, cli_env, "--no-cache")
    # Counts only grow (C3/C4 keep what was seen), but the new call must be there.
    (sb,) = [s for s in warm["sessions"] if s["session_id"].startswith("bbbbbbbb")]
    assert sb["tokens"]["output"] >= 90
    (cb,) = [s for s in cold["sessions"] if s["session_id"].startswith("bbbbbbbb")]
    assert cb["tokens"]["output"] == 90


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty-table"])
def test_corrupt_index_is_rebuilt_with_one_line(claude_tree, tmp_path, cli_env, damage):
    build_tree(claude_tree)
    cache = tmp_path / "cache"
    good = report(claude_tree, cache, cli_env)
    (idx,) = cache.glob("index-*.sqlite")
    if damage == "garbage":
        idx.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        data = idx.read_bytes()
        idx.write_bytes(data[: len(data) // 3])
    else:
        db = sqlite3.connect(idx)
        assert db.execute("UPDATE blobs SET data = x'c1' WHERE name LIKE 'sessions%'").rowcount
        db.commit()
        db.close()
    rebuilt = report(claude_tree, cache, cli_env)
    assert without_stderr(rebuilt) == without_stderr(good)
    assert "Traceback" not in rebuilt["stderr"]
    notes = [ln for ln in rebuilt["stderr"].splitlines() if "index" in ln]
    if damage != "truncated":  # SQLite may recover a truncated WAL-mode file silently
        assert len(notes) == 1
        assert "rebuilt" in notes[0]
    assert without_stderr(report(claude_tree, cache, cli_env)) == without_stderr(good)


def test_two_processes_at_once_do_not_corrupt_it(claude_tree, tmp_path, cli_env):
    a = build_tree(claude_tree)
    for i in range(200):
        a.assistant(f"mm{i}", f"rr{i}", usage(inp=1, out=1), ts(10, i % 60))
    cache = tmp_path / "cache"
    cmd = [
        str(BIN),
        "report",
        "--json",
        "--claude-dir",
        str(claude_tree.root),
        "--cache-dir",
        str(cache),
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    totals = {json.loads(o[0])["totals"]["tokens"]["total"] for o in outs}
    assert len(totals) == 1
    after = report(claude_tree, cache, cli_env)
    assert after["totals"]["tokens"]["total"] in totals
    assert "index" not in after["stderr"]


WARM_PROBE = """
import sys
from agentwatch.cli import main
sys.argv = ["agentwatch", "report", "--json", "--claude-dir", sys.argv[1], "--cache-dir",
            sys.argv[2]]
try:
    main()
except SystemExit:
    pass
print(sorted(m for m in ("genai_prices", "textual") if m in sys.modules), file=sys.stderr)
"""


def test_warm_start_imports_neither_textual_nor_the_price_package(claude_tree, tmp_path, cli_env):
    b = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002")
    b.assistant("m1", "r1", usage(inp=1, out=2), ts(1))
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)  # cold: prices looked up, kept in the index

    def probe() -> str:
        p = subprocess.run(
            [sys.executable, "-c", WARM_PROBE, str(claude_tree.root), str(cache)],
            capture_output=True,
            text=True,
            env=cli_env,
            check=True,
            timeout=60,
        )
        return p.stderr.strip().splitlines()[-1]

    assert probe() == "[]"
    b.assistant("m2", "r2", usage(inp=1, out=3), ts(2))  # a new call of a known model
    assert probe() == "[]"
    b.assistant("m3", "r3", usage(inp=1, out=3), ts(3), model="claude-opus-4-5-20251101")
    assert probe() == "['genai_prices']"  # a model never priced before needs the data


@pytest.mark.parametrize(
    "damage",
    [{"session": 42, "nonsense": True}, b"\xc1", b"\x81\xa7session\x2a"],
    ids=["wrong-shape", "not-msgpack", "encoded-wrong-shape"],
)
def test_a_damaged_saved_parser_state_rereads_the_file_instead_of_failing(
    claude_tree: ClaudeTree, damage: object
) -> None:
    from agentwatch.core.records import UsageRecord  # noqa: PLC0415
    from agentwatch.infra.files import ScanStats, TrackedFile, discover  # noqa: PLC0415
    from agentwatch.infra.scan import Root  # noqa: PLC0415
    from agentwatch.sources.claude_code import SOURCE  # noqa: PLC0415

    t = claude_tree.main("5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10")
    t.assistant("msg_1", "req_1", usage(1, 2), ts(1))
    [(path, spec)] = list(discover(Root(SOURCE, claude_tree.root)))
    f = TrackedFile.new(SOURCE, path, spec)
    f.read(ScanStats())
    dumped = f.dump()
    assert isinstance(dumped[14], bytes)  # (kept encoded until the file is read again)
    dumped[14] = damage  # what a damaged index could hold
    t.assistant("msg_2", "req_2", usage(1, 3), ts(2))
    again = TrackedFile.load(dumped)
    assert again is not None
    got = [r for r in again.read(ScanStats()) if isinstance(r, UsageRecord)]
    assert [r.message_id for r in got] == ["msg_1", "msg_2"]  # read again from the start


def test_saving_a_new_state_drops_the_loop_signals_of_the_old_one(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    from agentwatch.infra.workspace import Options, open_workspace  # noqa: PLC0415

    a = build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)  # the index and its cached signals
    (idx,) = cache.glob("index-*.sqlite")

    def signals_rows() -> int:
        db = sqlite3.connect(idx)
        try:
            return int(
                db.execute("SELECT count(*) FROM blobs WHERE name = 'signals'").fetchone()[0]
            )
        finally:
            db.close()

    assert signals_rows() == 1
    a.assistant("m9", "r9", usage(inp=1, out=1), ts(9))
    opts = Options(claude_dirs=(str(claude_tree.root),), cache_dir=str(cache))
    ws = open_workspace(opts, env=cli_env, home=Path(cli_env["HOME"]))
    ws.load_tracked()  # as the live view does on start: reads the new line, saves the index
    assert signals_rows() == 0  # a report must compute them again, not reuse the old ones


def test_many_calls_are_stored_in_pieces_and_come_back_whole(tmp_path: Path) -> None:
    from agentwatch.core.records import Agent, ThreadKey, UsageRecord  # noqa: PLC0415
    from agentwatch.core.tally import Tally  # noqa: PLC0415
    from agentwatch.core.tokens import Tokens  # noqa: PLC0415
    from agentwatch.infra.files import ScanStats  # noqa: PLC0415
    from agentwatch.infra.index import CALLS_CHUNK, Index  # noqa: PLC0415

    n = 2 * CALLS_CHUNK + 7  # three pieces, the last one short
    tally = Tally()
    threads = [ThreadKey(Agent.CLAUDE_CODE, f"s{i}", None if i % 2 else "sub") for i in range(5)]
    tally.apply(
        UsageRecord(threads[i % 5], ("cc", f"m{i}", "r"), "m", 1e9 + i, Tokens(i, 1), f"m{i}", "r")
        for i in range(n)
    )
    # A call copied into another session (C4): its row lists both threads.
    tally.apply([UsageRecord(threads[2], ("cc", "m1", "r"), "m", 1e9, Tokens(1, 1), "m1", "r")])
    idx = Index(tmp_path, [])
    idx.save({"v": 1}, tally, {}, ScanStats(), {})
    db = sqlite3.connect(idx.path)
    pieces = db.execute("SELECT data FROM calls").fetchall()
    db.close()
    assert len(pieces) == 3  # stored in pieces
    back = Index(tmp_path, []).load({"v": 1}, [], lambda _m, _t: None)
    assert back is not None
    got = back.tally.calls
    assert len(got) == n
    assert got == tally.calls
    assert got[("cc", "m1", "r")].threads == (threads[1], threads[2])
    # The all-calls total is not stored: it is summed again, sub-agents included.
    assert back.tally.total.tokens == tally.total.tokens == Tokens(sum(range(n)), n)
    assert back.tally.total.per_minute == tally.total.per_minute
    # One copy of each id string per call, and one key object per thread.
    call = got[("cc", "m7", "r")]
    assert call.message_id is call.key[1]
    assert call.request_id is call.key[2]
    assert call.owner is got[("cc", "m2", "r")].owner


def test_big_parts_are_stored_in_rows_and_come_back_whole(tmp_path: Path) -> None:
    from agentwatch.core import tally_state  # noqa: PLC0415
    from agentwatch.core.records import Agent, ThreadKey, ThreadSeen, UsageRecord  # noqa: PLC0415
    from agentwatch.core.tally import Tally  # noqa: PLC0415
    from agentwatch.core.tokens import Tokens  # noqa: PLC0415
    from agentwatch.infra.files import ScanStats  # noqa: PLC0415
    from agentwatch.infra.index import BLOB_PART, Index  # noqa: PLC0415

    tally = Tally()
    for i in range(4000):  # sessions enough for more than one row
        t = ThreadKey(Agent.CLAUDE_CODE, f"{i:08d}-0000-4000-8000-000000000000")
        seen = ThreadSeen(t, f"/logs/{i}.jsonl", True, 1e9 + i, 1e9 + i + 60, f"/home/dev/p{i}")
        tally.apply([seen, UsageRecord(t, ("cc", f"m{i}", "r"), "m", 1e9 + i, Tokens(i, 1))])
    idx = Index(tmp_path, [])
    idx.save({"v": 1}, tally, {}, ScanStats(), {})
    db = sqlite3.connect(idx.path)
    rows = dict(db.execute("SELECT name, length(data) FROM blobs"))
    db.close()
    parts = sorted(n for n in rows if n.startswith("sessions#"))
    assert len(parts) > 1
    assert "sessions" not in rows
    assert max(rows.values()) < BLOB_PART + 4096  # (a row ends with the item that fills it)
    back = Index(tmp_path, []).load({"v": 1}, [], lambda _m, _t: None)
    assert back is not None
    assert tally_state.dump_sessions(back.tally) == tally_state.dump_sessions(tally)
    assert back.tally.total.tokens == tally.total.tokens


def test_signals_cached_by_a_report_that_raced_another_save_are_not_reused(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    from agentwatch.core.records import Agent, ThreadKey  # noqa: PLC0415
    from agentwatch.infra.workspace import Options, Workspace, open_workspace  # noqa: PLC0415

    build_tree(claude_tree)
    opts = Options(claude_dirs=(str(claude_tree.root),), cache_dir=str(tmp_path / "cache"))

    def workspace() -> Workspace:
        return open_workspace(opts, env=cli_env, home=Path(cli_env["HOME"]))

    slow = workspace()
    slow_tally, slow_stats = slow.load()  # state 1 saved; its signals not computed yet
    c = claude_tree.main("cccccccc-0000-4000-8000-000000000003")
    c.assistant("mc", "rc", usage(inp=1, out=2), ts(8))
    fast = workspace()
    fast_tally, fast_stats = fast.load()  # state 2 saved by another process...
    fast.signals(fast_tally, fast_stats, [], 2e9)  # ...which caches its signals
    slow.signals(slow_tally, slow_stats, [], 2e9)  # the slow one then caches state 1's
    later = workspace()
    tally, stats = later.load()  # nothing changed since state 2
    new = ThreadKey(Agent.CLAUDE_CODE, "cccccccc-0000-4000-8000-000000000003")
    assert new in later.signals(tally, stats, [new], 2e9)  # computed again, not state 1's


def _damage_calls(cache: Path) -> None:
    (idx,) = cache.glob("index-*.sqlite")
    db = sqlite3.connect(idx)
    assert db.execute("UPDATE calls SET data = ?", (bytes([0x91, 0xC4, 1, 0xC1]),)).rowcount
    db.commit()
    db.close()


def test_damaged_calls_found_while_reading_new_lines_rebuild_the_index(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    a = build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)
    _damage_calls(cache)  # (the calls are read only when a new line needs them)
    a.assistant("m8", "r8", usage(inp=3, out=30), ts(8))
    got = report(claude_tree, cache, cli_env)
    assert "rebuilt" in got["stderr"]
    assert "internal error" not in got["stderr"]
    assert without_stderr(got) == without_stderr(report(claude_tree, cache, cli_env, "--no-cache"))


def test_damaged_calls_found_after_the_load_say_so_in_one_line_and_go(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)
    _damage_calls(cache)
    argv = [str(BIN), "report", "--json", "--claude-dir", str(claude_tree.root)]
    argv += ["--cache-dir", str(cache), "--model", "sonnet"]  # a filter that reads the calls
    p = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "index could not be read" in p.stderr
    again = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert again.returncode == 0, again.stderr  # the damaged index was removed: rebuilt
    assert json.loads(again.stdout)["sessions"]


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE activity SET data = 'text, not bytes'",
        "UPDATE activity SET data = x'91c401c1'",  # bytes, but not activity records
        "UPDATE activity SET data = CAST(data || x'00' AS BLOB)",  # records, then more
        "UPDATE activity SET data = substr(data, 1, length(data) - 1)",  # cut short
        "UPDATE activity SET agent = 'no-such-agent'",
    ],
)
def test_damaged_activity_says_so_in_one_line_and_the_next_run_rebuilds(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str], damage: str
) -> None:
    build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)
    (idx,) = cache.glob("index-*.sqlite")
    db = sqlite3.connect(idx)
    assert db.execute(damage).rowcount
    db.execute("DELETE FROM blobs WHERE name = 'signals'")  # the detectors must run again
    db.commit()
    db.close()
    argv = [str(BIN), "report", "--json", "--claude-dir", str(claude_tree.root)]
    argv += ["--cache-dir", str(cache)]
    p = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert "damaged activity" in p.stderr
    assert "removed it" in p.stderr
    again = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert again.returncode == 0, again.stderr
    assert without_stderr(report(claude_tree, cache, cli_env)) == without_stderr(
        report(claude_tree, cache, cli_env, "--no-cache")
    )


def test_damaged_activity_met_while_saving_does_not_claim_the_index_was_kept(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    a = build_tree(claude_tree)
    cache = tmp_path / "cache"
    report(claude_tree, cache, cli_env)
    (idx,) = cache.glob("index-*.sqlite")
    db = sqlite3.connect(idx)
    assert db.execute("UPDATE activity SET data = x'91c401c1'").rowcount
    db.commit()
    db.close()
    a.user("and now the tests", ts(9))  # a new line in a damaged session: the save meets it
    argv = [str(BIN), "report", "--json", "--claude-dir", str(claude_tree.root)]
    argv += ["--cache-dir", str(cache)]
    p = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert "the next run rebuilds it" in p.stderr
    assert "keeps what it had" not in p.stderr
    again = subprocess.run(argv, capture_output=True, text=True, env=cli_env, check=False)
    assert again.returncode == 0, again.stderr
