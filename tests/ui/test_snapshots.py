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
