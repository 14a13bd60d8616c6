"""`e` and `E` in the TUI: a Markdown export of the selected session or of the view."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.infra.feed import SessionExtras
from agentwatch.ui.screens.detail import DetailScreen
from agentwatch.ui.widgets.sessions import SessionsTable
from tests.ui.test_app import NOW, loaded, make, summary


async def wait_for_files(pilot, folder: Path, n: int) -> list[Path]:  # type: ignore[no-untyped-def]
    for _ in range(100):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        files = sorted(folder.glob("*.md"))
        if len(files) >= n:
            return files
    raise AssertionError(f"expected {n} exports in {folder}, found {list(folder.iterdir())}")


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def test_e_exports_the_selected_session_never_overwriting(tmp_path: Path) -> None:
    sessions = [summary(0, last=NOW - 100), summary(1, last=NOW, subs=2)]
    app, _ = make(sessions)
    app.export_dir = tmp_path / "exports"
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        chosen = app.query_one(SessionsTable).current_session()
        assert chosen is not None
        await pilot.press("e")
        (first,) = await wait_for_files(pilot, app.export_dir, 1)
        await pilot.press("e")
        files = await wait_for_files(pilot, app.export_dir, 2)
    # The same second again: a new name, never a clobber.
    assert {p.name for p in files} == {first.name, f"{first.stem}-2.md"}
    text = first.read_text()
    assert first.name.startswith(f"agentwatch-session-{chosen.session_id[:8]}-")
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert f"`{chosen.session_id[:8]}`" in text
    other = next(s for s in sessions if s is not chosen)
    assert other.session_id[:8] not in text
    total = re.search(r"\| \*\*Total\*\* \|.*?\| ([\d,]+) \| [^|]+ \|$", text, re.MULTILINE)
    assert total is not None
    assert int(total.group(1).replace(",", "")) == chosen.total.tokens.total
    assert "### Sub-agents" in text
    assert any(str(first) in n for n in notes(app))


async def test_shift_e_exports_the_filtered_view_with_its_alerts(tmp_path: Path) -> None:
    sessions = [
        summary(0, last=NOW, project="/home/dev/shop-api"),
        summary(1, last=NOW, project="/home/dev/shop-web"),
        summary(2, last=NOW, project="/srv/blog"),
    ]
    alert = Alert(
        "al-1",
        ThreadKey(Agent.CLAUDE_CODE, sessions[1].session_id),
        AlertKind.ERROR_LOOP,
        Severity.CRITICAL,
        NOW - 600,
        NOW - 500,
        None,
        "`npm test` failed the same way 9 times",
        123_456,
    )
    app, _ = make(sessions)
    app.export_dir = tmp_path
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        app.extras[sessions[1].session_id] = SessionExtras((), (), (alert,))
        await pilot.press("slash")
        await pilot.press(*"shop")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("E")
        (path,) = await wait_for_files(pilot, tmp_path, 1)
    text = path.read_text()
    assert path.name.startswith("agentwatch-view-")
    assert "**2 sessions**" in text
    assert "/home/dev/shop-api" in text
    assert "/home/dev/shop-web" in text
    assert "/srv/blog" not in text
    assert "### Top alerts" in text
    assert "npm test" in text
    assert "critical" in text


async def test_e_on_the_detail_screen_exports_that_session(tmp_path: Path) -> None:
    sessions = [summary(0, last=NOW), summary(1, last=NOW - 50)]
    app, _ = make(sessions)
    app.export_dir = tmp_path
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        shown = app.screen.session
        await pilot.press("e")
        (path,) = await wait_for_files(pilot, tmp_path, 1)
    assert f"session-{shown.session_id[:8]}" in path.name


async def test_export_failure_is_a_notification(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    app, _ = make([summary(0, last=NOW)])
    app.export_dir = blocker / "exports"
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        for _ in range(50):
            await pilot.pause()
            await app.workers.wait_for_complete()
            if any("Export failed" in n for n in notes(app)):
                break
        assert any("Export failed" in n and "cannot create" in n for n in notes(app))
