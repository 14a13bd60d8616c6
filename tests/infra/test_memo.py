"""The report memo: a kept document is replayed only while every probe and the clock agree."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentwatch.infra import memo

ARGV = ["report", "--json"]
DOC = b'{\n  "schema_version": 1,\n  "generated_at": "2026-01-01T00:00:00.000Z",\n  "x": 1\n}\n'
MADE = 1767225600.0  # 2026-01-01T00:00:00Z


def _setup(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    cache = tmp_path / "cache"
    log = tmp_path / "logs" / "a.jsonl"
    log.parent.mkdir()
    log.write_text('{"a": 1}\n')
    return {"AGENTWATCH_CACHE_DIR": str(cache)}, cache, log


def _save(env: dict[str, str], cache: Path, paths: list[str], until: float = MADE + 60) -> str:
    key = memo.key_of(ARGV, env, "/w")
    assert memo.save(str(cache), key, MADE, until, memo.probes(paths), DOC)
    return key


def test_a_memo_is_replayed_with_a_fresh_generated_at(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    _save(env, cache, [str(log), str(log.parent)])
    out = memo.replay(ARGV, env, "/w", MADE + 30.5)
    assert out is not None
    doc = json.loads(out)
    assert doc["generated_at"] == "2026-01-01T00:00:30.500Z"
    assert out.replace(b"00:00:30.500", b"00:00:00.000") == DOC


def test_any_change_to_a_probed_path_voids_it(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    paths = [str(log), str(log.parent), str(tmp_path / "config.toml")]
    _save(env, cache, paths)
    assert memo.replay(ARGV, env, "/w", MADE + 1) is not None
    with log.open("a") as fh:
        fh.write('{"a": 2}\n')  # appended
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None
    _save(env, cache, paths)
    (log.parent / "b.jsonl").write_text("")  # a new file: its folder changed
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None
    _save(env, cache, paths)
    (tmp_path / "config.toml").write_text("")  # a path that was missing now exists
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None
    _save(env, cache, paths)
    log.unlink()
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None


def test_it_holds_only_between_its_making_and_its_end(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    _save(env, cache, [str(log)], until=MADE + 10)
    assert memo.replay(ARGV, env, "/w", MADE + 9.9) is not None
    assert memo.replay(ARGV, env, "/w", MADE + 10) is None  # a session turned idle by now
    assert memo.replay(ARGV, env, "/w", MADE - 1) is None  # the clock went back


def test_another_command_environment_or_folder_does_not_match(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    _save(env, cache, [str(log)])
    assert memo.replay([*ARGV, "--agent", "codex"], env, "/w", MADE + 1) is None
    assert memo.replay(ARGV, {**env, "CLAUDE_CONFIG_DIR": "/elsewhere"}, "/w", MADE + 1) is None
    assert memo.replay(ARGV, env, "/other", MADE + 1) is None
    assert memo.replay(ARGV, {**env, memo.OFF: "1"}, "/w", MADE + 1) is None
    assert memo.replay([*ARGV, "--no-cache"], env, "/w", MADE + 1) is None
    assert memo.replay(ARGV, {**env, "TERM": "dumb"}, "/w", MADE + 1) is not None  # irrelevant


def test_the_cache_dir_flag_wins_over_the_environment(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    argv = [*ARGV, "--cache-dir", str(tmp_path / "flag")]
    key = memo.key_of(argv, env, "/w")
    assert memo.save(str(tmp_path / "flag"), key, MADE, MADE + 60, memo.probes([str(log)]), DOC)
    assert memo.replay(argv, env, "/w", MADE + 1) is not None
    assert not cache.exists()  # nothing was looked up or written in the environment's dir
    assert memo.replay([*ARGV, f"--cache-dir={tmp_path / 'flag'}"], env, "/w", MADE + 1) is None


def test_damaged_memos_are_ignored(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    key = _save(env, cache, [str(log)])
    (path,) = cache.glob("report-memo-*.bin")
    good = path.read_bytes()
    for bad in (b"", b"garbage", good[: len(good) - 3], good[:40], good + b"x", os.urandom(300)):
        path.write_bytes(bad)
        assert memo.replay(ARGV, env, "/w", MADE + 1) is None, bad[:50]
    path.write_bytes(good.replace(key.encode(), b"0" * len(key), 1))
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None


def test_paths_with_spaces_and_odd_bytes_are_probed(tmp_path: Path) -> None:
    env, cache, _ = _setup(tmp_path)
    odd = tmp_path / "a b" / os.fsdecode(b"caf\xe9 \xff.jsonl")
    odd.parent.mkdir()
    odd.write_text("{}\n")
    _save(env, cache, [str(odd)])
    assert memo.replay(ARGV, env, "/w", MADE + 1) is not None
    odd.write_text("{}\n{}\n")
    assert memo.replay(ARGV, env, "/w", MADE + 1) is None


def test_a_document_without_its_stamp_is_not_kept(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    key = memo.key_of(ARGV, env, "/w")
    assert not memo.save(str(cache), key, MADE + 5, MADE + 60, memo.probes([str(log)]), DOC)
    assert memo.replay(ARGV, env, "/w", MADE + 6) is None


def test_old_memos_are_pruned(tmp_path: Path) -> None:
    env, cache, log = _setup(tmp_path)
    for i in range(memo.KEEP + 3):
        key = memo.key_of([*ARGV, "--model", str(i)], env, "/w")
        assert memo.save(str(cache), key, MADE, MADE + 60, memo.probes([str(log)]), DOC)
    assert len(list(cache.glob("report-memo-*.bin"))) == memo.KEEP
    assert memo.replay([*ARGV, "--model", str(memo.KEEP + 2)], env, "/w", MADE + 1) is not None
