"""The live engine: watch the roots, read appended lines, update the tally, emit events.

Threads: watchdog's observer only records changed paths (`Changes`); the engine thread is the
single writer of the tally and calls `emit` with immutable events. Consumers (the TUI, `watch`)
decide how those cross into their own world.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.observers.api import BaseObserver

from agentwatch.core.activity import DEFAULT_RETENTION_S, Activity
from agentwatch.core.alerts import Alert, diff_alerts
from agentwatch.core.detectors import evaluate
from agentwatch.core.events import (
    AlertClearedEvent,
    AlertEvent,
    Event,
    StatusEvent,
    UsageEvent,
    WarningEvent,
)
from agentwatch.core.records import ThreadKey
from agentwatch.core.signals import dormancy_line, history_activity
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import status_of
from agentwatch.core.tally import SessionInfo, Tally, UsageChange, session_last
from agentwatch.core.thresholds import Thresholds
from agentwatch.core.tokens import Tokens
from agentwatch.infra import gcpause
from agentwatch.infra.applog import LOG
from agentwatch.infra.cwdwatch import SessionTrees, TreeWatchFactory
from agentwatch.infra.files import Root, ScanStats, TrackedFile, discover, predecessor
from agentwatch.infra.scan import Progress, scan_files
from agentwatch.infra.watcher import Changes, Watcher

Clock = Callable[[], float]
Loader = Callable[[], tuple[Tally, dict[str, TrackedFile], ScanStats]]


def session_total(s: SessionInfo) -> Tokens:
    """Main thread plus every sub-agent."""
    total = s.main.account.tokens
    for t in s.subagents.values():
        total = total + t.account.tokens
    return total


class LiveEngine:
    """Keeps a tally current with the files under `roots`."""

    def __init__(
        self,
        roots: list[Root],
        tally: Tally,
        emit: Callable[[Event], None],
        *,
        clock: Clock = time.time,
        idle_after: float = 300.0,
        tick: float = 1.0,
        poll_interval: float = 1.0,
        observer: Callable[[], BaseObserver] | None = None,
        thresholds: Thresholds | None = None,
        trees: TreeWatchFactory | None = None,
    ) -> None:
        self.roots = roots
        self.tally = tally
        self.emit = emit
        self.clock = clock
        self.idle_after = idle_after
        self.tick = tick
        self.stats = ScanStats()
        self.files: dict[str, TrackedFile] = {}
        self.changes = Changes()
        self._watcher = (
            Watcher(roots, self.changes, self._warn, poll_interval, observer)
            if observer is not None
            else Watcher(roots, self.changes, self._warn, poll_interval)
        )
        self._status: dict[ThreadKey, SessionStatus] = {}
        self._pending: list[UsageChange] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.thresholds = thresholds or Thresholds()
        self.activity = Activity(self.thresholds.window_s)
        self.alerts: dict[ThreadKey, dict[str, Alert]] = {}
        """Alerts per session as of the last evaluation (active and recently ended)."""
        self.on_step: Callable[[set[ThreadKey]], None] | None = None
        """Called on the engine thread after each step with the sessions it touched."""
        self.trees = (
            SessionTrees(
                trees,
                self._warn,
                lambda: self.changes.file(""),
                live_for=max(self.thresholds.window_s, idle_after),
            )
            if trees is not None
            else None
        )
        """Filesystem watches on live sessions' working trees, when enabled."""

    # ---- life cycle ---------------------------------------------------------------------------
    def open(self, progress: Progress | None = None, loader: Loader | None = None) -> ScanStats:
        """Start watching, then read everything there is (changes during the scan queue up).

        `loader` replaces the full scan, e.g. with a warm start from the index; changes that
        arrive meanwhile are read from each file's saved position, so nothing counts twice.

        The cycle collector waits while the history loads (`gcpause`).
        """
        self._watcher.start()
        with gcpause.paused():
            self._load(progress, loader)
        return self.stats

    def _load(self, progress: Progress | None, loader: Loader | None) -> None:
        if loader is not None:
            self.tally, self.files, self.stats = loader()
        else:
            self.files = scan_files(self.roots, self.tally, self.stats, progress)
        now = self.clock()
        self.activity = history_activity(
            self.tally,
            self.stats.activity_by_session(),
            self.thresholds,
            DEFAULT_RETENTION_S,
            dormancy_line(now, self.thresholds, DEFAULT_RETENTION_S),
        )
        self.stats.activity = []  # kept in the activity model from here on
        self.stats.keep_activity = False
        for key, s in self.tally.sessions.items():
            self.alerts[key] = {a.alert_id: a for a in self._evaluate(key, now)}
            self._status[key] = self._status_now(key, s, now)
        self.tally.on_change = self._pending.append
        if self.trees is not None:
            self.trees.refresh(self.tally.sessions, now, force=True)

    def start(self) -> None:
        """Process changes on a background thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="agentwatch-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and the watcher."""
        self._stop.set()
        self.changes.file("")  # wake the loop
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._watcher.stop()
        if self.trees is not None:
            self.trees.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.changes.wait(self.tick)
            if self._stop.is_set():
                break
            try:
                self.step()
            except Exception:  # noqa: BLE001 (a bug must not stop live updates; logged)
                LOG.exception("live engine step failed")

    # ---- one step -----------------------------------------------------------------------------
    def step(self) -> None:
        """Read what changed, apply it, emit usage and status events."""
        files, dirs = self.changes.take()
        touched: set[ThreadKey] = set()
        for folder in sorted(dirs):
            for root in self.roots:
                for path, spec in discover(root, Path(folder)):
                    if path not in self.files:
                        new = self.files[path] = TrackedFile.new(root.source, path, spec)
                        new.inherited = predecessor(self.files, path)
                        files.add(path)
        for path in sorted(files, key=_sidecars_last):
            if path:
                self._read(path, touched)
        if self.trees is not None:
            self.trees.refresh(self.tally.sessions, self.clock())
            for key, ts, path in self.trees.take():
                self.activity.add_change(key, ts, path)
                touched.add(key)
        alerted = self._alerts(touched)
        changed = self._statuses(touched | alerted)
        if self.on_step is not None:
            self.on_step(touched | changed)

    def _read(self, path: str, touched: set[ThreadKey]) -> None:
        f = self.files.get(path)
        if f is None:
            for root in self.roots:
                spec = root.spec_of(path)
                if spec is not None:
                    f = self.files[path] = TrackedFile.new(root.source, path, spec)
                    f.inherited = predecessor(self.files, path)
                    break
            else:
                return
        try:
            records = f.read(self.stats)
        except FileNotFoundError:
            self.files.pop(path, None)  # deleted (cleanup, rotation); counts stay
            return
        except OSError as exc:
            self._warn(f"cannot read {path}: {exc.strerror or exc}", once=path)
            return
        except Exception as exc:  # noqa: BLE001 (a parser bug must not stop live updates)
            LOG.exception("could not parse %s", path)
            self._warn(f"cannot parse {path} ({type(exc).__name__}); see the log", once=path)
            return
        self.tally.apply(records)
        self.activity.feed(records)
        for rec in records:
            thread = getattr(rec, "thread", None) or getattr(rec, "session", None)
            if isinstance(thread, ThreadKey):
                touched.add(thread.main)
        self._flush_usage()

    def _flush_usage(self) -> None:
        if not self._pending:
            return
        changes, self._pending[:] = list(self._pending), []
        now = self.clock()
        for ch in changes:
            self.activity.add_usage(ch.thread, ch.ts, ch.delta.total, ch.call.key)
            s = self.tally.sessions[ch.thread.main]
            self.emit(
                UsageEvent(
                    now,
                    ch.thread,
                    ch.call.message_id,
                    ch.call.request_id,
                    ch.delta,
                    session_total(s),
                )
            )

    def _statuses(self, touched: set[ThreadKey]) -> set[ThreadKey]:
        now = self.clock()
        changed: set[ThreadKey] = set()
        for key, s in self.tally.sessions.items():
            old = self._status.get(key)
            if old is not None and key not in touched and old is SessionStatus.IDLE:
                continue  # an idle session changes only when lines arrive
            new = self._status_now(key, s, now)
            if old is not new:
                self._status[key] = new
                changed.add(key)
                self.emit(StatusEvent(now, key, old, new))
        return changed

    def _status_now(self, key: ThreadKey, s: SessionInfo, now: float) -> SessionStatus:
        if any(a.active for a in self.alerts.get(key, {}).values()):
            return SessionStatus.LOOPING
        return status_of(session_last(s), now, self.idle_after)

    def _evaluate(self, key: ThreadKey, now: float) -> list[Alert]:
        sa = self.activity.sessions.get(key)
        return evaluate(sa, now, self.thresholds) if sa is not None else []

    def _alerts(self, touched: set[ThreadKey]) -> set[ThreadKey]:
        """Re-run the detectors for sessions that moved or have live alerts; emit changes."""
        now = self.clock()
        recent = now - self.thresholds.window_s
        keys = set(touched)
        for key, s in self.tally.sessions.items():
            last = session_last(s)
            if self.alerts.get(key) or (last is not None and last >= recent):
                keys.add(key)  # quiet time can end an alert, or start idle burn
        changed: set[ThreadKey] = set()
        for key in keys:
            before = self.alerts.get(key, {})
            alerts = self._evaluate(key, now)
            raised, cleared = diff_alerts(before, alerts)
            self.alerts[key] = {a.alert_id: a for a in alerts}
            for a in raised:
                self.emit(AlertEvent(now, key, a))
            for a in cleared:
                self.emit(AlertClearedEvent(now, key, a.alert_id))
            if raised or cleared:
                changed.add(key)
        return changed

    def status(self, key: ThreadKey) -> SessionStatus | None:
        """The last status emitted for a session."""
        return self._status.get(key)

    def _warn(self, message: str, once: str | None = None) -> None:
        if once is not None:
            if once in self._warned:
                return
            self._warned.add(once)
        self.emit(WarningEvent(self.clock(), message))


def _sidecars_last(path: str) -> tuple[bool, str]:
    return (path.endswith(".meta.json"), path)


__all__ = ["LiveEngine", "session_last", "session_total"]
