"""Sub-commands in other modules load only when named, and every one is still there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Run
from tests.fixtures.claude import ClaudeTree, ts, usage

COMMANDS = [
    "config",
    "context",
    "demo",
    "kill",
    "leaderboard",
    "prices",
    "ps",
    "report",
    "resume",
    "suspend",
    "watch",
]

PROBE = """
import sys
from agentwatch.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("psutil", "textual", "tiktoken", "agentwatch.cli_procs", "agentwatch.cli_demo",
         "agentwatch.cli_context", "agentwatch.cli_board")
print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def test_help_lists_every_command_and_each_one_answers(agentwatch: Callable[..., Run]) -> None:
    res = agentwatch("--help")
    assert res.code == 0, res.err
    lines = res.out.split("Commands:")[1].splitlines()
    assert [ln.split()[0] for ln in lines if ln.strip()] == COMMANDS
    for name in COMMANDS:
        sub = agentwatch(name, "--help")
        assert sub.code == 0, (name, sub.err)
        assert f"Usage: agentwatch {name}" in sub.out


def test_report_loads_no_process_tokenizer_or_ui_code(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    a = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    a.assistant("m1", "r1", usage(inp=1, out=2), ts(1))
    argv = ["report", "--json", "--claude-dir", str(claude_tree.root), "--no-cache"]
    p = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=cli_env,
        check=True,
        timeout=60,
    )
    assert '"schema_version": 1' in p.stdout
    assert p.stderr.strip().splitlines()[-1] == "[]"
