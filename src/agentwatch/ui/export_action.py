"""Export from the TUI: `e` writes the selected session, `E` the sessions in view, as Markdown.

Files go to `export_dir` from config.toml, else the current directory, under a new name (never
over an existing file); a notification gives the path. Writing happens off the UI thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from agentwatch.core.accounts import Account
from agentwatch.core.alerts import Alert
from agentwatch.core.records import ThreadKey
from agentwatch.core.summary import Report, SessionSummary
from agentwatch.infra.export import markdown
from agentwatch.infra.export.json_report import iso_required
from agentwatch.infra.export.model import Export, Signals
from agentwatch.infra.export.write import OutputError, write_unique
from agentwatch.ui.screens.detail import DetailScreen

if TYPE_CHECKING:
    from agentwatch.infra.feed import SessionExtras
    from agentwatch.ui.widgets.sessions import SessionsTable


def signals_of(
    sessions: Sequence[SessionSummary], alerts: Mapping[str, Sequence[Alert]]
) -> Signals:
    """Signals from what the live view knows: the summaries' changes and the engine's alerts.

    The idle-burn share needs the detectors' windows, which the live view does not keep: it is
    left out (shown as `-`); `agentwatch report --format md` has it.
    """
    out: dict[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for s in sessions:
        contract = [a.to_contract(iso_required) for a in alerts.get(s.session_id, ())]
        changed = s.lines_added + s.lines_removed
        sig = {
            "files_changed": s.files_changed,
            "lines_added": s.lines_added,
            "lines_removed": s.lines_removed,
            "tokens_per_changed_line": s.total.tokens.total / changed if changed else None,
            "idle_burn_share": None,
            "alerts": contract,
        }
        out[ThreadKey(s.agent, s.session_id)] = (sig, contract)
    return out


def export_doc(
    sessions: Sequence[SessionSummary],
    alerts: Mapping[str, Sequence[Alert]],
    now: float,
    title: str,
) -> Export:
    """The Markdown export of some sessions of the live view."""
    totals = Account()
    for s in sessions:
        totals.merge(s.total)
    ordered = tuple(sorted(sessions, key=lambda s: (s.started_at or 0.0, s.session_id)))
    return Export(Report(ordered, totals), now, signals_of(ordered, alerts), title=title)


class ExportActions(App[None]):
    """The app's export actions (mixed into AgentwatchApp)."""

    export_dir: Path | None = None
    """Where exports go (config `export_dir`); None means the current directory."""
    extras: dict[str, SessionExtras]
    clock: Any

    def sessions_table(self) -> SessionsTable:  # provided by the app
        raise NotImplementedError

    def action_export(self) -> None:
        """`e`: the session under the cursor (or on the detail screen)."""
        s = self.sessions_table().current_session()
        if isinstance(self.screen, DetailScreen):
            s = self.screen.session
        if s is None:
            self.notify("No session selected; nothing was exported.", severity="warning")
            return
        self._export([s], f"agentwatch: session {s.session_id[:8]}", f"session-{s.session_id[:8]}")

    def action_export_view(self) -> None:
        """`E`: every session the table shows (the filter and hide-idle apply)."""
        table = self.sessions_table()
        keys = [str(row.key.value) for row in table.ordered_rows]
        shown = [table.sessions[k] for k in keys if k in table.sessions]
        if not shown:
            self.notify("No session in view; nothing was exported.", severity="warning")
            return
        n = len(shown)
        self._export(shown, f"agentwatch: {n} session{'s' if n != 1 else ''}", "view")

    def _export(self, sessions: list[SessionSummary], title: str, what: str) -> None:
        now = float(self.clock())
        alerts = {sid: e.alerts for sid, e in self.extras.items()}
        doc = export_doc(sessions, alerts, now, title)
        folder = self.export_dir if self.export_dir is not None else Path.cwd()
        stem = f"agentwatch-{what}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
        self._write_export(doc, folder, stem)

    @work(thread=True, group="export", exit_on_error=False)
    def _write_export(self, doc: Export, folder: Path, stem: str) -> None:
        try:
            path = write_unique(folder, stem, ".md", markdown.render(doc).encode("utf-8"))
        except OutputError as exc:
            self.call_from_thread(self.notify, f"Export failed: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, str(path), title="Exported (Markdown)", timeout=10)
