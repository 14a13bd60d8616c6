"""`agentwatch watch --jsonl`: snapshots, `ready`, then live events until a signal or EOF."""

from __future__ import annotations

import dataclasses
import errno
import json
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from agentwatch.core.detectors import signal as session_signal
from agentwatch.core.events import Event
from agentwatch.core.guard import LoopGuard
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import Filter, build
from agentwatch.core.tally import Tally, session_last
from agentwatch.infra.cwdwatch import tree_watches
from agentwatch.infra.export import events_jsonl
from agentwatch.infra.live import LiveEngine
from agentwatch.infra.loopguard import GuardRunner
from agentwatch.infra.workspace import Workspace


class OutputFailedError(Exception):
    """The events could not be written, and not because the reader closed stdout (a full
    disk, an I/O error)."""


def _snapshots(
    engine: LiveEngine, ws: Workspace, since: float, write: Callable[[dict[str, Any]], None]
) -> None:
    """A `snapshot` event for every session active since `since`; only those are summed
    (not a history of thousands), and nothing of them is kept."""
    now = time.time()
    recent = {
        k
        for k, s in engine.tally.sessions.items()
        if (last := session_last(s)) is not None and last >= since
    }
    rep = build(engine.tally, Filter(), now, ws.settings.idle_after, only=recent)
    for summary in rep.sessions:
        key = ThreadKey(summary.agent, summary.session_id)
        sa = engine.activity.sessions.get(key)
        alerts = list(engine.alerts.get(key, {}).values())
        sig = session_signal(sa, alerts, now) if sa is not None else None
        shown = summary
        if engine.status(key) is SessionStatus.LOOPING:
            shown = dataclasses.replace(summary, status=SessionStatus.LOOPING)
        write(events_jsonl.snapshot(now, shown, sig))


def run_watch(ws: Workspace, since: float, out: TextIO, guard: LoopGuard | None = None) -> int:
    """Run until SIGINT/SIGTERM or a closed stdout; returns the exit code (always 0).

    With a `guard` (`--on-loop suspend|kill`), a session whose loop outlasts the grace period
    has its agent process signalled, reported as a `loop_action` event. Raises
    OutputFailedError when stdout fails in any other way than being closed.
    """
    done = threading.Event()
    lock = threading.Lock()
    held: list[Event] | None = []
    failed: list[OSError] = []

    def write(obj: dict[str, Any]) -> None:
        with lock:
            if done.is_set():
                return
            try:
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
                out.flush()
            except (BrokenPipeError, ValueError):  # closed by the reader: the end
                done.set()
            except OSError as exc:
                failed.append(exc)
                done.set()

    def emit(ev: Event) -> None:
        if held is not None:
            held.append(ev)
        else:
            write(events_jsonl.event(ev))

    engine = LiveEngine(
        ws.roots,
        Tally(ws.prices),
        emit,
        idle_after=ws.settings.idle_after,
        thresholds=ws.thresholds,
        trees=tree_watches(ws.settings.watch_trees, ws.own_paths()),
    )

    def stop(_sig: int, _frame: FrameType | None) -> None:
        done.set()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        engine.open(loader=ws.load_tracked)
        _snapshots(engine, ws, since, write)
        write(events_jsonl.ready(time.time()))
        for ev in held or ():
            write(events_jsonl.event(ev))
        held = None
        if guard is not None and guard.active:
            claude = [r.path for r in ws.roots if r.source.agent is Agent.CLAUDE_CODE]
            runner = GuardRunner(
                guard,
                emit,
                time.time,
                claude,
                gemini_roots=[r.path for r in ws.roots if r.source.agent is Agent.GEMINI],
            )
            engine.on_step = lambda _touched: runner.tick(engine.alerts)
        engine.start()
        while not done.wait(0.5):
            pass
    finally:
        engine.stop()
        for s, h in old.items():
            signal.signal(s, h)
    if failed and failed[0].errno != errno.EPIPE:
        raise OutputFailedError(str(failed[0]))
    return 0
