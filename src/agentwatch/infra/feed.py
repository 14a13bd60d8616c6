"""A live engine packaged for a UI: immutable summaries and headline figures, pushed out."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentwatch.core.activity import DEFAULT_RETENTION_S
from agentwatch.core.alerts import Alert
from agentwatch.core.events import AlertEvent, Event, GuardEvent, WarningEvent
from agentwatch.core.guard import LoopGuard
from agentwatch.core.procs import AgentProcess
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.redact import redact
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import Filter, SessionSummary, build
from agentwatch.core.tally import Tally
from agentwatch.infra.applog import LOG
from agentwatch.infra.cwdwatch import tree_watches
from agentwatch.infra.files import ScanStats
from agentwatch.infra.live import LiveEngine
from agentwatch.infra.loopguard import GuardRunner
from agentwatch.infra.workspace import Workspace

FIVE_HOURS = 5 * 3600.0
PROCESS_POLL = 2.0
"""Seconds between process table passes (one psutil pass at most every 2 s)."""
BURN_WINDOW = 300.0


@dataclass(frozen=True, slots=True)
class Headline:
    """The figures across the top of the screen."""

    today_tokens: int
    today_cost: float
    window_tokens: int
    window_cost: float
    burn_tokens_per_min: float
    burn_usd_per_hour: float
    live_sessions: int
    updated_at: float
    alerts: int = 0
    """Active loop alerts."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A cold scan's progress."""

    files_done: int
    files_total: int
    bytes_done: int


@dataclass(frozen=True, slots=True)
class SessionExtras:
    """What the detail screen shows beyond the sums (computed on the engine's thread)."""

    recent: tuple[tuple[float, str, str | None, bool], ...]
    """The last tool calls: (time, tool, target, ok), newest last."""
    changed: tuple[str, ...]
    """Files changed (edits, writes), most recent last."""
    alerts: tuple[Alert, ...]
    """Loop alerts, active and recently ended."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Sessions whose figures changed (all of them in the first one), and the headline."""

    sessions: tuple[SessionSummary, ...]
    headline: Headline
    stats: ScanStats | None = None
    first: bool = False
    extras: dict[str, SessionExtras] | None = None
    """By session id, for the sessions in this snapshot."""
    provisional: bool = False
    """A cold scan's preview: the recent sessions, before older history is read."""


@dataclass(frozen=True, slots=True)
class Processes:
    """The agent processes running now ("state is now X": a newer one replaces an older)."""

    processes: tuple[AgentProcess, ...]


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """A new loop alert, for a notification."""

    session: ThreadKey
    project: str | None
    alert: Alert


Update = Snapshot | Progress | WarningEvent | Processes | AlertRaised | GuardEvent
Deliver = Callable[[Update], None]


def headline(tally: Tally, now: float, live: int) -> Headline:
    """Headline figures from the tally's all-calls account."""
    local = time.localtime(now)
    midnight = now - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec)
    today = tally.total.since(midnight)
    window = tally.total.since(now - FIVE_HOURS)
    burn_tokens, burn_cost = tally.total.since(now - BURN_WINDOW)
    minutes = BURN_WINDOW / 60.0
    return Headline(
        today[0],
        today[1],
        window[0],
        window[1],
        burn_tokens / minutes,
        burn_cost * 60.0 / minutes,
        live,
        now,
    )


