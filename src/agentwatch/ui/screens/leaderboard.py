"""The leaderboard screen: the live view's sessions ranked by tokens, next to what they produced."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from agentwatch.core.alerts import Alert
from agentwatch.core.leaderboard import MIN_LINES, MIN_TOKENS, Board, By, Title, board
from agentwatch.core.leaderboard_input import from_summaries
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.export import leaderboard as cells
from agentwatch.ui.widgets.keybar import KeyBar
from agentwatch.ui.widgets.sessions import session_key

PERIODS: tuple[tuple[str, float | None], ...] = (
    ("24h", 86400.0),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
    ("all", None),
)
"""Which sessions the board covers, by last activity; `p` cycles (7 days first, as the command)."""
Sessions = Callable[[], Sequence[SessionSummary]]
Alerts = Callable[[], Mapping[str, Sequence[Alert]]]


class LeaderboardScreen(Screen[None]):
    """Ranks the sessions on screen by tokens, with what they produced and the titles."""

    CSS_PATH = "leaderboard.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,L", "app.pop_screen", "Back"),
        Binding("b", "cycle_by", "By session/project/model"),
        Binding("p", "cycle_period", "Period"),
        Binding("r", "refresh_board", "Refresh"),
    ]

    def __init__(self, sessions: Sessions, alerts: Alerts, clock: Callable[[], float]) -> None:
        super().__init__()
        self.sessions = sessions
        self.alerts = alerts
        self.clock = clock
        self.by = By.SESSION
        self.period = 1
        self.board: Board | None = None
        """The board on screen (None until the first one is built)."""
        self._summaries: dict[str, SessionSummary] = {}

    def compose(self) -> ComposeResult:
        yield Static("Leaderboard: ranking…", id="lb-heading")
        yield DataTable(id="lb-rows", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="lb-bottom"):
            yield Static("", id="lb-titles")
            yield Static("", id="lb-legend")
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_refresh_board()

    # ---- actions ------------------------------------------------------------------------------
    def action_cycle_by(self) -> None:
        order = list(By)
        self.by = order[(order.index(self.by) + 1) % len(order)]
        self.action_refresh_board()

    def action_cycle_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.action_refresh_board()

    def action_refresh_board(self) -> None:
        """Rank a copy of what the live view holds now, off the UI thread."""
        now = self.clock()
        span = PERIODS[self.period][1]
        since = None if span is None else now - span
        chosen = [
            s
            for s in self.sessions()
            if since is None or (s.last_activity_at is not None and s.last_activity_at >= since)
        ]
        alerts = {k: tuple(v) for k, v in self.alerts().items()}
        self._summaries = {s.session_id: s for s in chosen}
        self._rank(chosen, alerts, self.by, since)

    @work(thread=True, exclusive=True, exit_on_error=False, group="leaderboard")
    def _rank(
        self,
        chosen: list[SessionSummary],
        alerts: dict[str, tuple[Alert, ...]],
        by: By,
        since: float | None,
    ) -> None:
        b = board(from_summaries(chosen, alerts), by, since=since)
        self.app.call_from_thread(self._show, b)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a session row opens that session's detail."""
        s = self._summaries.get(str(event.row_key.value))
        go = getattr(self.app, "go_to_session", None)
        if self.by is By.SESSION and s is not None and go is not None:
            go(session_key(s))

    # ---- drawing ------------------------------------------------------------------------------
    def _show(self, b: Board) -> None:
        self.board = b
        name, span = PERIODS[self.period]
        what = "all sessions" if span is None else f"active in the last {name}"
        self.query_one("#lb-heading", Static).update(
            f"[b]Leaderboard[/b] by {b.by} · {what} · {len(b.rows)} rows · whole sessions"
        )
        table = self.query_one("#lb-rows", DataTable)
        cols = cells.columns(b.by)
        if all(r.idle_tokens is None for r in b.rows):  # the live view cannot tell idle burn
            cols = [c for c in cols if c.title != "Idle"]
        width = max(40, self.size.width - 4)
        cols, widths, flex = cells.fit(cols, list(b.rows), width, 28 if b.by is By.MODEL else 30)
        table.clear(columns=True)
        for c, w in zip(cols, widths, strict=True):
            table.add_column(c.title, width=flex if c.flex else w)
        for r in b.rows:
            row = [Text(c.cell(r, flex), justify="right" if c.right else "left") for c in cols]
            table.add_row(*row, key=r.key)
        self.query_one("#lb-titles", Static).update(_titles_text(b.titles))
        self.query_one("#lb-legend", Static).update(
            "Tok/line: tokens per changed line. Cache: cache_read / (input + cache_read + "
            "cache_write). 'loop' in Alerts: an open or critical loop alert, so no honest title. "
            f"Honest titles need {MIN_LINES}+ changed lines; ratio titles "
            f"{MIN_TOKENS:,}+ tokens. Idle burn needs the log history: "
            "`agentwatch leaderboard` has it."
        )


def _titles_text(titles: Sequence[Title]) -> str:
    lines: list[str] = []
    for honest, head in ((False, "Familiar titles"), (True, "Honest titles")):
        lines.append(f"[b]{head}[/b]")
        for t in titles:
            if t.rule.honest is not honest:
                continue
            if t.winner is None:
                lines.append(f"  {t.rule.name}: [dim]nobody ({escape(t.note or '')})[/dim]")
            else:
                who = escape(cells.label(t.winner, 30))
                lines.append(f"  {t.rule.name}: [b]{who}[/b]  {escape(cells.figure(t))}")
    return "\n".join(lines)
