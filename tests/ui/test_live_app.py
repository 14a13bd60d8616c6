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


async def test_recent_tool_calls_reach_the_screen_with_secrets_redacted(
    claude_tree: ClaudeTree, tmp_path
):
    t = claude_tree.main("cccccccc-0000-4000-8000-000000000004")
    now = time.time()
    cmd = "curl -H 'Authorization: Bearer sk-ant-api03-Zx81KqL0pV7mN2bR4tY6uI9oP3aS5dF8' api"
    block = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": cmd}}
    t.assistant("m1", "r1", usage(inp=1, out=10), iso(now - 20), content=[block])
    t.tool_result("toolu_1", iso(now - 19), {"stdout": "401"}, is_error=True, text="401")
    ws = open_workspace(
        Options(claude_dirs=(str(claude_tree.root),), cache_dir=str(tmp_path / "c")),
        env={},
        home=tmp_path / "home",
    )
    app = make_app(ws, flush_interval=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.extras), "the session's extras")
        [extra] = app.extras.values()
        [(_, name, target, ok)] = extra.recent
        assert (name, ok) == ("Bash", False)
        assert "curl" in target
        assert "Zx81KqL0pV7m" not in target
        assert "[REDACTED:" in target
