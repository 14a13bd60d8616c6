"""The sessions table: rows keyed by session (and sub-agent), updated cell by cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from agentwatch.core.accounts import Account
from agentwatch.core.procs import AgentProcess, ProcStatus
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary, SubagentSummary
from agentwatch.ui import format as fmt


@dataclass(frozen=True, slots=True)
class Col:
    key: str
    title: str
    width: int
    priority: int  # lower survives longer on a narrow terminal
    right: bool = False


COLUMNS = (
    Col("status", "Status", 11, 0),
    Col("agent", "Agent", 6, 7),
    Col("project", "Project", 20, 1),
    Col("models", "Models", 14, 5),
    Col("started", "Started", 9, 8),
    Col("last", "Last", 9, 4),
    Col("input", "Input", 6, 9, True),
    Col("output", "Output", 7, 3, True),
    Col("cache_w", "Cache W", 7, 9, True),
    Col("cache_r", "Cache R", 7, 6, True),
    Col("cost", "Cost", 8, 0, True),
    Col("burn", "Tok/min", 7, 2, True),
    Col("subs", "Subs", 4, 6, True),
    Col("pid", "PID", 7, 6, True),
    Col("trend", "Trend", 8, 5),
)
SORTS = ("last", "cost", "tokens", "burn", "project", "started")
"""What `o` cycles through; a header click sorts by any column."""
TEXT_SORTS = frozenset({"project", "agent", "models", "status"})
_TOKEN_SORTS = {
    "input": "input",
    "output": "output",
    "cache_w": "cache_write",
    "cache_r": "cache_read",
}


class Label:
    """A first-column cell that remembers its row key, so sorting can find the row."""

    __slots__ = ("key", "text")

    def __init__(self, key: str, text: Text) -> None:
        self.key = key
        self.text = text

    def __rich__(self) -> Text:
        return self.text

    def __lt__(self, other: object) -> bool:  # DataTable never compares it: sort uses our key
        return isinstance(other, Label) and self.key < other.key


def session_key(s: SessionSummary) -> str:
    return f"s|{s.agent}|{s.session_id}"


def sub_key(s: SessionSummary, sub: SubagentSummary) -> str:
    return f"a|{s.agent}|{s.session_id}|{sub.agent_id}"


class SessionsTable(DataTable[Any]):
    """Sessions with their sub-agents expandable beneath them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,right", "expand", "Sub-agents"),
        Binding("left", "collapse", "Collapse", show=False),
    ]

    DEFAULT_CSS = """
    SessionsTable { height: 1fr; }
    """

    def __init__(self, status_styles: Callable[[], dict[SessionStatus, str]], **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.status_styles = status_styles
        self.sessions: dict[str, SessionSummary] = {}
        self.expanded: set[str] = set()
        self.filter_text = ""
        self.sort_by = "last"
        self.reverse = True
        self.group_by_project = False
        self.hide_idle = False
        self.columns_shown: tuple[Col, ...] = ()
        self.now = 0.0
        self._cursor_placed = False
        self.procs: dict[str, AgentProcess] = {}
        """Running agent processes by session id (from the process poller)."""

    # ---- columns ------------------------------------------------------------------------------
    def fit_columns(self, width: int) -> bool:
        """Choose columns for the width; True when they changed (the rows are rebuilt)."""
        cols = list(COLUMNS)
        while sum(c.width + 2 for c in cols) > width and len(cols) > 4:
            cols.remove(max(cols, key=lambda c: (c.priority, COLUMNS.index(c))))
        if tuple(cols) == self.columns_shown:
            return False
        self.columns_shown = tuple(cols)
        self.clear(columns=True)
        for c in cols:
            self.add_column(c.title, width=c.width, key=c.key)
        for key in list(self.sessions):
            self._place(self.sessions[key])
        self.resort()
        return True

    # ---- rows ---------------------------------------------------------------------------------
    def _visible(self, s: SessionSummary) -> bool:
        if self.hide_idle and s.status is not SessionStatus.ACTIVE:
            return False
        if not self.filter_text:
            return True
        hay = " ".join([s.session_id, str(s.agent), s.project or "", *s.models]).lower()
        return self.filter_text.lower() in hay

    def _cells(
        self,
        key: str,
        label: Text,
        project: str,
        agent: str,
        acc: Account,
        started: float | None,
        last: float | None,
        subs: str,
        status: Text,
        pid: str = "",
    ) -> dict[str, Any]:
        t = acc.tokens
        values: dict[str, Any] = {
            "status": Label(key, status),
            "agent": agent,
            "project": project or label,
            "models": ",".join(fmt_model(m) for m in acc.models) or "-",
            "started": fmt.clock_time(started, self.now),
            "last": fmt.clock_time(last, self.now),
            "input": fmt.compact(t.input),
            "output": fmt.compact(t.output),
            "cache_w": fmt.compact(t.cache_write),
            "cache_r": fmt.compact(t.cache_read),
            "cost": fmt.cost(acc),
            "burn": fmt.compact(fmt.burn(acc.per_minute, self.now)),
            "subs": subs,
            "trend": fmt.sparkline(acc.per_minute, self.now),
            "pid": pid,
        }
        for c in COLUMNS:
            if c.right:
                values[c.key] = Text(str(values[c.key]), justify="right")
        return values

    def _session_cells(self, s: SessionSummary) -> dict[str, Any]:
        key = session_key(s)
        mark = "▾ " if key in self.expanded else ("▸ " if s.subagents else "  ")
        width = next((c.width for c in self.columns_shown if c.key == "project"), 22) - 2
        project = mark + tail(s.project or s.session_id[:8], width)
        styles = self.status_styles()
        proc = self.procs.get(s.session_id)
        status = s.status
        if proc is not None and proc.status is ProcStatus.SUSPENDED:
            status = SessionStatus.SUSPENDED  # stopped on purpose: not to be mistaken for idle
        return self._cells(
            key,
            Text(project),
            project,
            AGENT_SHORT.get(str(s.agent), str(s.agent)),
            s.total,
            s.started_at,
            s.last_activity_at,
            str(len(s.subagents)),
            fmt.status(status, styles),
            str(proc.pid) if proc is not None else "",
        )

    def set_processes(self, procs: dict[str, AgentProcess]) -> None:
        """New process facts: update the rows whose pid or suspension changed."""
        old, self.procs = self.procs, procs
        changed = {
            sid
            for sid in old.keys() | procs.keys()
            if (old.get(sid) is None) != (procs.get(sid) is None)
            or (
                sid in old
                and sid in procs
                and (old[sid].pid, old[sid].status) != (procs[sid].pid, procs[sid].status)
            )
        }
        for s in self.sessions.values():
            if s.session_id in changed:
                self._place(s)

    def _sub_cells(self, s: SessionSummary, sub: SubagentSummary, last: bool) -> dict[str, Any]:
        what = ("compaction" if sub.agent_type == "compact" else sub.agent_type) or "sub-agent"
        desc = f" {sub.description}" if sub.description else ""
        label = f"   {'└' if last else '├'} {what}:{desc} ({sub.agent_id})"
        return self._cells(
            sub_key(s, sub),
            Text(label, style="dim"),
            label,
            "",
            sub.account,
            sub.first_ts,
            sub.last_ts,
            "",
            Text("  ↳", style="dim"),
        )

    def _row(self, key: str, cells: dict[str, Any]) -> None:
        values = [cells[c.key] for c in self.columns_shown]
        if key in self.rows:
            for c, v in zip(self.columns_shown, values, strict=True):
                if self.get_cell(key, c.key) != v and not _same(self.get_cell(key, c.key), v):
                    self.update_cell(key, c.key, v)
        else:
            self.add_row(*values, key=key)

    def _drop(self, key: str) -> None:
        if key in self.rows:
            self.remove_row(key)

    def _place(self, s: SessionSummary) -> None:
        key = session_key(s)
        subs = [sub_key(s, x) for x in s.subagents]
        if not self._visible(s):
            for k in (key, *subs):
                self._drop(k)
            return
        self._row(key, self._session_cells(s))
        if key in self.expanded:
            for i, sub in enumerate(s.subagents):
                self._row(sub_key(s, sub), self._sub_cells(s, sub, i == len(s.subagents) - 1))
        else:
            for k in subs:
                self._drop(k)

    def apply(self, sessions: list[SessionSummary], now: float) -> None:
        """Take new summaries; update only their rows, keep the cursor on its row."""
        self.now = now
        for s in sessions:
            self.sessions[session_key(s)] = s
            self._place(s)
        self.resort()

    def refilter(self) -> None:
        """Show or hide rows after the filter or the idle toggle changed."""
        for s in self.sessions.values():
            self._place(s)
        self.resort()

    def on_resize(self, event: events.Resize) -> None:
        """Refit the columns to the new width (drop by priority; nothing wraps)."""
        self.fit_columns(event.size.width)

    def action_expand(self) -> None:
        """Show the sub-agents of the session under the cursor."""
        key = self.current_session_key()
        if key is not None and key not in self.expanded:
            self.toggle(key)

    def action_collapse(self) -> None:
        """Hide them again (from a sub-agent row too)."""
        key = self.current_session_key()
        if key is not None and key in self.expanded:
            self.toggle(key)
            if key in self.rows:
                self.move_cursor(row=self.get_row_index(key), animate=False)

    def toggle(self, key: str | None = None) -> None:
        """Expand or collapse the sub-agents of the session under the cursor."""
        key = key or self.current_session_key()
        if key is None or key not in self.sessions:
            return
        self.expanded ^= {key}
        self._place(self.sessions[key])
        self.resort()

    # ---- cursor and order ---------------------------------------------------------------------
    def current_key(self) -> str | None:
        if not self.rows or self.cursor_row < 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 (an empty or shrinking table)
            return None

    def current_session_key(self) -> str | None:
        key = self.current_key()
        if key is None:
            return None
        if key.startswith("a|"):
            _, agent, sid, _ = key.split("|", 3)
            return f"s|{agent}|{sid}"
        return key

    def current_session(self) -> SessionSummary | None:
        key = self.current_session_key()
        return self.sessions.get(key) if key else None

    def _order(self, s: SessionSummary) -> tuple[Any, ...]:
        by = self.sort_by
        t = s.total.tokens
        value: Any
        if by == "cost":
            value = s.total.cost_usd or 0.0
        elif by == "tokens":
            value = t.total
        elif by in ("burn", "trend"):
            value = fmt.burn(s.total.per_minute, self.now)
        elif by == "project":
            value = (s.project or "").lower()
        elif by == "started":
            value = s.started_at or 0.0
        elif by in _TOKEN_SORTS:
            value = getattr(t, _TOKEN_SORTS[by])
        elif by == "status":
            value = str(s.status)
        elif by == "agent":
            value = str(s.agent)
        elif by == "models":
            value = ",".join(s.models).lower()
        elif by == "subs":
            value = len(s.subagents)
        elif by == "pid":
            p = self.procs.get(s.session_id)
            value = p.pid if p is not None else 0
        else:
            value = s.last_activity_at or 0.0
        return (value, s.session_id)

    def sort_column(self, key: str) -> None:
        """Sort by a column (a header click): the same column again reverses the order;
        text columns start A to Z, figures and times biggest or newest first."""
        if key == self.sort_by:
            self.reverse = not self.reverse
        else:
            self.sort_by = key
            self.reverse = key not in TEXT_SORTS
        self.resort()

    def resort(self) -> None:
        """Order rows (sub-agents under their session) and keep the cursor on the same row."""
        keep = self.current_key() if self._cursor_placed else None
        ranked = sorted(self.sessions.values(), key=self._order, reverse=self.reverse)
        if self.group_by_project:
            ranked.sort(key=lambda s: (s.project or "").lower())
        pos: dict[str, tuple[int, int]] = {}
        for i, s in enumerate(ranked):
            pos[session_key(s)] = (i, -1)
            for j, sub in enumerate(s.subagents):
                pos[sub_key(s, sub)] = (i, j)
        first = self.columns_shown[0].key if self.columns_shown else None
        if first is None or not self.rows:
            return
        order = sorted(self.rows, key=lambda k: pos.get(str(k.value), (1 << 30, 0)))
        if not all(self.get_row_index(k) == i for i, k in enumerate(order)):
            self.sort(first, key=lambda label: pos.get(label.key, (1 << 30, 0)))
        # (when nothing moved there is no re-sort, so no full repaint)
        if keep is not None and keep in self.rows:
            if self.get_row_index(keep) != self.cursor_row:
                self.move_cursor(row=self.get_row_index(keep), animate=False, scroll=False)
        elif not self._cursor_placed:
            self.move_cursor(row=0, animate=False)  # first fill: start at the top
            self._cursor_placed = True


AGENT_SHORT = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}


def fmt_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `sonnet-4-5`."""
    m = model.removeprefix("claude-")
    parts = m.split("-")
    if len(parts) > 1 and parts[-1].isdigit() and len(parts[-1]) == 8:
        parts = parts[:-1]
    return "-".join(parts)


def tail(path: str, width: int) -> str:
    """The end of a path that fits (the project name matters more than its parents)."""
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Label) and isinstance(b, Label):
        return a.key == b.key and a.text == b.text
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style
    return bool(a == b)
