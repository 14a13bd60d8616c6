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
