"""Shared fixtures: fixture trees in tmp dirs and the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.claude import ClaudeTree

BIN = Path(sys.executable).parent / "agentwatch"


@dataclass
class Run:
    """A finished `agentwatch` process."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def claude_tree(tmp_path: Path) -> ClaudeTree:
    """An empty Claude Code root."""
    root = tmp_path / "claude"
    (root / "projects").mkdir(parents=True)
    return ClaudeTree(root)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty HOME and agentwatch's dirs inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTWATCH_", "CLAUDE_", "CODEX_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        TZ="UTC",
    )
    return env


@pytest.fixture
def agentwatch(cli_env: dict[str, str]) -> Callable[..., Run]:
    """Run the installed `agentwatch` console script in a subprocess."""
    assert BIN.exists(), f"console script not installed at {BIN}"

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> Run:
        p = subprocess.run(
            [str(BIN), *args],
            capture_output=True,
            text=True,
            env={**cli_env, **(env or {})},
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    return run


TOKEN_KEYS = (
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "reasoning",
    "total",
)


def check_report_invariants(doc: dict[str, Any]) -> None:
    """CLI_CONTRACT sections 2-3: total = the four kinds; session total = main + sub-agents;
    grand total = sum of sessions. Field by field."""

    def kinds(t: dict[str, int]) -> None:
        assert set(t) == set(TOKEN_KEYS)
        assert all(isinstance(v, int) and v >= 0 for v in t.values()), t
        assert t["total"] == t["input"] + t["output"] + t["cache_write"] + t["cache_read"], t
        assert t["cache_write_1h"] <= t["cache_write"], t
        assert t["reasoning"] <= t["output"], t

    grand = dict.fromkeys(TOKEN_KEYS, 0)
    for s in doc["sessions"]:
        kinds(s["tokens"])
        kinds(s["total_tokens"])
        for k in TOKEN_KEYS:
            parts = s["tokens"][k] + sum(a["tokens"][k] for a in s["subagents"])
            assert s["total_tokens"][k] == parts, (s["session_id"], k)
            grand[k] += s["total_tokens"][k]
        for a in s["subagents"]:
            kinds(a["tokens"])
    kinds(doc["totals"]["tokens"])
    assert doc["totals"]["tokens"] == grand


@pytest.fixture
def report_json(agentwatch: Callable[..., Run]) -> Callable[..., dict[str, Any]]:
    """`agentwatch report --json --claude-dir ROOT...`: exit 0, no traceback, invariants hold."""

    def run(
        *roots: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        argv = ["report", "--json", *args]
        for r in roots:
            argv += ["--claude-dir", str(r)]
        res = agentwatch(*argv, env=env)
        assert res.code == 0, res.err
        assert "Traceback" not in res.err
        doc: dict[str, Any] = res.json()
        check_report_invariants(doc)
        return doc

    return run
