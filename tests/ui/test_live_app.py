"""The app over the real feed: a real tree, a real watcher, a line appended while it runs."""

from __future__ import annotations

import time

from agentwatch.infra.workspace import Options, open_workspace
from agentwatch.ui.app import make_app
from agentwatch.ui.widgets.sessions import SessionsTable
from tests.fixtures.claude import ClaudeTree, usage


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


async def wait_for(pilot, cond, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):  # bounded: up to ~10 s of 50 ms pauses
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_line_appended_while_running_updates_its_row(claude_tree: ClaudeTree, tmp_path):
    t = claude_tree.main("cccccccc-0000-4000-8000-000000000003")
    t.assistant("m1", "r1", usage(inp=1, out=100), iso(time.time() - 30))
    ws = open_workspace(
        Options(
            claude_dirs=(str(claude_tree.root),),
            cache_dir=str(tmp_path / "cache"),
            config_dir=str(tmp_path / "config"),
        ),
        env={},  # hermetic: no CODEX_HOME, no developer's ~/.codex
        home=tmp_path / "home",
    )
    app = make_app(ws, flush_interval=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(SessionsTable)
        await wait_for(pilot, lambda: table.row_count == 1, "the first row")
        (s,) = table.sessions.values()
        assert s.total.tokens.output == 100
        assert str(s.status) == "active"
        t.assistant("m2", "r2", usage(inp=1, out=50), iso(time.time()))
        await wait_for(
            pilot,
            lambda: next(iter(table.sessions.values())).total.tokens.output == 150,
            "the appended call",
        )
        assert table.row_count == 1
    assert list((tmp_path / "cache").glob("index-*.sqlite"))  # the real feed saved an index
