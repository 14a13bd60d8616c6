"""The TUI driven by a fake feed (injected through make_app), with Textual's pilot."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentwatch.core.accounts import Account, Call
from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary, SubagentSummary
from agentwatch.core.tokens import Tokens
from agentwatch.infra.feed import AlertRaised, Deliver, Headline, SessionExtras, Snapshot
from agentwatch.ui.app import AgentwatchApp
from agentwatch.ui.screens.detail import DetailScreen
from agentwatch.ui.widgets.sessions import SessionsTable, session_key

NOW = 1_770_200_000.0  # 2026-02-04, a fixed clock


def account(tokens: int, cost: float | None, ts: float = NOW - 30, model: str = "m") -> Account:
    acc = Account()
    owner = ThreadKey(Agent.CLAUDE_CODE, "x")
    acc.add(
        Call(
            ("k",),
            Tokens(input=tokens // 2, output=tokens - tokens // 2),
            model,
            ts,
            owner,
            cost,
            False,
            (owner,),
        )
    )
    return acc


def summary(
    i: int,
    *,
    last: float,
    cost: float = 1.0,
    subs: int = 0,
    status: SessionStatus = SessionStatus.IDLE,
    project: str | None = None,
) -> SessionSummary:
    main = account(1000 * (i + 1), cost, last)
    subagents = tuple(
        SubagentSummary(
            f"a{i}{j}", "Explore", f"look {j}", None, account(100, 0.1, last), last - 60, last
        )
        for j in range(subs)
    )
    total = Account()
    total.merge(main)
    for s in subagents:
        total.merge(s.account)
    return SessionSummary(
        Agent.CLAUDE_CODE,
        f"{i:08d}-aaaa-4bbb-8ccc-000000000000",
        project or f"/home/dev/p{i}",
        (f"/logs/{i}.jsonl",),
        last - 3600,
        last,
        status,
        main,
        subagents,
        total,
        False,
        "2.1.150",
        3,
        0,
        1,
        10,
        2,
    )


HEAD = Headline(1234, 1.5, 5678, 3.25, 100.0, 0.5, 1, NOW)


class FakeFeed:
    """Delivers prepared snapshots when the app starts it; tests push more by hand."""

    def __init__(self, deliver: Deliver, first: list[SessionSummary]) -> None:
        self.deliver = deliver
        self.first = first
        self.stopped = False

    def start(self) -> None:
        self.deliver(Snapshot(tuple(self.first), HEAD, first=True))

    def stop(self) -> None:
        self.stopped = True


def make(sessions: list[SessionSummary], **kw: object) -> tuple[AgentwatchApp, list[FakeFeed]]:
    feeds: list[FakeFeed] = []

    def factory(deliver: Deliver) -> FakeFeed:
        feeds.append(FakeFeed(deliver, sessions))
        return feeds[-1]

    app = AgentwatchApp(factory, [Path("/home/u/.claude/projects")], lambda: NOW, **kw)  # type: ignore[arg-type]
    return app, feeds


def rows(app: AgentwatchApp) -> list[str]:
    t = app.query_one(SessionsTable)
    return [str(t.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(t.row_count)]


async def loaded(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        await pilot.pause()
        if pilot.app.loaded and pilot.app.query_one(SessionsTable).row_count:
            return


async def test_first_snapshot_fills_the_table_newest_first_with_the_cursor_on_top():
    app, _ = make([summary(i, last=NOW - 1000 * i) for i in range(5)])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        t = app.query_one(SessionsTable)
        assert rows(app) == [session_key(summary(i, last=0)) for i in range(5)]
        assert t.cursor_row == 0
        text = str(app.query_one("#headline").render())
        assert "1,234" in text
        assert "$1.50" in text
        assert "live 1" in text


async def test_space_expands_sub_agents_under_their_session_and_left_collapses():
    app, _ = make([summary(0, last=NOW, subs=2), summary(1, last=NOW - 10, subs=0)])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        s0 = summary(0, last=0)
        k0 = session_key(s0)
        sid = s0.session_id
        assert rows(app)[:3] == [k0, f"a|claude-code|{sid}|a00", f"a|claude-code|{sid}|a01"]
        await pilot.press("down", "left")
        assert len(rows(app)) == 2
        assert app.query_one(SessionsTable).current_key() == k0


async def test_enter_opens_the_detail_of_the_selected_session_and_escape_returns():
    app, _ = make([summary(0, last=NOW), summary(1, last=NOW - 10)])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.session.session_id.startswith("00000001")
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_filter_narrows_rows_and_escape_clears_it():
    app, _ = make(
        [
            summary(i, last=NOW - i, project=p)
            for i, p in enumerate(["/srv/shop-api", "/srv/blog", "/srv/shop-web"])
        ]
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"shop")
        assert len(rows(app)) == 2
        await pilot.press("escape")
        assert len(rows(app)) == 3


async def test_updates_are_coalesced_into_one_flush_and_selection_survives_resort():
    sessions = [summary(i, last=NOW - 100 * i, cost=float(i)) for i in range(500)]
    app, feeds = make(sessions, flush_interval=3600.0)  # no timer flush during the test
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down")
        chosen = app.query_one(SessionsTable).current_key()
        before = app.flushes
        for n in range(10):  # ten updates a second, for a second: the chosen row moves to the top
            upd = summary(499 - n, last=NOW + n, cost=1.0)
            feeds[0].deliver(Snapshot((upd,), HEAD))
        await pilot.press("o")  # keys are handled while updates wait for the next flush
        assert app.query_one(SessionsTable).sort_by == "cost"
        await pilot.pause()
        assert app.flushes == before  # nothing applied yet: one flush per interval at most
        app.flush()
        assert app.flushes == before + 1
        t = app.query_one(SessionsTable)
        assert t.current_key() == chosen  # the selected row stays selected across the re-sort
        assert t.sessions[session_key(summary(499, last=0))].last_activity_at == NOW


async def test_empty_state_names_the_folders_searched():
    app, _ = make([])
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(5):
            await pilot.pause()
        text = str(app.query_one("#empty").render())
        assert "No agent sessions found" in text
        assert "/home/u/.claude/projects" in text
        assert "--claude-dir" in text


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("k", "No running agent process"),
        ("s", "No running agent process"),
    ],
)
async def test_actions_without_a_process_or_not_built_yet_say_so(key, says):
    app, _ = make([summary(0, last=NOW)])
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert any(says in n.message for n in app._notifications)


async def test_narrow_terminal_drops_columns_by_priority():
    app, _ = make([summary(0, last=NOW)])
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        shown = [c.key for c in app.query_one(SessionsTable).columns_shown]
        assert shown[0] == "status"
        assert {"project", "cost", "output"} <= set(shown)
        assert "input" not in shown
        assert sum(c.width + 2 for c in app.query_one(SessionsTable).columns_shown) <= 80
    app, _ = make([summary(0, last=NOW)])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        assert len(app.query_one(SessionsTable).columns_shown) == 15  # every column at 160


async def test_the_feed_is_stopped_on_exit():
    app, feeds = make([summary(0, last=NOW)])
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("q")
    assert feeds[0].stopped


async def test_themes_load_broken_one_is_a_toast_and_switching_persists(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "not-a-colour"\n')
    saved: list[str] = []
    feeds: list[FakeFeed] = []

    def factory(deliver: Deliver) -> FakeFeed:
        feeds.append(FakeFeed(deliver, [summary(0, last=NOW)]))
        return feeds[-1]

    app = AgentwatchApp(
        factory,
        [],
        lambda: NOW,
        theme_dir=user,
        theme_name="high-contrast",
        save_theme=saved.append,
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert app.theme == "high-contrast"
        assert saved == []  # the start-up choice is not a change to save
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m and "colors.primary" in m for m in messages)
        app.theme = "colorblind-safe"  # what the palette's theme picker does
        await pilot.pause()
        assert saved == ["colorblind-safe"]


async def test_unknown_theme_falls_back_to_the_default_with_a_message():
    app, _ = make([summary(0, last=NOW)], theme_name="no-such-theme")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert app.theme == "agentwatch-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


async def test_palette_goes_to_a_session_by_project_name():
    app, _ = make(
        [
            summary(i, last=NOW - i, project=p)
            for i, p in enumerate(["/srv/shop-api", "/srv/blog", "/srv/payments"])
        ]
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        await pilot.press("h")  # hide idle: the target row is hidden, the palette still finds it
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"payments")
        for _ in range(20):
            await pilot.pause(0.05)
        await pilot.press("enter")
        for _ in range(10):
            await pilot.pause(0.05)
            if isinstance(app.screen, DetailScreen):
                break
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.session.project == "/srv/payments"


async def test_a_new_alert_is_a_notification_and_looping_shows_in_the_row():
    s = summary(0, last=NOW, status=SessionStatus.LOOPING)
    app, feeds = make([s])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        key = ThreadKey(Agent.CLAUDE_CODE, s.session_id)
        alert = Alert(
            alert_id="error_loop-1",
            thread=key,
            kind=AlertKind.ERROR_LOOP,
            severity=Severity.WARNING,
            started_at=NOW - 60,
            detected_at=NOW - 30,
            ended_at=None,
            reason="`npm test` failed the same way 5 times in 2 min; 300k tokens",
            tokens=300_000,
        )
        feeds[0].deliver(AlertRaised(key, s.project, alert))
        feeds[0].deliver(Snapshot((s,), Headline(0, 0.0, 0, 0.0, 0.0, 0.0, 1, NOW, alerts=1)))
        await pilot.pause()
        app.flush()
        assert any("npm test" in n.message for n in app._notifications)
        assert "1 alert" in str(app.query_one("#headline").render())
        label = app.sessions_table().get_row_at(0)[0]
        assert "looping" in label.text.plain


async def test_detail_shows_recent_calls_changed_files_and_alert_evidence():
    s = summary(0, last=NOW, status=SessionStatus.LOOPING)
    key = ThreadKey(Agent.CLAUDE_CODE, s.session_id)
    alert = Alert(
        alert_id="error_loop-2",
        thread=key,
        kind=AlertKind.ERROR_LOOP,
        severity=Severity.CRITICAL,
        started_at=NOW - 600,
        detected_at=NOW - 560,
        ended_at=None,
        reason="`pytest -q` failed the same way 40 times in 10 min; 2.1M tokens",
        tokens=2_100_000,
        evidence={"count": 40, "call": "`pytest -q`"},
    )
    extras = SessionExtras(
        ((NOW - 20, "Bash", "pytest -q", False), (NOW - 10, "Read", "src/cart.py", True)),
        ("src/cart.py",),
        (alert,),
    )
    app, feeds = make([s])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        feeds[0].deliver(Snapshot((s,), HEAD, extras={s.session_id: extras}))
        await pilot.pause()
        app.flush()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        alerts = str(app.screen.query_one("#alerts").render())
        assert "failed the same way 40 times" in alerts
        assert "count=40" in alerts
        recent = str(app.screen.query_one("#recent").render())
        assert "ERR Bash pytest -q" in recent
        assert "src/cart.py" in recent


async def test_the_alert_panel_lists_open_alerts_worst_first_and_hides_when_they_end():
    import dataclasses  # noqa: PLC0415

    from agentwatch.ui.widgets.alerts import AlertsPanel  # noqa: PLC0415

    a, b = summary(0, last=NOW, project="/w/shop-api"), summary(1, last=NOW, project="/w/blog")
    app, feeds = make([a, b])

    def alert(s: SessionSummary, aid: str, sev: Severity, reason: str) -> Alert:
        key = ThreadKey(Agent.CLAUDE_CODE, s.session_id)
        return Alert(aid, key, AlertKind.ERROR_LOOP, sev, NOW - 600, NOW - 500, None, reason, 1)

    warn = alert(a, "w", Severity.WARNING, "`npm test` failed the same way 5 times")
    crit = alert(b, "c", Severity.CRITICAL, "read src/big.py 9 times, no edit")
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        panel = app.query_one(AlertsPanel)
        assert not panel.display  # nothing open: no panel
        extras = {
            a.session_id: SessionExtras((), (), (warn,)),
            b.session_id: SessionExtras((), (), (crit,)),
        }
        feeds[0].deliver(Snapshot((a, b), HEAD, extras=extras))
        await pilot.pause()
        app.flush()
        text = str(panel.render())
        assert panel.display
        assert "Alerts (2)" in text
        assert text.index("critical") < text.index("warning")  # worst first
        assert "blog" in text
        assert "shop-api" in text
        assert "10m" in text  # open for ten minutes
        await pilot.press("a")
        assert not panel.display
        await pilot.press("a")
        assert panel.display
        ended = dataclasses.replace(crit, ended_at=NOW)
        feeds[0].deliver(
            Snapshot((b,), HEAD, extras={b.session_id: SessionExtras((), (), (ended,))})
        )
        await pilot.pause()
        app.flush()
        assert "Alerts (1)" in str(panel.render())
        assert "blog" not in str(panel.render())


async def test_keys_typed_in_one_burst_after_slash_land_in_the_filter():
    from textual import events  # noqa: PLC0415
    from textual.widgets import Input  # noqa: PLC0415

    sessions = [summary(i, last=NOW - i, project=p) for i, p in enumerate(["/w/shop", "/w/blog"])]
    app, _ = make(sessions)
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        # One read from the terminal: every key is queued before the first is handled.
        for key, char in [("slash", "/"), ("s", "s"), ("h", "h"), ("o", "o")]:
            app.post_message(events.Key(key, char))
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#filter", Input).value == "sho"
        assert rows(app) == [session_key(sessions[0])]
        assert app.sessions_table().sort_by == "last"  # `o` did not reach the table
        await pilot.press("slash")  # in the box, `/` is text (paths have slashes)
        assert app.query_one("#filter", Input).value == "sho/"


async def test_a_cold_scan_preview_fills_the_table_while_history_loads():
    from agentwatch.infra.feed import Progress  # noqa: PLC0415

    recent, old = summary(0, last=NOW - 5), summary(1, last=NOW - 86400 * 30)

    class ColdScan(FakeFeed):
        def start(self) -> None:  # nothing indexed: the first snapshot comes much later
            pass

    feeds: list[ColdScan] = []
    app = AgentwatchApp(
        lambda deliver: feeds.append(ColdScan(deliver, [])) or feeds[-1],  # type: ignore[arg-type]
        [Path("/home/u/.claude/projects")],
        lambda: NOW,
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        [feed] = feeds
        assert not app.loaded
        feed.deliver(Progress(10, 100, 5_000_000))
        await pilot.pause()
        assert "reading logs: 10/100" in str(app.query_one("#headline").render())
        feed.deliver(Snapshot((recent,), HEAD, first=True, provisional=True))
        feed.deliver(Progress(60, 100, 90_000_000))
        await pilot.pause()
        assert rows(app) == [session_key(recent)]  # the recent session shows already
        head = str(app.query_one("#headline").render())
        assert "today" in head
        assert "reading logs: 60/100" in head
        feed.deliver(Snapshot((recent, old), HEAD, first=True))
        await pilot.pause()
        assert rows(app) == [session_key(recent), session_key(old)]
        assert "reading" not in str(app.query_one("#headline").render())


async def test_detail_shows_the_mapped_process_or_says_there_is_none():
    from agentwatch.core.procs import AgentProcess, Confidence, ProcStatus, SessionMatch  # noqa: PLC0415
    from agentwatch.infra.feed import Processes  # noqa: PLC0415

    a, b = summary(0, last=NOW), summary(1, last=NOW - 10)
    proc = AgentProcess(
        4242, Agent.CLAUDE_CODE, "claude", ("claude", "--resume", a.session_id), "/w", "dev",
        NOW - 3600, 12.0, 300 * 2**20, (4300, 4301), ProcStatus.SLEEPING, "pts/3", False,
        SessionMatch(a.session_id, Confidence.EXACT, "argv"),
    )  # fmt: skip
    app, feeds = make([a, b])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        feeds[0].deliver(Processes((proc,)))
        await pilot.pause()
        await pilot.press("enter")  # the newest row: session a
        await pilot.pause()
        text = str(app.screen.query_one("#process").render())
        assert "pid 4242" in text
        assert "2 child processes" in text
        assert "mapping exact (argv)" in text
        assert "--resume" in text
        await pilot.press("escape", "down", "enter")
        await pilot.pause()
        assert "none running is mapped" in str(app.screen.query_one("#process").render())


async def test_any_column_sorts_from_its_header_and_again_reverses():
    from textual.widgets import DataTable  # noqa: PLC0415

    a = summary(0, last=NOW - 50, cost=5.0, project="/w/zeta", subs=1)
    b = summary(1, last=NOW - 10, cost=1.0, project="/w/alpha", subs=3)
    app, _ = make([a, b])
    async with app.run_test(size=(160, 45)) as pilot:
        await loaded(pilot)
        table = app.sessions_table()

        async def click(key: str) -> list[str]:
            col = table.columns[key]  # type: ignore[index]
            index = list(table.columns).index(key)  # type: ignore[arg-type]
            table.post_message(DataTable.HeaderSelected(table, col.key, index, col.label))
            await pilot.pause()
            return [r for r in rows(app) if r.startswith("s|")]

        assert await click("subs") == [session_key(b), session_key(a)]  # most first
        assert await click("subs") == [session_key(a), session_key(b)]  # again: reversed
        assert await click("project") == [session_key(b), session_key(a)]  # alpha first
        assert table.sort_by == "project"
        await pilot.press("o")  # `o` goes on cycling from a header sort
        assert table.sort_by == "started"
        await click("subs")
        await pilot.press("o")  # ...and from a column it does not cycle through
        assert table.sort_by == "last"
        await app.run_action("sort_by('cost')")  # what the palette runs
        await pilot.pause()
        assert [r for r in rows(app) if r.startswith("s|")] == [session_key(a), session_key(b)]
