"""FileCursor on real files: complete lines only, partial tails, truncation, rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentwatch.infra.reader import FileCursor


def read(cursor: FileCursor, chunk: int = 16) -> list[bytes]:
    return [line for batch in cursor.read_lines(chunk) for line in batch]


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "session.jsonl"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("chunk", [1, 4, 16, 8 * 1024 * 1024])
def test_complete_lines_only(log: Path, chunk: int) -> None:
    append(log, b'{"a":1}\n{"b":2}\n{"c":')
    cur = FileCursor(str(log))
    assert read(cur, chunk) == [b'{"a":1}', b'{"b":2}']
    assert cur.offset == 16
    assert cur.pending == 5
    assert read(cur, chunk) == []
    assert cur.offset == 16


def test_partial_last_line_is_delivered_when_its_newline_arrives(log: Path) -> None:
    cur = FileCursor(str(log))
    line = b'{"type":"assistant","message":{"id":"msg_01Ka9","usage":{"output_tokens":377}}}'
    pieces = [line[:7], line[7:30], line[30:], b"\n"]
    for piece in pieces[:-1]:
        append(log, piece)
        assert read(cur) == []
        assert cur.offset == 0
    assert cur.pending == len(line)
    append(log, pieces[-1])
    assert read(cur) == [line]
    assert (cur.offset, cur.pending) == (len(line) + 1, 0)
    append(log, b"next\n")
    assert read(cur) == [b"next"]


def test_appends_are_read_once(log: Path) -> None:
    cur = FileCursor(str(log))
    append(log, b"one\ntwo\n")
    assert read(cur) == [b"one", b"two"]
    append(log, b"three\n")
    assert read(cur) == [b"three"]
    assert read(cur) == []
    assert cur.offset == len(b"one\ntwo\nthree\n")
    assert cur.resets == 0


def test_empty_lines_are_kept(log: Path) -> None:
    append(log, b"a\n\nb\n")
    assert read(FileCursor(str(log))) == [b"a", b"", b"b"]


def test_truncation_rereads_from_the_start(log: Path) -> None:
    cur = FileCursor(str(log))
    append(log, b"old line one\nold line two\n")
    assert len(read(cur)) == 2
    ino = cur.ino
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, b"new\n")
    assert read(cur) == [b"new"]
    assert cur.resets == 1
    assert cur.offset == 4
    assert cur.ino == ino


def test_replacement_at_the_same_path_rereads_from_the_start(log: Path, tmp_path: Path) -> None:
    cur = FileCursor(str(log))
    append(log, b"first file, line 1\n")
    assert read(cur) == [b"first file, line 1"]
    old_ino = cur.ino
    # the new file is longer than what was read, so only the inode tells them apart
    new = tmp_path / "session.jsonl.new"
    new.write_bytes(b"second file, line 1\nsecond file, line 2\n")
    assert new.stat().st_ino != old_ino
    os.replace(new, log)
    assert read(cur) == [b"second file, line 1", b"second file, line 2"]
    assert cur.resets == 1
    assert cur.ino == log.stat().st_ino != old_ino
    assert cur.offset == 40


def test_first_read_is_not_a_reset(log: Path) -> None:
    append(log, b"x\n")
    cur = FileCursor(str(log))
    read(cur)
    assert cur.resets == 0
    assert cur.ino == log.stat().st_ino


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    cur = FileCursor(str(tmp_path / "gone.jsonl"))
    with pytest.raises(FileNotFoundError):
        read(cur)
    assert (cur.offset, cur.ino) == (0, 0)


def test_deleted_file_raises_after_reading(log: Path) -> None:
    append(log, b"a\n")
    cur = FileCursor(str(log))
    assert read(cur) == [b"a"]
    log.unlink()
    with pytest.raises(FileNotFoundError):
        read(cur)
    assert cur.offset == 2


def test_directory_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read(FileCursor(str(tmp_path)))


def test_lines_longer_than_the_chunk_are_delivered_whole(log: Path) -> None:
    long1 = b"x" * 100
    long2 = b'{"text":"' + b"y" * 57 + b'"}'
    append(log, b"s\n" + long1 + b"\n" + long2 + b"\nt\n" + b"z" * 40)
    cur = FileCursor(str(log))
    assert read(cur, chunk=16) == [b"s", long1, long2, b"t"]
    assert cur.offset == 2 + 101 + len(long2) + 1 + 2
    assert cur.pending == 40
    append(log, b"\n")
    assert read(cur, chunk=16) == [b"z" * 40]


def test_utf8_split_across_chunks_is_reassembled(log: Path) -> None:
    line = "naïve café — 東京".encode() * 3
    append(log, line + b"\n")
    lines = read(FileCursor(str(log)), chunk=5)
    assert lines == [line]
    assert lines[0].decode() == "naïve café — 東京" * 3


def test_offset_advances_only_with_consumed_batches(log: Path) -> None:
    append(log, b"aaaa\nbbbb\ncccc\n")
    cur = FileCursor(str(log))
    batches = cur.read_lines(chunk=5)
    assert next(batches) == [b"aaaa"]
    assert cur.offset == 5
    batches.close()
    assert read(cur) == [b"bbbb", b"cccc"]
