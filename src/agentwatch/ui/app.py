"""The Textual app: composition, bindings and routing. The data comes from an injected feed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.widgets import Input, Static

from agentwatch.core.events import GuardEvent, WarningEvent
from agentwatch.core.guard import LoopGuard
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.config import save_theme
from agentwatch.infra.feed import (
    AlertRaised,
    Deliver,
    Feed,
    Headline,
    Processes,
    Progress,
    SessionExtras,
    Snapshot,
    Update,
)
from agentwatch.infra.workspace import Workspace
from agentwatch.ui import format as fmt
from agentwatch.ui.commands import ActionCommands, SessionCommands
from agentwatch.ui.export_action import ExportActions
from agentwatch.ui.messages import FeedUpdate
from agentwatch.ui.process_actions import ProcessActions
from agentwatch.ui.screens.detail import DetailScreen
from agentwatch.ui.screens.help import HelpScreen
from agentwatch.ui.themes import APP_VARIABLES, DEFAULT_THEME, load_all
from agentwatch.ui.widgets.alerts import AlertRow, AlertsPanel
from agentwatch.ui.widgets.keybar import KeyBar
from agentwatch.ui.widgets.sessions import SORTS, SessionsTable, session_key

FLUSH_INTERVAL = 0.25
"""Seconds between table refreshes: updates are coalesced into at most four a second."""
MAX_FLUSH_INTERVAL = 2.0
"""The slowest refresh under load: the app backs off rather than eat a core."""
CPU_BUDGET = 0.10
"""Share of one core the app aims to stay under; above it, refreshes slow down."""

STATUS_VARIABLES = {
    SessionStatus.ACTIVE: "aw-active",
    SessionStatus.IDLE: "aw-idle",
    SessionStatus.LOOPING: "aw-looping",
    SessionStatus.SUSPENDED: "aw-suspended",
    SessionStatus.ENDED: "aw-ended",
}


class FeedLike(Protocol):
    """What the app needs from a feed (the real one, or a test's fake)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


FeedFactory = Callable[[Deliver], FeedLike]


class AgentwatchApp(ExportActions, ProcessActions, App[None]):
    """Live sessions, sub-agents and costs."""

    CSS_PATH = "agentwatch.tcss"
    TITLE = "agentwatch"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = App.COMMANDS | {
        SessionCommands,
        ActionCommands,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "detail", "Detail", show=False),
        # priority: handled the moment it is read, so the keys typed after it reach the box
        Binding("slash", "filter", "Filter", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("o", "sort", "Sort"),
        Binding("O", "reverse", "Reverse", show=False),
        Binding("g", "group", "Group"),
        Binding("h", "hide_idle", "Hide idle"),
        Binding("k", "kill", "Kill", show=False),
        Binding("s", "suspend", "Suspend", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("E", "export_view", "Export view", show=False),
        Binding("a", "toggle_alerts", "Alerts", show=False),
        Binding("L", "leaderboard", "Leaderboard", show=False),
        Binding("d", "demo", "Demo", show=False),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        feed: FeedFactory,
        searched: list[Path],
        clock: Callable[[], float],
        flush_interval: float = FLUSH_INTERVAL,
        theme_dir: Path | None = None,
        theme_name: str = DEFAULT_THEME,
        save_theme: Callable[[str], None] | None = None,
        banner: str | None = None,
        offer_demo: bool = False,
    ) -> None:
        super().__init__()
        self.banner = banner
        """A line above everything (the demo says what it is)."""
        self.offer_demo = offer_demo
        """The empty state offers the demo (`d`); the caller runs it once `demo_requested`."""
        self.demo_requested = False
        self._theme_dir = theme_dir
        self._theme_name = theme_name
        self._save_theme = save_theme
        self._theme_loaded = False
        self.bell_on_alert = False
        """Ring the terminal bell on a new alert (config: `bell = true`)."""
        self._feed_factory = feed
        self._feed: FeedLike | None = None
        self.searched = searched
        self.clock = clock
        self.flush_interval = flush_interval
        self._interval = flush_interval
        self._cpu_mark = (time.process_time(), time.monotonic())
        self.pending: dict[str, SessionSummary] = {}
        self.extras: dict[str, SessionExtras] = {}
        """Recent tool calls, changed files and alerts by session id (for the detail screen)."""
        self.headline: Headline | None = None
        self.loaded = False
        self.loading = ""
        """Said in the headline while a cold scan reads older history behind a preview."""
        self.flushes = 0

    # ---- composition --------------------------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLES)

    def compose(self) -> ComposeResult:
        if self.banner:
            yield Static(self.banner, id="banner", markup=False)
        yield Static("agentwatch  loading…", id="headline")
        yield Input(placeholder="filter: project, session, model…", id="filter")
        yield SessionsTable(self._status_styles, id="sessions")
        yield AlertsPanel(id="alerts")
        yield Static("", id="empty")
        yield KeyBar()

    def _load_themes(self) -> None:
        themes, errors = load_all(self._theme_dir)
        for theme in themes:
            self.register_theme(theme)
        for message in errors:
            self.notify(f"theme not loaded: {message}", severity="warning", timeout=10)
        wanted = self._theme_name
        if wanted not in self.available_themes:
            self.notify(f"unknown theme {wanted!r}; using {DEFAULT_THEME}", severity="warning")
            wanted = DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        self._theme_loaded = True

    def watch_theme(self, name: str) -> None:
        """Persist a theme chosen from the palette (not the one set at start-up)."""
        if self._theme_loaded and self._save_theme is not None:
            try:
                self._save_theme(name)
            except OSError as exc:
                self.notify(f"could not save the theme choice: {exc}", severity="warning")
        tables = self.query(SessionsTable)
        if tables:
            tables.first().refilter()  # status colours come from the theme

    def on_mount(self) -> None:
        self._load_themes()
        self.query_one("#filter", Input).display = False
        self.query_one("#empty", Static).display = False
        table = self.query_one(SessionsTable)
        table.fit_columns(self.size.width)
        table.focus()
        self._feed = self._feed_factory(self._deliver)
        self._feed.start()
        self._arm()

    def _arm(self) -> None:
        # A one-shot timer re-armed after each flush: flushes never overlap, and the interval
        # adapts to how much CPU the last ones cost (repaints of a big table are not cheap).
        self.set_timer(self._interval, self._timed_flush)

    def _timed_flush(self) -> None:
        if not self.query(SessionsTable):
            return  # shutting down: the screen is gone, and so is the timer chain
        self.flush()
        cpu, wall = time.process_time(), time.monotonic()
        used = (cpu - self._cpu_mark[0]) / max(1e-3, wall - self._cpu_mark[1])
        self._cpu_mark = (cpu, wall)
        if used > CPU_BUDGET:
            self._interval = min(MAX_FLUSH_INTERVAL, self._interval * 1.5)
        elif used < CPU_BUDGET / 2:
            self._interval = max(self.flush_interval, self._interval / 1.5)
        self._arm()

    def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()

    def _status_styles(self) -> dict[SessionStatus, str]:
        variables = self.theme_variables
        return {s: variables.get(v, APP_VARIABLES[v]) for s, v in STATUS_VARIABLES.items()}

    # ---- data in ------------------------------------------------------------------------------
    def _deliver(self, update: Update) -> None:
        """Called on the feed's threads: the message is the only thing that crosses."""
        self.post_message(FeedUpdate(update))

    def on_feed_update(self, message: FeedUpdate) -> None:
        u = message.update
        if isinstance(u, Snapshot):
            for s in u.sessions:
                self.pending[session_key(s)] = s
            self.extras.update(u.extras or {})
            self.headline = u.headline
            if u.first:
                self.loading = "reading older history…" if u.provisional else ""
                self.loaded = True
                self.flush()
        elif isinstance(u, Progress):
            text = (
                f"reading logs: {u.files_done:,}/{u.files_total:,} files, "
                f"{u.bytes_done / 1e6:,.0f} MB"
            )
            if self.loaded:  # the recent sessions show already; history is still coming
                self.loading = text
                self._show_headline(self.clock())
            else:
                self.query_one("#headline", Static).update(f"agentwatch  {text}")
        elif isinstance(u, WarningEvent):
            self.notify(u.message, severity="warning", timeout=8)
        elif isinstance(u, GuardEvent):
            self.notify(
                u.message,
                title=f"On-loop guard: {u.action}",
                severity="information" if u.ok else "error",
                timeout=30,
            )
            if self.bell_on_alert:
                self.bell()
        elif isinstance(u, AlertRaised):
            a = u.alert
            where = u.project or u.session.session_id[:8]
            self.notify(
                f"{where}: {a.reason}",
                title=f"Loop alert ({a.kind})",
                severity="error" if a.severity == "critical" else "warning",
                timeout=15,
            )
            if self.bell_on_alert:
                self.bell()
        elif isinstance(u, Processes) and self.query(SessionsTable):
            self.sessions_table().set_processes(
                {p.session.session_id: p for p in u.processes if p.session.session_id}
            )

    def flush(self) -> None:
        """Apply what arrived since the last flush, as cell updates, in one repaint."""
        if not self.loaded or not self.query(SessionsTable):
            return
        table = self.query_one(SessionsTable)
        now = self.clock()
        if self.pending:
            batch, self.pending = list(self.pending.values()), {}
            with self.batch_update():
                table.apply(batch, now)
            self.flushes += 1
        self._show_headline(now)
        self._show_alerts(table, now)
        empty = self.query_one("#empty", Static)
        if not table.sessions:
            empty.update(self._empty_text())
        empty.display = not table.sessions
        table.display = bool(table.sessions)

    def _show_alerts(self, table: SessionsTable, now: float) -> None:
        rows = []
        for sid, extra in self.extras.items():
            if not any(a.active for a in extra.alerts):
                continue
            s = next((x for x in table.sessions.values() if x.session_id == sid), None)
            where = os.path.basename(s.project) if s is not None and s.project else sid[:8]
            rows += [AlertRow(where, a) for a in extra.alerts if a.active]
        self.query_one(AlertsPanel).show(rows, now)

    def action_toggle_alerts(self) -> None:
        panel = self.query_one(AlertsPanel)
        panel.enabled = not panel.enabled
        panel.display = panel.enabled and panel.count > 0
        self.notify("Alert panel " + ("shown" if panel.enabled else "hidden") + ".", timeout=2)

    def _show_headline(self, now: float) -> None:
        h = self.headline
        if h is None:
            return
        age = max(0.0, now - h.updated_at)
        if self.size.width >= 120:
            text = (
                f"[b]today[/b] {fmt.compact(h.today_tokens)} tok ${h.today_cost:,.2f}   "
                f"[b]5h[/b] {fmt.compact(h.window_tokens)} tok ${h.window_cost:,.2f}   "
                f"[b]burn[/b] {fmt.compact(h.burn_tokens_per_min)} tok/min "
                f"${h.burn_usd_per_hour:,.2f}/h   [b]live[/b] {h.live_sessions}   "
                + (
                    f"[b reverse] {h.alerts} alert{'s' if h.alerts != 1 else ''} [/]   "
                    if h.alerts
                    else ""
                )
                + f"[dim]updated {age:.0f}s ago · sort {self.sessions_table().sort_by}[/dim]"
            )
        else:  # 80 columns: the same figures, shorter
            text = (
                f"[b]today[/b] {fmt.compact(h.today_tokens)} ${h.today_cost:,.2f} "
                f"[b]5h[/b] {fmt.compact(h.window_tokens)} ${h.window_cost:,.2f} "
                f"[b]burn[/b] {fmt.compact(h.burn_tokens_per_min)}/min "
                f"${h.burn_usd_per_hour:,.0f}/h [b]live[/b] {h.live_sessions}"
                + (
                    f" [b reverse] {h.alerts} alert{'s' if h.alerts != 1 else ''} [/]"
                    if h.alerts
                    else ""
                )
            )
        if self.loading:
            text += f"   [b]{self.loading}[/b]"
        self.query_one("#headline", Static).update(text)

    def _empty_text(self) -> str:
        where = "\n".join(f"  {p}" for p in self.searched) or "  (no folders)"
        return (
            "[b]No agent sessions found.[/b]\n\nSearched:\n" + where + "\n\n"
            "Point agentwatch at other folders with --claude-dir PATH (repeatable) or the "
            "CLAUDE_CONFIG_DIR environment variable. New sessions appear here as soon as an "
            "agent writes its first line."
        ) + (
            "\n\n[b]Nothing to watch yet?[/b] Press [b]d[/b] for the demo: simulated agents in a "
            "temporary folder, removed on exit (also `agentwatch demo`)."
            if self.offer_demo
            else ""
        )

    # ---- actions ------------------------------------------------------------------------------
    def sessions_table(self) -> SessionsTable:
        """The main table (for the command palette)."""
        return self.query_one(SessionsTable)

    def go_to_session(self, key: str) -> None:
        """Select a session's row and open its detail."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        table = self.sessions_table()
        if key not in table.rows and key in table.sessions:  # hidden by a filter: show all
            self.action_clear_filter()
            table.hide_idle = False
            table.refilter()
        if key in table.rows:
            table.move_cursor(row=table.get_row_index(key))
            self.action_detail()

    def action_detail(self) -> None:
        s = self.query_one(SessionsTable).current_session()
        if s is not None:
            self.push_screen(
                DetailScreen(
                    s,
                    self.clock(),
                    self.extras.get(s.session_id),
                    process=self.sessions_table().procs.get(s.session_id),
                )
            )

    def on_data_table_row_selected(self, _event: SessionsTable.RowSelected) -> None:
        self.action_detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: ARG002
        if action == "filter":  # a `/` typed into the box (or on another screen) is just a key
            boxes = self.screen.query("#filter")
            return bool(boxes) and self.focused is not boxes.first()
        return True

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # Focus now, not via `focus()`'s call_later: keys typed right after `/` (a paste, a
        # fast typist) are already queued and must land in the box, not on the table.
        self.screen.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        table = self.query_one(SessionsTable)
        table.filter_text = event.value
        table.refilter()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.query_one(SessionsTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(SessionsTable).focus()

    def on_data_table_header_selected(self, event: SessionsTable.HeaderSelected) -> None:
        self.action_sort_by(str(event.column_key.value))

    def action_sort_by(self, key: str) -> None:
        """Sort by one column (header click, palette); again reverses."""
        self.query_one(SessionsTable).sort_column(key)
        self._show_headline(self.clock())

    def action_sort(self) -> None:
        table = self.query_one(SessionsTable)
        at = SORTS.index(table.sort_by) if table.sort_by in SORTS else -1
        table.sort_by = SORTS[(at + 1) % len(SORTS)]
        table.reverse = table.sort_by != "project"
        table.resort()
        self._show_headline(self.clock())

    def action_reverse(self) -> None:
        table = self.query_one(SessionsTable)
        table.reverse = not table.reverse
        table.resort()

    def action_group(self) -> None:
        table = self.query_one(SessionsTable)
        table.group_by_project = not table.group_by_project
        table.resort()

    def action_hide_idle(self) -> None:
        table = self.query_one(SessionsTable)
        table.hide_idle = not table.hide_idle
        table.refilter()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_demo(self) -> None:
        """Leave, so the caller opens the demo (offered only while no session is found)."""
        if not self.offer_demo or not self.loaded:
            return
        if self.sessions_table().sessions:
            self.notify("The demo runs on its own: quit and run `agentwatch demo`.")
        else:
            self.demo_requested = True
            self.exit()

    def action_leaderboard(self) -> None:
        """The honest leaderboard over the sessions the live view holds."""
        from agentwatch.ui.screens.leaderboard import LeaderboardScreen  # noqa: PLC0415

        self.push_screen(
            LeaderboardScreen(
                lambda: list(self.sessions_table().sessions.values()),
                lambda: {sid: e.alerts for sid, e in self.extras.items()},
                self.clock,
            )
        )


def make_app(
    ws: Workspace,
    clock: Callable[[], float] = time.time,
    feed: FeedFactory | None = None,
    theme: str | None = None,
    guard: LoopGuard | None = None,
    **kw: Any,
) -> AgentwatchApp:
    """Build the app for the CLI (a real feed over `ws`) or for tests (an injected feed)."""
    factory: FeedFactory = feed or (lambda deliver: Feed(ws, deliver, clock, guard=guard))
    app = AgentwatchApp(
        factory,
        ws.searched,
        clock,
        theme_dir=ws.dirs.config / "themes",
        theme_name=theme or ws.settings.theme,
        save_theme=lambda name: save_theme(ws.dirs.config_file, name),
        **kw,
    )
    app.bell_on_alert = ws.settings.bell
    app.export_dir = Path(ws.settings.export_dir).expanduser() if ws.settings.export_dir else None
    return app