class Feed:
    """Runs the live engine on its own threads; `deliver` is called from those threads."""

    def __init__(
        self,
        ws: Workspace,
        deliver: Deliver,
        clock: Callable[[], float] = time.time,
        tick: float = 1.0,
        guard: LoopGuard | None = None,
        processes: Callable[[], Sequence[AgentProcess]] | None = None,
    ) -> None:
        self.ws = ws
        self.deliver = deliver
        self.clock = clock
        self.processes = processes
        """Where agent processes come from (default: discovery over the real process table)."""
        self._stop = threading.Event()
        self.engine = LiveEngine(
            ws.roots,
            Tally(ws.prices),
            self._event,
            clock=clock,
            idle_after=ws.settings.idle_after,
            tick=tick,
            thresholds=ws.thresholds,
            trees=tree_watches(ws.settings.watch_trees, ws.own_paths(), clock),
        )
        self._thread: threading.Thread | None = None
        claude = [r.path for r in ws.roots if r.source.agent is Agent.CLAUDE_CODE]
        self.guard = (
            GuardRunner(
                guard,
                self._event,
                clock,
                claude,
                gemini_roots=[r.path for r in ws.roots if r.source.agent is Agent.GEMINI],
            )
            if guard is not None and guard.active
            else None
        )
        """The `--on-loop` guard, when it does more than notify."""

    def start(self) -> None:
        """Load (index or scan) and go live, off the caller's thread."""
        self._thread = threading.Thread(target=self._open, name="agentwatch-feed", daemon=True)
        self._thread.start()
        threading.Thread(target=self._poll_processes, name="agentwatch-procs", daemon=True).start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self.engine.stop()

    def _poll_processes(self) -> None:
        # One pass every PROCESS_POLL seconds, re-armed after each: passes never overlap.
        from agentwatch.infra import procs  # noqa: PLC0415 (psutil only where needed)

        claude = [r.path for r in self.ws.roots if r.source.agent is Agent.CLAUDE_CODE]
        gemini = [r.path for r in self.ws.roots if r.source.agent is Agent.GEMINI]
        table = procs.PsutilTable()
        while not self._stop.is_set():
            try:
                found = (
                    self.processes()
                    if self.processes
                    else procs.discover(table, claude, gemini_roots=gemini)
                )
            except Exception:  # noqa: BLE001 (keep polling; a bug is logged once per pass)
                LOG.exception("process pass failed")
            else:
                self.deliver(Processes(tuple(found)))
            self._stop.wait(PROCESS_POLL)

    def _open(self) -> None:
        try:
            self.engine.open(loader=lambda: self.ws.load_tracked(self._progress, self._preview))
        except Exception:  # noqa: BLE001 (a bug: keep the UI alive, say so, log it)
            LOG.exception("loading failed")
            self.deliver(WarningEvent(self.clock(), "loading failed; see agentwatch's log"))
            return
        for note in self.ws.notes:
            self.deliver(WarningEvent(self.clock(), note))
        now = self.clock()
        rep = build(self.engine.tally, Filter(), now, self.ws.settings.idle_after)
        recent = now - DEFAULT_RETENTION_S
        extras = {
            s.session_id: self._extras(ThreadKey(s.agent, s.session_id))
            for s in rep.sessions
            if (s.last_activity_at or 0.0) >= recent
        }
        self.deliver(
            Snapshot(
                self._with_status(rep.sessions),
                self._headline(now),
                self.engine.stats,
                first=True,
                extras=extras,
            )
        )
        self.engine.on_step = self._step
        self.engine.start()

    def _preview(self, tally: Tally) -> None:
        """A cold scan read the recent files: show their sessions while history loads."""
        now = self.clock()
        rep = build(tally, Filter(), now, self.ws.settings.idle_after)
        live = sum(1 for s in rep.sessions if s.status is SessionStatus.ACTIVE)
        self.deliver(
            Snapshot(rep.sessions, headline(tally, now, live), first=True, provisional=True)
        )

    def _progress(self, done: int, total: int, nbytes: int) -> None:
        self.deliver(Progress(done, total, nbytes))

    def _event(self, ev: Event) -> None:
        if isinstance(ev, WarningEvent | GuardEvent):
            self.deliver(ev)
        elif isinstance(ev, AlertEvent) and ev.alert.active:
            info = self.engine.tally.sessions.get(ev.session)
            project = info.main.cwd if info is not None else None
            self.deliver(AlertRaised(ev.session, project, ev.alert))

    def _step(self, touched: set[ThreadKey]) -> None:
        if self.guard is not None:
            self.guard.tick(self.engine.alerts)
        now = self.clock()
        rep = build(self.engine.tally, Filter(), now, self.ws.settings.idle_after, only=touched)
        extras = {
            s.session_id: self._extras(ThreadKey(s.agent, s.session_id)) for s in rep.sessions
        }
        self.deliver(Snapshot(self._with_status(rep.sessions), self._headline(now), extras=extras))

    def _extras(self, key: ThreadKey) -> SessionExtras:
        sa = self.engine.activity.sessions.get(key)
        alerts = tuple(self.engine.alerts.get(key, {}).values())
        if sa is None:
            return SessionExtras((), (), alerts)
        recent = tuple(  # shown on screen and exported: a command's secrets stay out
            (o.ts, o.name, redact(o.target).text if o.target else o.target, o.ok)
            for o in sa.recent()
        )
        return SessionExtras(recent, tuple(sa.changed()), alerts)

    def _with_status(self, sessions: tuple[SessionSummary, ...]) -> tuple[SessionSummary, ...]:
        """The engine knows more than the log times: a looping session says so."""
        out = []
        for s in sessions:
            status = self.engine.status(ThreadKey(s.agent, s.session_id))
            if status is SessionStatus.LOOPING and s.status is not status:
                s = dataclasses.replace(s, status=status)  # noqa: PLW2901
            out.append(s)
        return tuple(out)

    def _headline(self, now: float) -> Headline:
        live = sum(
            1
            for k in self.engine.tally.sessions
            if self.engine.status(k) in (SessionStatus.ACTIVE, SessionStatus.LOOPING)
        )
        alerts = sum(1 for per in self.engine.alerts.values() for a in per.values() if a.active)
        return dataclasses.replace(headline(self.engine.tally, now, live), alerts=alerts)
