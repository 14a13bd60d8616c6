"""The leaderboard screen, opened with `L` or from the palette, over a fake feed's sessions."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from agentwatch.core.accounts import Account, Call
from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary
from agentwatch.core.tokens import Tokens
from agentwatch.infra.feed import Deliver, Headline, SessionExtras, Snapshot
from agentwatch.ui.app import AgentwatchApp
from agentwatch.ui.screens.detail import DetailScreen
from agentwatch.ui.screens.leaderboard import LeaderboardScreen
from agentwatch.ui.widgets.sessions import SessionsTable

NOW = 1_770_200_000.0
HEAD = Headline(0, 0.0, 0, 0.0, 0.0, 0.0, 0, NOW)
SONNET = "claude-sonnet-4-5-20250929"
LOOPER = "aaaaaaaa-0000-4000-8000-000000000001"
WORKER = "bbbbbbbb-0000-4000-8000-000000000002"
STEADY = "cccccccc-0000-4000-8000-000000000003"
OLD = "dddddddd-0000-4000-8000-000000000004"


def summary(
    sid: str, tokens: int, lines: tuple[int, int], project: str, last: float, minutes: int = 60
) -> SessionSummary:
    acc = Account()
    owner = ThreadKey(Agent.CLAUDE_CODE, sid)
    per = tokens // minutes
    for m in range(minutes):  # one call a minute, mostly cache reads
        ts = last - (minutes - m) * 60.0
        t = Tokens(input=per // 10, output=per // 10, cache_read=per - 2 * (per // 10))
        acc.add(Call((sid, str(m)), t, SONNET, ts, owner, 0.01, False, (owner,)))
    return SessionSummary(
        Agent.CLAUDE_CODE,
        sid,
        project,
        (f"/logs/{sid}.jsonl",),
        last - minutes * 60.0,
        last,
        SessionStatus.IDLE,
        acc,
        (),
        acc,
        False,
        "2.1.150",
        10,
        0,
        3,
        lines[0],
        lines[1],
    )


SESSIONS = [
    summary(LOOPER, 6_000_000, (30, 0), "/home/dev/shop", NOW - 600, minutes=120),
    summary(WORKER, 1_200_000, (900, 300), "/home/dev/blog", NOW - 1200),
    summary(STEADY, 800_000, (150, 50), "/home/dev/shop", NOW - 3000),
    summary(OLD, 9_000_000, (500, 0), "/home/dev/old", NOW - 10 * 86400.0),
]
LOOP = Alert(
    "error_loop-1",
    ThreadKey(Agent.CLAUDE_CODE, LOOPER),
    AlertKind.ERROR_LOOP,
    Severity.CRITICAL,
    NOW - 5000,
    NOW - 4900,
    None,
    "`npm test` failed the same way 40 times",
    4_000_000,
)


class FakeFeed:
    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def start(self) -> None:
        extras = {LOOPER: SessionExtras((), (), (LOOP,))}
        self.deliver(Snapshot(tuple(SESSIONS), HEAD, first=True, extras=extras))

    def stop(self) -> None:
        pass


def make() -> AgentwatchApp:
    return AgentwatchApp(FakeFeed, [Path("/nowhere")], lambda: NOW)  # type: ignore[arg-type]


async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        await pilot.pause()
        if pilot.app.loaded and pilot.app.query_one(SessionsTable).row_count:
            return


async def board_of(pilot) -> LeaderboardScreen:  # type: ignore[no-untyped-def]
    screen = pilot.app.screen
    assert isinstance(screen, LeaderboardScreen)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def keys(screen: LeaderboardScreen) -> list[str]:
    t = screen.query_one("#lb-rows", DataTable)
    return [str(t.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(t.row_count)]


def text(screen: LeaderboardScreen, wid: str) -> str:
    return str(screen.query_one(wid, Static).render())


async def test_L_opens_the_board_ranked_by_tokens_with_the_loop_shown_for_what_it_is():
    app = make()
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("L")
        screen = await board_of(pilot)
        assert keys(screen) == [LOOPER, WORKER, STEADY]  # OLD is older than 7 days
        table = screen.query_one("#lb-rows", DataTable)
        first = [str(c) for c in table.get_row_at(0)]
        assert first[-1] == "1 loop"
        titles = text(screen, "#lb-titles")
        legend_line = next(x for x in titles.splitlines() if "Token Legend" in x)
        assert LOOPER[:8] in legend_line
        for name in ("Most lines per token", "Most lines changed"):
            line = next(x for x in titles.splitlines() if name in x)
            assert WORKER[:8] in line, line
        idle = next(x for x in titles.splitlines() if "Least idle burn" in x)
        assert "nobody (not known in this view)" in idle
        assert "Idle" not in [str(c.label) for c in table.columns.values()]
        await pilot.press("escape")
        assert not isinstance(app.screen, LeaderboardScreen)


async def test_b_and_p_change_the_view_and_the_period():
    app = make()
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("L")
        screen = await board_of(pilot)
        await pilot.press("b")
        screen = await board_of(pilot)
        assert keys(screen) == ["/home/dev/shop", "/home/dev/blog"]
        assert "by project" in text(screen, "#lb-heading")
        await pilot.press("b", "b")  # model, then back to session
        screen = await board_of(pilot)
        assert keys(screen) == [LOOPER, WORKER, STEADY]
        await pilot.press("p")  # 30 days: the old session is back, with the most tokens
        screen = await board_of(pilot)
        assert keys(screen)[0] == OLD
        assert "last 30d" in text(screen, "#lb-heading")


async def test_enter_on_a_row_opens_that_sessions_detail():
    app = make()
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("L")
        await board_of(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.session.session_id == WORKER


async def test_the_palette_opens_the_board():
    app = make()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"leaderboard")
        for _ in range(20):
            await pilot.pause(0.05)
        await pilot.press("enter")
        screen = await board_of(pilot)
        assert keys(screen)[0] == LOOPER


async def test_the_board_fits_eighty_columns():
    app = make()
    async with app.run_test(size=(80, 30)) as pilot:
        await ready(pilot)
        await pilot.press("L")
        screen = await board_of(pilot)
        table = screen.query_one("#lb-rows", DataTable)
        titles = [str(c.label) for c in table.columns.values()]
        assert titles[:2] == ["#", "Session"]
        assert "Alerts" in titles
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
