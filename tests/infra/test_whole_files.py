"""Whole-file logs in infra: read in full on change (never tailed), a torn document retried and
reported only if it stays torn, persisted with its parser state; files superseded by a sibling
are not read; a source's context file reaches its parser."""

from __future__ import annotations

from pathlib import Path

import msgspec

from agentwatch.core.records import Agent, ThreadKey, ThreadSeen, UsageRecord, UsageRetract
from agentwatch.core.tally import Tally
from agentwatch.infra.files import Root, ScanStats, TrackedFile, discover
from agentwatch.infra.scan import RETRY_S, scan
from agentwatch.sources import gemini
from tests.fixtures.gemini import PRO, GeminiTree, LegacyChat, gemini_msg, tokens, ts

S = "7f3c2a10-5b3d-4f6e-9a18-2d4c6b8e0f13"


def tracked(tree: GeminiTree, path: Path) -> TrackedFile:
    root = Root(gemini.SOURCE, tree.root)
    spec = root.spec_of(str(path))
    assert spec is not None
    return TrackedFile.new(gemini.SOURCE, str(path), spec)


def legacy(tree: GeminiTree, cwd: str | None = None) -> LegacyChat:
    c = tree.legacy(tree.project("garden", cwd), S, ts(0))
    c.upsert(gemini_msg("g1", ts(0, 1), PRO, tokens(1000, 100)))
    c.upsert(gemini_msg("g2", ts(0, 2), PRO, tokens(2000, 200)))
    return c


def test_whole_file_is_read_on_change_only_and_a_torn_one_is_reported_at_the_end(
    tmp_path: Path,
) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree)
    c.write_partial(30)
    f = tracked(tree, c.path)
    stats = ScanStats()
    assert f.read(stats) == []
    assert f.read(stats) == []  # unchanged: not read again
    assert stats.bytes == 30
    done = ScanStats()
    f.finish(done)
    assert list(done.skipped_files) == [str(c.path)]
    c.write()
    recs = f.read(stats)
    assert [r.key[-1] for r in recs if isinstance(r, UsageRecord)] == ["g1", "g2"]
    assert stats.bytes == 30 + len(c.doc())
    assert f.read(stats) == []
    done = ScanStats()
    f.finish(done)
    assert done.skipped_files == {}
    assert done.lines_skipped == 0


def test_dump_and_load_keep_the_whole_flag_and_the_parser_state(tmp_path: Path) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree)
    c.write()
    f = tracked(tree, c.path)
    f.read(ScanStats())
    loaded = TrackedFile.load(msgspec.msgpack.decode(msgspec.msgpack.encode(f.dump())))
    assert loaded is not None
    assert loaded.spec.whole
    assert loaded.read(ScanStats()) == []  # unchanged since the dump
    c.drop_from("g2")
    c.write()
    recs = loaded.read(ScanStats())
    assert [r.key for r in recs if isinstance(r, UsageRetract)] == [("gemini", S, "g2")]
    assert not [r for r in recs if isinstance(r, UsageRecord) and r.key[-1] == "g2"]


def test_a_legacy_file_is_not_discovered_once_its_jsonl_exists(tmp_path: Path) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree)
    c.write()
    root = Root(gemini.SOURCE, tree.root)
    assert [p for p, _ in discover(root)] == [str(c.path)]
    resumed = tree.resume_legacy(c)
    assert [p for p, _ in discover(root)] == [str(resumed.path)]


def test_the_project_root_file_gives_the_cwd(tmp_path: Path) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree, "/home/dev/garden\n")
    c.write()
    (seen,) = [r for r in tracked(tree, c.path).read(ScanStats()) if isinstance(r, ThreadSeen)]
    assert (seen.thread, seen.cwd) == (ThreadKey(Agent.GEMINI, S), "/home/dev/garden")
    other = GeminiTree(tmp_path / "other")
    bare = other.chat(other.project("5f2b0c9e"), S, ts(0))
    bare.meta(ts(0))
    (seen,) = [r for r in tracked(other, bare.path).read(ScanStats()) if isinstance(r, ThreadSeen)]
    assert seen.cwd is None


def test_a_one_shot_scan_reads_a_torn_document_once_more_after_a_pause(tmp_path: Path) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree)
    c.write_partial(30)  # the writer is caught mid-write...
    waits: list[float] = []

    def writer_finishes(seconds: float) -> None:
        waits.append(seconds)
        c.write()  # ...and finishes during the pause

    tally = Tally()
    stats = scan([Root(gemini.SOURCE, tree.root)], tally, sleep=writer_finishes)
    assert waits == [RETRY_S]
    assert stats.skipped_files == {}
    (session,) = tally.sessions.values()
    assert session.main.account.tokens.input == 1000 + 2000


def test_a_document_that_stays_torn_is_reported_after_one_retry(tmp_path: Path) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    c = legacy(tree)
    c.write_partial(30)
    waits: list[float] = []
    stats = scan([Root(gemini.SOURCE, tree.root)], Tally(), sleep=waits.append)
    assert len(waits) == 1
    assert list(stats.skipped_files) == [str(c.path)]
