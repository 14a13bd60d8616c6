"""The session detail screen: timeline, models, sub-agents, activity and files."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from agentwatch.core.summary import SessionSummary
from agentwatch.infra.feed import SessionExtras
from agentwatch.ui import format as fmt
from agentwatch.ui.widgets.sessions import fmt_model


class DetailScreen(Screen[None]):
    """One session in depth."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("k", "app.kill", "Kill"),
        Binding("s", "app.suspend", "Suspend/resume"),
        Binding("e", "app.export", "Export"),
    ]

    def __init__(
        self, session: SessionSummary, now: float, extras: SessionExtras | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.now = now
        self.extras = extras

    def compose(self) -> ComposeResult:
        s = self.session
        t = s.total.tokens
        with VerticalScroll(id="detail"):
            yield Static(
                f"[b]{s.project or '-'}[/b]  {s.agent}  session {s.session_id}\n"
                f"{fmt.MARKERS[s.status][0]} {s.status}   started "
                f"{fmt.clock_time(s.started_at, self.now)}   last "
                f"{fmt.clock_time(s.last_activity_at, self.now)}   version {s.version or '?'}",
                id="detail-title",
            )
            yield Static(
                f"tokens {t.total:,}  (input {t.input:,}  output {t.output:,}  cache write "
                f"{t.cache_write:,} of which 1h {t.cache_write_1h:,}  cache read {t.cache_read:,})"
                f"   cost {fmt.cost(s.total)}"
                + (
                    "\n[i]output is a lower bound for this agent version[/i]"
                    if s.output_lower_bound
                    else ""
                ),
                id="detail-totals",
            )
            yield Static("Tokens per minute, last hour", classes="section")
            yield Sparkline(self._series(60), id="timeline")
            with Horizontal(id="detail-tables"):
                yield DataTable(id="models", cursor_type="none")
                yield DataTable(id="subagents", cursor_type="none")
            yield Static(
                f"tool calls {s.tool_calls:,}   errors {s.tool_errors:,}   files changed "
                f"{s.files_changed:,}   lines +{s.lines_added:,} -{s.lines_removed:,}",
                classes="section",
            )
            yield Static(self._alerts_text(), id="alerts", classes="section")
            yield Static(self._recent_text(), id="recent", classes="muted")
            yield Static("Log files:\n" + "\n".join(s.files), id="files", classes="muted")
        yield Footer()

    def _alerts_text(self) -> str:
        alerts = self.extras.alerts if self.extras else ()
        if not alerts:
            return "No loop alerts."
        lines = ["Loop alerts:"]
        for a in alerts:
            state = "active" if a.ended_at is None else "ended"
            lines.append(f"  [b]{a.kind}[/b] ({a.severity}, {state}) {escape(a.reason)}")
            ev = ", ".join(f"{k}={v}" for k, v in a.evidence.items() if not k.endswith("_at"))
            if ev:
                lines.append(f"    [dim]{escape(ev[:300])}[/dim]")
        return "\n".join(lines)

    def _recent_text(self) -> str:
        if not self.extras or not (self.extras.recent or self.extras.changed):
            return "Recent tool calls and changed files appear here while the session runs."
        lines = ["Recent tool calls:"]
        for ts, name, target, ok in reversed(self.extras.recent):
            mark = "ok " if ok else "ERR"
            when = time.strftime("%H:%M:%S", time.localtime(ts))
            lines.append(f"  {when} {mark} {escape(name)} {escape((target or '')[:100])}")
        if self.extras.changed:
            lines.append("Files changed:")
            lines.extend(f"  {escape(p)}" for p in reversed(self.extras.changed))
        return "\n".join(lines)

    def _series(self, minutes: int) -> list[float]:
        last = int(self.now // 60)
        pm = self.session.total.per_minute
        return [float(pm.get(m, 0)) for m in range(last - minutes + 1, last + 1)]

    def on_mount(self) -> None:
        models = self.query_one("#models", DataTable)
        models.add_columns("Model", "Tokens", "Cost")
        acc = self.session.total
        for m in acc.models:
            c = acc.cost_by_model.get(m)
            models.add_row(
                fmt_model(m),
                f"{acc.by_model[m].total:,}",
                "unpriced" if c is None else f"${c:,.2f}",
            )
        subs = self.query_one("#subagents", DataTable)
        subs.add_columns("Sub-agent", "Type", "Tokens", "Cost")
        for sub in self.session.subagents:
            subs.add_row(
                sub.agent_id,
                sub.agent_type or "-",
                f"{sub.account.tokens.total:,}",
                fmt.cost(sub.account),
            )
        self.sub_title = time.strftime("%H:%M:%S", time.localtime(self.now))
