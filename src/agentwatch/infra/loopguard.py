"""The `--on-loop` guard in action: suspend or kill a session's agent once its loop outlasts
the grace period. Decisions come from `core.guard`; this module finds the process and signals.

`tick` runs on the live engine's thread (its `on_step`); signalling, which waits out a kill's
grace, runs on a short-lived thread of its own so live updates never stall.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agentwatch.core.alerts import Alert
from agentwatch.core.events import Event, GuardEvent
from agentwatch.core.guard import Due, GuardAction, LoopGuard
from agentwatch.core.procs import AgentProcess, Confidence
from agentwatch.core.records import ThreadKey
from agentwatch.infra.applog import LOG

if TYPE_CHECKING:
    from agentwatch.infra.procs import ProcessTable

KILL_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when the guard kills."""


def _psutil_table() -> ProcessTable:
    from agentwatch.infra import procs  # noqa: PLC0415 (psutil only when the guard is on)

    return procs.PsutilTable()


class GuardRunner:
    """Applies a `LoopGuard`'s decisions to real processes and reports each as a GuardEvent."""

    def __init__(
        self,
        guard: LoopGuard,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        claude_roots: Sequence[Path],
        table: Callable[[], ProcessTable] = _psutil_table,
        kill_grace: float = KILL_GRACE,
        gemini_roots: Sequence[Path] = (),
    ) -> None:
        self.guard = guard
        self.emit = emit
        self.clock = clock
        self.claude_roots = list(claude_roots)
        self.gemini_roots = list(gemini_roots)
        self._table = table
        self.kill_grace = kill_grace
        self._threads: list[threading.Thread] = []

    def tick(self, alerts: Mapping[ThreadKey, Mapping[str, Alert]]) -> None:
        """Act on every session that became due (call on the engine thread)."""
        for due in self.guard.due(alerts, self.clock()):
            t = threading.Thread(target=self._act, args=(due,), name="agentwatch-guard")
            t.daemon = True
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for actions under way (tests, orderly shutdown)."""
        for t in list(self._threads):
            t.join(timeout)

    def _act(self, due: Due) -> None:
        try:
            self.emit(self._signal(due))
        except Exception:  # noqa: BLE001 (a bug must not kill the engine; logged, reported)
            LOG.exception("on-loop guard failed")
            self.emit(self._event(due, (), ok=False, message="failed; see agentwatch's log"))

    def _signal(self, due: Due) -> GuardEvent:
        from agentwatch.infra import procs  # noqa: PLC0415

        table = self._table()
        found = procs.discover(table, self.claude_roots, gemini_roots=self.gemini_roots)
        targets = _mapped(found, due.session)
        if not targets:
            return self._event(
                due, (), ok=False, message="no running process is mapped to it; nothing signalled"
            )
        exact = [p for p in targets if p.session.mapping is Confidence.EXACT]
        if not exact:  # acting unasked on a guess could stop someone else's agent
            listed = ", ".join(str(p.pid) for p in targets)
            return self._event(
                due,
                (),
                ok=False,
                message=f"pid {listed} is only a likely match; nothing signalled (use "
                "`agentwatch kill` or the TUI to act on it)",
            )
        targets = exact
        guard = procs.Guard.current()
        pids = tuple(p.pid for p in targets)
        problems: list[str] = []
        sent = False
        for p in targets:
            ident = procs.Identity(p.pid, p.create_time, p.cmdline, p.user or None)
            sid = due.session.session_id
            if due.action is GuardAction.SUSPEND:
                rep = procs.signal_tree(table, ident, signal.SIGSTOP, session=sid, guard=guard)
                reports = [rep]
            else:
                kill = procs.terminate_tree(
                    table, ident, grace=self.kill_grace, escalate=True, session=sid, guard=guard
                )
                reports = [kill.term] + ([kill.kill] if kill.kill is not None else [])
                problems += [f"pid {i.pid} survived" for i in kill.survivors]
            for rep in reports:
                sent = sent or bool(rep.sent)
                problems += [f"pid {i.pid}: {why}" for i, why in rep.refused]
                problems += [f"pid {i.pid}: permission denied" for i in rep.denied]
        if not sent and not problems:
            problems.append("it had already exited")
        verb = "suspended" if due.action is GuardAction.SUSPEND else "killed"
        listed = ", ".join(str(p) for p in pids)
        if problems:
            return self._event(
                due,
                pids,
                ok=False,
                message=f"tried to {due.action} pid {listed}: " + "; ".join(problems[:3]),
            )
        hint = f" (`agentwatch resume {listed}` continues it)" if verb == "suspended" else ""
        return self._event(due, pids, ok=True, message=f"{verb} pid {listed}{hint}")

    def _event(self, due: Due, pids: tuple[int, ...], *, ok: bool, message: str) -> GuardEvent:
        sid = due.session.session_id
        why = due.alert.reason
        text = f"on-loop {due.action}: session {sid[:8]}: {message}; alert: {why}"
        (LOG.info if ok else LOG.warning)("%s", text)
        return GuardEvent(
            self.clock(), due.session, due.alert.alert_id, str(due.action), pids, ok, text
        )


def _mapped(found: Sequence[AgentProcess], session: ThreadKey) -> list[AgentProcess]:
    """The agent processes running `session`, mapped with some confidence (never `unknown`)."""
    return [
        p
        for p in found
        if p.agent is session.agent
        and p.session.session_id == session.session_id
        and p.session.mapping is not Confidence.UNKNOWN
    ]


__all__ = ["KILL_GRACE", "GuardRunner"]
