"""Kill and suspend/resume from the TUI: confirm first, signal off the UI thread, report."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.worker import Worker, WorkerState

from agentwatch.core.procs import AgentProcess, ProcStatus
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.applog import LOG
from agentwatch.ui import format as fmt
from agentwatch.ui.screens.confirm import Confirm
from agentwatch.ui.screens.detail import DetailScreen

if TYPE_CHECKING:
    from agentwatch.ui.widgets.sessions import SessionsTable


class ProcessActions(App[None]):
    """The app's process-control actions (mixed into AgentwatchApp)."""

    def sessions_table(self) -> SessionsTable:  # provided by the app
        raise NotImplementedError

    def _selected_process(self) -> tuple[SessionSummary, AgentProcess] | None:
        s = self.sessions_table().current_session()
        if isinstance(self.screen, DetailScreen):
            s = self.screen.session
        if s is None:
            return None
        p = self.sessions_table().procs.get(s.session_id)
        if p is None:
            self.notify(
                "No running agent process is mapped to this session (see `agentwatch ps`).",
                severity="warning",
            )
            return None
        return s, p

    def action_kill(self) -> None:
        pair = self._selected_process()
        if pair is None:
            return
        s, p = pair
        kids = ", ".join(str(c) for c in p.children[:12]) or "none"
        body = (
            f"pid {p.pid}   {' '.join(p.cmdline)[:160]}\n"
            f"session {s.session_id} ({p.session.mapping})   project {s.project or '-'}\n"
            f"tokens so far {s.total.tokens.total:,}   cost {fmt.cost(s.total)}\n"
            f"children signalled too: {kids}\n\n"
            "SIGTERM now, then a 5 s grace period. SIGKILL only if you confirm again."
        )
        self.push_screen(
            Confirm(f"Stop this {p.agent} session?", body, "Kill"),
            callback=lambda ok: self._confirmed(ok, p, s, escalate=False),
        )

    def _confirmed(
        self, ok: bool | None, p: AgentProcess, s: SessionSummary, *, escalate: bool
    ) -> None:
        if ok:
            self._kill(p, s, escalate=escalate)
        else:
            self.notify("Nothing was signalled.")

    @work(thread=True, group="procs", exit_on_error=False)
    def _kill(self, p: AgentProcess, s: SessionSummary, *, escalate: bool) -> None:
        from agentwatch.infra import procs  # noqa: PLC0415

        ident = procs.Identity(p.pid, p.create_time, p.cmdline, p.user or None)
        rep = procs.terminate_tree(
            procs.PsutilTable(), ident, grace=5.0, escalate=escalate, session=s.session_id
        )
        if rep.survivors and not escalate:
            self.call_from_thread(self._ask_escalation, p, s, len(rep.survivors))
        elif rep.ok:
            self.call_from_thread(self.notify, f"Stopped pid {p.pid} and its children.")
        else:
            left = ", ".join(str(i.pid) for i in rep.survivors) or "none"
            self.call_from_thread(
                self.notify,
                f"pid {p.pid}: not everything stopped (left: {left}; see agentwatch's log)",
                severity="error",
            )

    def _ask_escalation(self, p: AgentProcess, s: SessionSummary, survivors: int) -> None:
        self.push_screen(
            Confirm(
                "Still running after SIGTERM",
                f"{survivors} process(es) of pid {p.pid} ignored SIGTERM. Send SIGKILL?",
                "SIGKILL",
            ),
            callback=lambda ok: self._confirmed(ok, p, s, escalate=True),
        )

    def action_suspend(self) -> None:
        pair = self._selected_process()
        if pair is not None:
            self._suspend(*pair)

    @work(thread=True, group="procs", exit_on_error=False)
    def _suspend(self, s: SessionSummary, p: AgentProcess) -> None:
        from agentwatch.infra import procs  # noqa: PLC0415

        resume = p.status is ProcStatus.SUSPENDED
        sig = signal.SIGCONT if resume else signal.SIGSTOP
        ident = procs.Identity(p.pid, p.create_time, p.cmdline, p.user or None)
        rep = procs.signal_tree(procs.PsutilTable(), ident, sig, session=s.session_id)
        verb = "Resumed" if resume else "Suspended"
        if rep.ok:
            self.call_from_thread(self.notify, f"{verb} pid {p.pid} ({len(rep.sent)} processes).")
        else:
            self.call_from_thread(
                self.notify, f"{verb} pid {p.pid} only in part; see the log.", severity="error"
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Errors of the process workers, reported once each."""
        if event.worker.group == "procs" and event.state is WorkerState.ERROR:
            LOG.error("process action failed: %r", event.worker.error)
            self.notify(f"process action failed: {event.worker.error!r}", severity="error")
