"""Export files: atomic writes, mode 0600, no clobbering, unique names for the TUI."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from agentwatch.infra.export.write import (
    OutputError,
    OutputExistsError,
    write_atomic,
    write_unique,
)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_write_mode_and_no_leftovers(tmp_path: Path) -> None:
    out = write_atomic(tmp_path / "r.json", b"{}\n")
    assert out == tmp_path / "r.json"
    assert out.read_bytes() == b"{}\n"
    assert mode(out) == 0o600
    assert os.listdir(tmp_path) == ["r.json"]


def test_refuses_then_replaces_with_force(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    out.write_text("old")
    inode = out.stat().st_ino
    with pytest.raises(OutputExistsError, match="--force"):
        write_atomic(out, b"new")
    assert out.read_text() == "old"
    write_atomic(out, b"new", force=True)
    assert out.read_text() == "new"
    assert out.stat().st_ino != inode  # renamed over, never rewritten in place
    assert mode(out) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["r.md"]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "big.csv"
    write_atomic(out, b"a" * 1_000_000)
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(len(out.read_bytes()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(20):
            write_atomic(out, (b"b" if i % 2 else b"c") * 2_000_000, force=True)
    finally:
        stop.set()
        reader.join()
    assert seen <= {1_000_000, 2_000_000}


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no such directory"):
        write_atomic(tmp_path / "missing" / "r.md", b"x")
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(tmp_path, b"x", force=True)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OutputError, match="cannot write"):
            write_atomic(locked / "r.md", b"x")
    finally:
        locked.chmod(0o700)


def test_unique_names_never_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "exports" / "deep"
    a = write_unique(folder, "agentwatch-view", ".md", b"1")
    b = write_unique(folder, "agentwatch-view", ".md", b"2")
    (folder / "agentwatch-view-3.md").write_text("mine")
    c = write_unique(folder, "agentwatch-view", ".md", b"4")
    assert [p.name for p in (a, b, c)] == [
        "agentwatch-view.md",
        "agentwatch-view-2.md",
        "agentwatch-view-4.md",
    ]
    assert [p.read_bytes() for p in (a, b, c)] == [b"1", b"2", b"4"]
    assert (folder / "agentwatch-view-3.md").read_text() == "mine"
    assert all(mode(p) == 0o600 for p in (a, b, c))
