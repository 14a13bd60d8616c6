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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTWATCH_", "CLAUDE_", "CODEX_"))}
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

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        p = subprocess.run([str(BIN), *args], capture_output=True, text=True,
                           env={**cli_env, **(env or {})}, timeout=timeout, check=False)
        return Run(p.returncode, p.stdout, p.stderr)

    return run
