"""SVG snapshots of the main screens (Textual is pinned exactly while these exist)."""

from __future__ import annotations

import time

import pytest

from agentwatch.core.status import SessionStatus
from tests.ui.test_app import NOW, make, summary


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TZ", "UTC")  # clock times in the cells
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def sessions() -> list:
    return [
        summary(0, last=NOW - 5, subs=3, status=SessionStatus.ACTIVE, project="/home/dev/shop-api"),
        summary(1, last=NOW - 400, cost=12.5, project="/home/dev/blog"),
        summary(2, last=NOW - 90_000, project="/srv/very/long/path/to/the/payments-service"),
    ]


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(20):
        await pilot.pause()
        if pilot.app.loaded:
            break
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_main_screen(snap_compare, size):
    app, _ = make(sessions())
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_expanded_sub_agents(snap_compare):
    app, _ = make(sessions())

    async def expand(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("space")

    assert snap_compare(app, terminal_size=(160, 45), run_before=expand)


def test_detail_screen(snap_compare):
    app, _ = make(sessions())

    async def detail(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 45), run_before=detail)


def test_empty_state(snap_compare):
    app, _ = make([])
    assert snap_compare(app, terminal_size=(100, 30), run_before=settle)


def looping_with_alert(**kw: object):  # type: ignore[no-untyped-def]
    from agentwatch.core.alerts import Alert, AlertKind, Severity  # noqa: PLC0415
    from agentwatch.core.records import Agent, ThreadKey  # noqa: PLC0415
    from agentwatch.infra.feed import SessionExtras, Snapshot  # noqa: PLC0415
    from tests.ui.test_app import HEAD  # noqa: PLC0415

    rows = sessions()
    rows[0] = summary(
        0, last=NOW - 5, subs=3, status=SessionStatus.LOOPING, project="/home/dev/shop-api"
    )
    key = ThreadKey(Agent.CLAUDE_CODE, rows[0].session_id)
    alert = Alert(
        "error_loop-1", key, AlertKind.ERROR_LOOP, Severity.CRITICAL, NOW - 540, NOW - 500,
        None, "`npm test` failed the same way 14 times in 9 min; 312k tokens, no file changed",
        312_000,
    )  # fmt: skip
    app, feeds = make(rows, **kw)

    async def alerted(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        extras = {rows[0].session_id: SessionExtras((), (), (alert,))}
        feeds[0].deliver(Snapshot((rows[0],), HEAD, extras=extras))
        await pilot.pause()
        pilot.app.flush()
        await pilot.pause()

    return app, alerted


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_alert_panel(snap_compare, size):
    app, alerted = looping_with_alert()
    assert snap_compare(app, terminal_size=size, run_before=alerted)


@pytest.mark.parametrize(
    "theme", ["agentwatch-dark", "agentwatch-light", "high-contrast", "colorblind-safe"]
)
def test_theme(snap_compare, theme):
    app, alerted = looping_with_alert(theme_name=theme)  # as --theme / config.toml set it
    assert snap_compare(app, terminal_size=(120, 20), run_before=alerted)
