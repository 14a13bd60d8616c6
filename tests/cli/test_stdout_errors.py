"""A stdout that cannot take a command's output (a full disk) is one line and exit 1, for
every command that prints a document; never an "internal error"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.fixtures.claude import ClaudeTree, ts, usage

SID = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"


def _to_full_disk(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    with open("/dev/full", "wb") as full:
        p = subprocess.run(
            [str(BIN), *argv], stdout=full, stderr=subprocess.PIPE, env=env, check=False
        )
    return p.returncode, p.stderr.decode()


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["leaderboard", "--json", "--all"], "leaderboard"),
        (["leaderboard", "--all"], "leaderboard"),
        (["context", SID, "--json"], "context breakdown"),
        (["context", SID], "context breakdown"),
        (["ps", "--json"], "process list"),
        (["ps"], "process list"),
        (["report"], "report"),
        (["report", "--json"], "report"),
    ],
)
def test_a_full_disk_is_one_line(
    claude_tree: ClaudeTree, cli_env: dict[str, str], argv: list[str], what: str
) -> None:
    m = claude_tree.main(SID, "/home/dev/api", version="2.1.90")
    m.user("add a health check", ts(0))
    m.assistant("m1", "r1", usage(inp=120, out=40, cr=3000), ts(1))
    env = {**cli_env, "AGENTWATCH_NO_MEMO": "1"}
    code, err = _to_full_disk([*argv, "--claude-dir", str(claude_tree.root)], env)
    assert code == 1
    assert err.count("\n") == 1, err
    assert f"cannot write the {what}" in err
    assert "internal error" not in err


def test_a_full_disk_is_one_line_when_there_is_nothing_to_show(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "claude" / "projects").mkdir(parents=True)
    code, err = _to_full_disk(["report", "--claude-dir", str(tmp_path / "claude")], cli_env)
    assert code == 1
    assert err.count("\n") == 1, err
    assert "cannot write the report" in err


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["config"], "cannot write the settings"),
        (["prices"], "cannot write the price list"),
        (["prices", "--json"], "cannot write the price list"),
        (["--help"], "cannot write the output"),
        (["--version"], "cannot write the output"),
        (["report", "--help"], "cannot write the output"),
    ],
)
def test_small_commands_on_a_full_disk_are_one_line(
    tmp_path: Path, cli_env: dict[str, str], argv: list[str], what: str
) -> None:
    code, err = _to_full_disk(argv, cli_env)
    assert code == 1
    assert err.count("\n") == 1, err
    assert what in err
    assert "Traceback" not in err


def test_watch_on_a_full_disk_says_so_and_exits_1(
    claude_tree: ClaudeTree, cli_env: dict[str, str]
) -> None:
    m = claude_tree.main(SID, "/home/dev/api", version="2.1.90")
    m.assistant("m1", "r1", usage(inp=120, out=40), ts(1))
    argv = ["watch", "--jsonl", "--since", "2000-01-01", "--claude-dir", str(claude_tree.root)]
    code, err = _to_full_disk(argv, cli_env)  # (the first event fails: it ends by itself)
    assert code == 1
    assert err.count("\n") == 1, err
    assert "cannot write events" in err


def test_a_reader_that_stops_early_is_not_an_error(
    claude_tree: ClaudeTree, cli_env: dict[str, str]
) -> None:
    m = claude_tree.main(SID, "/home/dev/api")
    m.assistant("m1", "r1", usage(inp=120, out=40), ts(1))
    argv = [str(BIN), "leaderboard", "--all", "--claude-dir", str(claude_tree.root)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    assert p.stdout is not None
    p.stdout.close()  # the reader is gone before the board is written (`| true`)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert err == b""
