"""The session detail screen: timeline, models, sub-agents, activity, context and files."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static
from textual.worker import Worker, WorkerState

from agentwatch.core.alerts import AlertKind, fmt_tokens
from agentwatch.core.context import Attribution, reread_tokens
from agentwatch.core.procs import AgentProcess
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.applog import LOG
from agentwatch.infra.context import (
    SUPPORTED,
    ContextReport,
    ContextTracker,
    describe,
    logs_from_paths,
)
from agentwatch.infra.feed import SessionExtras
from agentwatch.infra.tokenizer import TokenizerError
from agentwatch.ui import format as fmt
from agentwatch.ui.widgets.keybar import KeyBar
from agentwatch.ui.widgets.sessions import fmt_model

CONTEXT_REFRESH = 2.0
"""Seconds between context re-reads while the session is live (only appended bytes are read)."""

ContextFactory = Callable[[SessionSummary], ContextTracker | str]
"""Builds a session's context tracker, or says in one line why there is none."""


def default_context(s: SessionSummary) -> ContextTracker | str:
    """A tracker over the session's log files that still exist (a few stat calls)."""
    if s.agent not in SUPPORTED:
        return f"Context estimates are not available for {s.agent} yet."
    logs = [f for f in logs_from_paths(s.agent, s.session_id, s.files) if os.path.exists(f.path)]
    if not logs:
        return "No log file of this session is left to read."
    return ContextTracker(s.agent, logs)


class DetailScreen(Screen[None]):
    """One session in depth."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("k", "app.kill", "Kill"),
        Binding("s", "app.suspend", "Suspend/resume"),
        Binding("e", "app.export", "Export"),
    ]

    def __init__(
        self,
        session: SessionSummary,
        now: float,
        extras: SessionExtras | None = None,
        context: ContextFactory = default_context,
        process: AgentProcess | None = None,
    ) -> None:
        super().__init__()
        self.process = process
        """The agent process running the session, when one is mapped to it."""
        self.session = session
        self.now = now
        self.extras = extras
        self._make_context = context
        self.context_refresh = CONTEXT_REFRESH
        """Seconds between context re-reads while the session is live."""
        self._tracker: ContextTracker | None = None
        self._reading = False
        self._again = False
        self.attribution: Attribution | None = None
        """The latest context estimates, once the first have been made."""

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
            yield Static(self._process_text(), id="process", classes="muted")
            yield Static("Context (est.)", classes="section")
            yield Static("", id="context", classes="muted")
            yield Static("Log files:\n" + "\n".join(s.files), id="files", classes="muted")
        yield KeyBar()

    def _process_text(self) -> str:
        p = self.process
        if p is None:
            return "[b]Process[/b]  none running is mapped to this session (see `agentwatch ps`)"
        cmd = " ".join(p.cmdline) or p.name
        kids = len(p.children)
        wait = "   waiting at its terminal" if p.waiting_on_terminal else ""
        return (
            f"[b]Process[/b]  pid {p.pid}   {p.status}{wait}   cpu {p.cpu_percent:.0f}%   "
            f"rss {p.rss_bytes / 2**20:,.0f} MiB   {kids} child process{'es' if kids != 1 else ''}"
            f"   mapping {p.session.mapping}"
            + (f" ({p.session.source})" if p.session.source else "")
            + f"\n{escape(cmd[:300])}"
        )

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
            files = a.evidence.get("files")
            if a.kind is AlertKind.REREAD_LOOP and self.attribution and isinstance(files, dict):
                est = reread_tokens(self.attribution, files)
                if est is not None:
                    said = f"the re-reads put ~{fmt_tokens(est)} tokens est. into the context"
                    lines.append(f"    [dim]{said}[/dim]")
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
        subs.add_column("Output", key="output")
        for sub in self.session.subagents:
            subs.add_row(
                sub.agent_id,
                sub.agent_type or "-",
                f"{sub.account.tokens.total:,}",
                fmt.cost(sub.account),
                f"{sub.account.tokens.output:,}",
                key=sub.agent_id,
            )
        self.sub_title = time.strftime("%H:%M:%S", time.localtime(self.now))
        made = self._make_context(self.session)
        box = self.query_one("#context", Static)
        if isinstance(made, str):
            box.update(escape(made))
            return
        self._tracker = made
        box.update(f"Estimating with tiktoken {escape(made.encoding)}…")
        self.refresh_context()

    # ---- context estimates (a worker thread; the tracker reads only appended bytes) ------------
    def refresh_context(self) -> None:
        """Read what the session's logs gained and estimate again (also done on a timer while
        the session is live). One read at a time: a request during a read runs after it."""
        if self._tracker is None:
            return
        if self._reading:
            self._again = True
            return
        self._reading = True
        self._estimate()

    @work(thread=True, exit_on_error=False, group="context")
    def _estimate(self) -> ContextReport:
        assert self._tracker is not None
        return self._tracker.update()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "context":
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self._reading = False
        box = self.query_one("#context", Static)
        if event.state is WorkerState.ERROR:
            err = worker.error
            if not isinstance(err, TokenizerError):  # a bug: the traceback goes to our log
                LOG.error("context estimates failed", exc_info=err)
                if self._live:  # a log in flux may read fine next time: keep trying
                    self.set_timer(max(1.0, self.context_refresh), self.refresh_context)
            box.update(f"No estimates: {escape(str(err))}")
        elif event.state is WorkerState.SUCCESS and isinstance(worker.result, ContextReport):
            self._show(worker.result)
            if self._live:
                self.set_timer(self.context_refresh, self.refresh_context)  # re-armed
        if self._again:  # asked for while reading
            self._again = False
            self.refresh_context()

    @property
    def _live(self) -> bool:
        return self.session.status in (SessionStatus.ACTIVE, SessionStatus.LOOPING)

    def _show(self, rep: ContextReport) -> None:
        att = self.attribution = rep.attribution
        lines = [escape(line) for line in describe(rep, live=self._live)]
        how = f"Counted with tiktoken {escape(rep.encoding)}; never part of the exact totals."
        lines.append(f"[dim]{how}[/dim]")
        self.query_one("#context", Static).update("\n".join(lines))
        self.query_one("#alerts", Static).update(self._alerts_text())
        subs = self.query_one("#subagents", DataTable)
        logged = {sub.agent_id: sub.account.tokens.output for sub in self.session.subagents}
        for t in att.threads:
            if t.agent_id in logged and t.unfinished:
                text = f"{logged[t.agent_id]:,} (~{fmt_tokens(t.corrected_output)} est.)"
                subs.update_cell(t.agent_id, "output", text, update_width=True)
