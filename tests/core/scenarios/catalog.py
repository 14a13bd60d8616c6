"""The labelled scenarios (labels.toml): each a script for `Agent`, 30 minutes or more of
session time, written as a real Claude Code tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.core.scenarios import loops, normal
from tests.core.scenarios.agent import Agent
from tests.fixtures.claude import ClaudeTree

SCRIPTS: dict[str, Callable[[Agent], None]] = {
    f.__name__: f
    for f in (
        normal.normal_feature,
        normal.normal_subagent_bugfix,
        normal.explore_then_edit_monorepo,
        normal.explore_then_edit_subagents,
        normal.testfix_pytest,
        normal.testfix_typecheck,
        normal.planning_design,
        normal.planning_plan_mode,
        loops.loop_npm_test_same_failure,
        loops.loop_pytest_timings,
        loops.loop_poll_health,
        loops.loop_poll_bashoutput,
        loops.loop_reread_cycle,
        loops.loop_reread_subagent,
        loops.loop_chat_bot,
        loops.loop_chat_after_work,
    )
}


@dataclass(frozen=True)
class Built:
    """A scenario written to disk."""

    root: Path
    """The Claude root (holds `projects/`)."""
    files: list[Path]
    """Its transcripts, main file first."""
    marks: dict[str, float]
    """Times the script marked (`onset`, `clear`; `<agent>.onset` in a sub-agent)."""
    end: float
    """The main thread's clock at the end."""


def build(name: str, root: Path, *, own_ids: bool = False) -> Built:
    """Write scenario `name` as a Claude Code tree under `root`. Scenarios share message and
    tool ids unless `own_ids` gives the main thread ids of its own."""
    tree = ClaudeTree(root)
    session = f"5ce7a210-0000-4000-8000-{sum(map(ord, name)) * 7919 % 10**12:012d}"
    t = tree.main(session)
    a = Agent(tree, t, name)
    if own_ids:
        a.prefix = f"{name}-"
    SCRIPTS[name](a)
    files = sorted(root.rglob("*.jsonl"), key=lambda p: (p != t.path, str(p)))
    return Built(root, files, a.marks, a.clock)
