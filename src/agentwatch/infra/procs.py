"""Agent processes through psutil: discovery, session mapping, and safe signals to a tree."""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil  # type: ignore[import-untyped]  # no stubs in the test deps

from agentwatch.core.procs import (
    AgentProcess,
    ProcFacts,
    ProcStatus,
    RegistryEntry,
    SessionFile,
    argv_session,
    classify,
    descendants,
    map_sessions,
    rollout_session,
    top_level,
    waiting_on_terminal,
)
from agentwatch.core.records import Agent
from agentwatch.infra.applog import LOG
from agentwatch.infra.session_files import claude_registry, claude_sessions, gemini_sessions

_STATUS = {
    psutil.STATUS_RUNNING: ProcStatus.RUNNING,
    psutil.STATUS_STOPPED: ProcStatus.SUSPENDED,
    psutil.STATUS_TRACING_STOP: ProcStatus.SUSPENDED,
    psutil.STATUS_ZOMBIE: ProcStatus.ZOMBIE,
    psutil.STATUS_DEAD: ProcStatus.ZOMBIE,
}
_ATTRS = ["pid", "ppid", "name", "cmdline", "username", "create_time", "status"]


def _status(raw: str | None) -> ProcStatus:
    return _STATUS.get(raw or "", ProcStatus.SLEEPING)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a pid is: `(pid, create_time)` plus the command line, re-checked before signals."""

    pid: int
    """Process id."""
    create_time: float
    """Start, epoch seconds (psutil's, stable for one process)."""
    cmdline: tuple[str, ...]
    """Command line when identified."""
    user: str | None = None
    """Owner, None when unreadable."""
    status: ProcStatus = field(default=ProcStatus.SLEEPING, compare=False)
    """State when read (not part of the identity)."""

    def same(self, other: Identity) -> bool:
        """Still the same process (not a reused pid, not a new program)?"""
        return (self.pid, self.create_time, self.cmdline) == (
            other.pid,
            other.create_time,
            other.cmdline,
        )

    def label(self) -> str:
        """`pid 123 (node cli.js --resume …)` for messages."""
        cmd = shlex.join(self.cmdline) if self.cmdline else "?"
        return f"pid {self.pid} ({cmd[:80] + '…' if len(cmd) > 80 else cmd})"


@dataclass(frozen=True, slots=True)
class ProcRow:
    """One process from the cheap pass over the whole table."""

    pid: int
    """Process id."""
    ppid: int
    """Parent pid (0 when unknown)."""
    name: str
    """The kernel's process name."""
    cmdline: tuple[str, ...]
    """Command line (empty for kernel threads, zombies, unreadable ones)."""
    user: str | None
    """Owner."""
    create_time: float
    """Start, epoch seconds."""
    status: ProcStatus
    """State."""

    @property
    def identity(self) -> Identity:
        """Its identity."""
        return Identity(self.pid, self.create_time, self.cmdline, self.user, self.status)


@dataclass(frozen=True, slots=True)
class ProcDetails:
    """The costlier facts, read for agent processes only."""

    cwd: str | None
    """Working directory, when readable."""
    rss_bytes: int
    """Resident memory."""
    terminal: str | None
    """Controlling terminal."""
    foreground: bool | None
    """In its terminal's foreground process group; None when unknown."""


class ProcessTable(Protocol):
    """The process table seam: psutil for real, a wrapper in tests (pid reuse, a signal log)."""

    def rows(self) -> list[ProcRow]:
        """Every process, one pass."""
        ...

    def details(self, pid: int, create_time: float) -> ProcDetails | None:
        """cwd, memory and terminal of one process; None when it is gone or was replaced."""
        ...

    def open_files(self, pid: int) -> tuple[str, ...]:
        """Paths of the regular files it holds open (empty when unreadable)."""
        ...

    def cpu_percent(self, pids: Sequence[int], interval: float) -> dict[int, float]:
        """CPU use per pid over `interval` seconds, or since the previous call when 0."""
        ...

    def identity(self, pid: int) -> Identity | None:
        """Who `pid` is now; None when it exited (a zombie has exited)."""
        ...

    def descendants(self, pid: int) -> list[Identity]:
        """Every living process below `pid`, parents before children."""
        ...

    def send_signal(self, pid: int, sig: signal.Signals) -> None:
        """Send `sig`; raises ProcessLookupError (gone) or PermissionError (denied)."""
        ...

    def wait_gone(self, procs: Sequence[Identity], timeout: float) -> list[Identity]:
        """Wait up to `timeout` s for `procs` to exit; return those still alive."""
        ...


def _foreground(pid: int) -> bool | None:
    """tpgid == pgrp from /proc/<pid>/stat (Linux); None elsewhere or when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    pgrp, tty_nr, tpgid = int(fields[2]), int(fields[4]), int(fields[5])
    return tty_nr != 0 and tpgid == pgrp


class PsutilTable:
    """The real process table. Keeps the psutil objects of the last pass for CPU deltas."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def rows(self) -> list[ProcRow]:
        """Every process, one psutil pass."""
        out: list[ProcRow] = []
        procs: dict[int, psutil.Process] = {}
        for p in psutil.process_iter(_ATTRS, ad_value=None):
            info = p.info
            if info.get("create_time") is None:
                continue
            procs[p.pid] = p  # process_iter hands back the same object while it lives
            out.append(
                ProcRow(
                    pid=p.pid,
                    ppid=info.get("ppid") or 0,
                    name=info.get("name") or "",
                    cmdline=tuple(info.get("cmdline") or ()),
                    user=info.get("username"),
                    create_time=info["create_time"],
                    status=_status(info.get("status")),
                )
            )
        self._procs = procs
        return out

    def details(self, pid: int, create_time: float) -> ProcDetails | None:
        """cwd, RSS and terminal of one process."""
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                if p.create_time() != create_time:
                    return None
                rss = p.memory_info().rss
                term = p.terminal() if hasattr(p, "terminal") else None
                try:
                    cwd: str | None = p.cwd() or None
                except (psutil.AccessDenied, psutil.ZombieProcess):
                    cwd = None
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return ProcDetails(cwd, rss, term, _foreground(pid) if term else False)

    def open_files(self, pid: int) -> tuple[str, ...]:
        """Regular files `pid` holds open."""
        try:
            return tuple(f.path for f in psutil.Process(pid).open_files())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return ()

    def cpu_percent(self, pids: Sequence[int], interval: float) -> dict[int, float]:
        """CPU per pid: sampled over `interval`, or since the last call (0.0 the first time)."""
        procs = {pid: self._procs.get(pid) or psutil.Process(pid) for pid in pids if pid > 0}
        if interval > 0:
            for p in procs.values():
                _cpu(p)
            time.sleep(interval)
        return {pid: _cpu(p) for pid, p in procs.items()}

    def identity(self, pid: int) -> Identity | None:
        """Who `pid` is now, None when gone or a zombie."""
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                status = p.status()
                if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                    return None
                try:
                    cmd = tuple(p.cmdline())
                except psutil.AccessDenied:
                    cmd = ()
                try:
                    user: str | None = p.username()
                except (psutil.AccessDenied, KeyError):
                    user = None
                return Identity(pid, p.create_time(), cmd, user, _status(status))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None

    def descendants(self, pid: int) -> list[Identity]:
        """Living processes below `pid`, breadth first."""
        try:
            kids = psutil.Process(pid).children(recursive=True)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return []
        return [i for c in kids if (i := self.identity(c.pid)) is not None]

    def send_signal(self, pid: int, sig: signal.Signals) -> None:
        """os.kill: the identity check happens just before, in the caller."""
        os.kill(pid, sig)

    def wait_gone(self, procs: Sequence[Identity], timeout: float) -> list[Identity]:
        """Poll with a deadline; a zombie or a reused pid counts as gone."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            alive = [p for p in procs if _running(p)]
            left = deadline - time.monotonic()
            if not alive or left <= 0:
                return alive
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.2)


def _running(ident: Identity) -> bool:
    """Not exited: same start time, not a zombie (an exiting process has lost its cmdline
    before it becomes one, so the command line is not compared here)."""
    try:
        p = psutil.Process(ident.pid)
        return bool(
            p.create_time() == ident.create_time
            and p.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
        )
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def _cpu(p: psutil.Process) -> float:
    try:
        return float(p.cpu_percent(None))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


# ---- discovery ---------------------------------------------------------------------------
def _rollouts(table: ProcessTable, pids: Iterable[int]) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for pid in pids:
        for path in table.open_files(pid):
            sid = rollout_session(path)
            if sid is not None:
                found.setdefault(sid, os.path.basename(path))
    return tuple(sorted(found, key=lambda s: found[s]))  # name order = start order


def discover(
    table: ProcessTable,
    claude_roots: Sequence[Path],
    *,
    cpu_interval: float = 0.0,
    gemini_roots: Sequence[Path] = (),
) -> list[AgentProcess]:
    """Every agent process, mapped to its session where the evidence allows.

    Args:
        table: the process table.
        claude_roots: Claude Code roots (the folders holding `projects/` and `sessions/`).
        cpu_interval: seconds to sample CPU over; 0 reports use since the previous call.
        gemini_roots: Gemini homes (`~/.gemini`): a Gemini process maps to the newest chat
            of its cwd's project written since it started (`likely`), as FORMATS section 5
            suggests; `--resume <uuid>` is exact.

    Returns:
        Agent processes, oldest first. Wrappers and relaunches of the same agent, shells and
        tool processes are in `children`, not rows of their own.
    """
    rows = table.rows()
    by_pid = {r.pid: r for r in rows}
    kids: dict[int, list[int]] = {}
    for r in rows:
        kids.setdefault(r.ppid, []).append(r.pid)
    cmds = {r.pid: c for r in rows if (c := classify(r.cmdline, r.name)) is not None}
    tops = top_level({r.pid: r.ppid for r in rows}, {pid: c.agent for pid, c in cmds.items()})
    facts: list[ProcFacts] = []
    info: dict[int, tuple[ProcDetails, list[int]]] = {}
    sessions_of: dict[str, tuple[SessionFile, ...]] = {}
    for pid in sorted(tops):
        row, cmd = by_pid[pid], cmds[pid]
        det = table.details(pid, row.create_time) or ProcDetails(None, 0, None, None)
        below = descendants(pid, kids)
        info[pid] = (det, below)
        registry: RegistryEntry | None = None
        project: tuple[SessionFile, ...] = ()
        rollouts: tuple[str, ...] = ()
        if cmd.agent is Agent.CLAUDE_CODE:
            registry = claude_registry(claude_roots, pid)
            if det.cwd and argv_session(cmd.agent, cmd.args).session_id is None:
                if det.cwd not in sessions_of:
                    sessions_of[det.cwd] = claude_sessions(claude_roots, det.cwd)
                project = sessions_of[det.cwd]
        elif cmd.agent is Agent.CODEX:
            rollouts = _rollouts(table, [pid, *below])
        elif cmd.agent is Agent.GEMINI and det.cwd and gemini_roots:
            key = f"gemini\0{det.cwd}"
            if key not in sessions_of:
                sessions_of[key] = gemini_sessions(gemini_roots, det.cwd)
            project = sessions_of[key]
        facts.append(
            ProcFacts(
                pid, cmd.agent, cmd.args, det.cwd, row.create_time, registry, rollouts, project
            )
        )
    cpu = table.cpu_percent(sorted(tops), cpu_interval)
    matches = map_sessions(facts)
    out: list[AgentProcess] = []
    for f in facts:
        row = by_pid[f.pid]
        det, below = info[f.pid]
        busy = sum(1 for c in below if c in by_pid and by_pid[c].status is ProcStatus.RUNNING)
        load = round(cpu.get(f.pid, 0.0), 1)
        out.append(
            AgentProcess(
                pid=f.pid,
                agent=f.agent,
                name=row.name,
                cmdline=row.cmdline,
                cwd=det.cwd,
                user=row.user or "",
                create_time=row.create_time,
                cpu_percent=load,
                rss_bytes=det.rss_bytes,
                children=tuple(below),
                status=row.status,
                terminal=det.terminal,
                waiting_on_terminal=waiting_on_terminal(
                    foreground=det.foreground,
                    status=row.status,
                    cpu_percent=load,
                    busy_children=busy,
                ),
                session=matches[f.pid],
            )
        )
    out.sort(key=lambda p: (p.create_time, p.pid))
    return out


class ProcessMonitor:
    """Discovery for a live view: at most one pass per `min_interval`; call from a worker."""

    def __init__(
        self,
        table: ProcessTable,
        claude_roots: Sequence[Path],
        *,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table, self.roots, self.min_interval, self.clock = (
            table,
            list(claude_roots),
            min_interval,
            clock,
        )
        self._lock = threading.Lock()
        self._last: float | None = None
        self._procs: list[AgentProcess] = []

    def poll(self) -> list[AgentProcess]:
        """Fresh processes, or the previous pass when it is younger than `min_interval`."""
        with self._lock:
            now = self.clock()
            if self._last is None or now - self._last >= self.min_interval:
                self._procs = discover(self.table, self.roots)
                self._last = now
            return list(self._procs)


# ---- signals -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Guard:
    """Who may never be signalled: other users' processes, agentwatch and its ancestors."""

    user: str | None
    """Our user name."""
    protected: frozenset[int]
    """Our pid and every ancestor's."""

    @classmethod
    def current(cls) -> Guard:
        """The guard for this process."""
        me = psutil.Process()
        pids = {me.pid, *(p.pid for p in me.parents())}
        return cls(me.username(), frozenset(pids))

    def refuse(self, ident: Identity) -> str | None:
        """Why `ident` must not be signalled, or None."""
        if ident.pid == os.getpid():
            return "it is agentwatch itself"
        if ident.pid in self.protected:
            return "it is an ancestor of agentwatch (agentwatch runs inside it)"
        if ident.user is None or ident.user != self.user:
            return f"it belongs to user {ident.user or '?'}"
        return None


@dataclass(slots=True)
class SignalReport:
    """What one signal did to a tree."""

    signal: str
    """`SIGTERM`, `SIGKILL`, `SIGSTOP`, `SIGCONT`."""
    sent: list[Identity] = field(default_factory=list)
    """Signalled."""
    exited: list[Identity] = field(default_factory=list)
    """Already gone before the signal: not an error."""
    refused: list[tuple[Identity, str]] = field(default_factory=list)
    """Not signalled: pid reused, another user's, ours; with the reason."""
    denied: list[Identity] = field(default_factory=list)
    """The kernel said no (AccessDenied)."""

    @property
    def ok(self) -> bool:
        """Nothing refused or denied."""
        return not self.refused and not self.denied


@dataclass(slots=True)
class KillReport:
    """`terminate_tree`'s outcome."""

    term: SignalReport
    """The SIGTERM."""
    kill: SignalReport | None = None
    """The escalation, when there was one."""
    survivors: list[Identity] = field(default_factory=list)
    """Still alive at the end."""

    @property
    def ok(self) -> bool:
        """Everything signalled is gone and nothing was refused or denied."""
        return self.term.ok and not self.survivors and (self.kill is None or self.kill.ok)


def _stopped(table: ProcessTable, pid: int, before: Identity) -> bool:
    """Stopped before the signal, or now: a SIGSTOP sent a moment ago may land late."""
    if before.status is ProcStatus.SUSPENDED:
        return True
    now = table.identity(pid)
    return now is not None and now.status is ProcStatus.SUSPENDED


def _send(
    table: ProcessTable,
    guard: Guard,
    ident: Identity,
    sig: signal.Signals,
    session: str | None,
    report: SignalReport,
    *,
    dry: bool = False,
) -> Identity | None:
    """Re-check identity, then signal (unless `dry`); record and log the outcome.

    Returns the process as it was just before the signal, or None when it was not signalled.
    """
    cur = table.identity(ident.pid)
    outcome = "sent"
    if cur is None or (cur.create_time == ident.create_time and ident.cmdline and not cur.cmdline):
        outcome = "already exited"  # (an exiting process loses its command line first)
        report.exited.append(ident)
    elif not cur.same(ident):
        outcome = "refused: pid reused or command line changed since it was identified"
        report.refused.append((ident, outcome[9:]))
    elif (why := guard.refuse(cur)) is not None:
        outcome = f"refused: {why}"
        report.refused.append((ident, why))
    elif dry:
        return cur
    else:
        try:
            table.send_signal(ident.pid, sig)
            report.sent.append(ident)
        except ProcessLookupError:
            outcome = "already exited"
            report.exited.append(ident)
        except PermissionError:
            outcome = "denied"
            report.denied.append(ident)
    LOG.info(
        "signal %s pid=%d session=%s outcome=%s cmdline=%s",
        sig.name,
        ident.pid,
        session or "-",
        outcome,
        shlex.join(ident.cmdline)[:300],
    )
    if outcome != "sent":
        return None
    if sig is signal.SIGTERM and cur is not None and _stopped(table, ident.pid, cur):
        # a stopped process acts on SIGTERM only once continued
        _send(table, guard, ident, signal.SIGCONT, session, SignalReport("SIGCONT"))
    return cur


def signal_tree(
    table: ProcessTable,
    target: Identity,
    sig: signal.Signals,
    *,
    session: str | None = None,
    guard: Guard | None = None,
) -> SignalReport:
    """Send `sig` to `target` and every process below it, each re-checked just before.

    SIGSTOP and SIGKILL go to the agent first (so it cannot react by spawning); SIGTERM and
    SIGCONT go to the children first, deepest first. A refused or exited agent stops the walk.
    """
    guard = Guard.current() if guard is None else guard
    report = SignalReport(sig.name)
    root_first = sig in (signal.SIGSTOP, signal.SIGKILL)
    if _send(table, guard, target, sig, session, report, dry=not root_first) is None:
        return report
    below = table.descendants(target.pid)
    for child in below if root_first else reversed(below):
        _send(table, guard, child, sig, session, report)
    if not root_first:
        _send(table, guard, target, sig, session, report)
    return report


def _spawned_since(
    table: ProcessTable, alive: Sequence[Identity], term: SignalReport
) -> list[Identity]:
    """Processes below the living members of the tree that the SIGTERM's walk did not see.
    Each parent's identity is checked before and after its children are listed, so a pid
    reused meanwhile is never walked."""
    known = {(i.pid, i.create_time) for i in (*term.sent, *term.exited)}
    known |= {(i.pid, i.create_time) for i, _ in term.refused}
    late: list[Identity] = []
    for ident in alive:
        if not _still(table, ident):
            continue
        kids = [k for k in table.descendants(ident.pid) if (k.pid, k.create_time) not in known]
        if kids and _still(table, ident):
            known |= {(k.pid, k.create_time) for k in kids}
            late += kids
    return late


def _still(table: ProcessTable, ident: Identity) -> bool:
    now = table.identity(ident.pid)
    return now is not None and now.same(ident)


def terminate_tree(
    table: ProcessTable,
    target: Identity,
    *,
    grace: float = 5.0,
    escalate: bool | Callable[[Sequence[Identity]], bool] = False,
    session: str | None = None,
    guard: Guard | None = None,
    kill_wait: float = 3.0,
) -> KillReport:
    """SIGTERM the tree, wait `grace` s, then SIGKILL survivors only if `escalate` says so.

    Args:
        table: the process table.
        target: the agent process, as identified when the user chose it.
        grace: seconds to wait after SIGTERM.
        escalate: True (`--force`), False, or a question asked with the survivors (a prompt).
        session: its session id, for the log.
        guard: who must not be signalled (default: this process's guard).
        kill_wait: seconds to wait after SIGKILL.

    Returns:
        What was signalled, and the survivors; never SIGKILL before the SIGTERM and the grace.
        Processes the surviving tree started after the SIGTERM (a trap that spawns, a child
        that forks) count as survivors: they are found below the living ones just before the
        question, and get the SIGKILL with them (they were started during the grace, so they
        never had a SIGTERM of their own).
    """
    guard = Guard.current() if guard is None else guard
    term = signal_tree(table, target, signal.SIGTERM, session=session, guard=guard)
    for ident in term.sent:  # one more look, the whole tree signalled: stopped ones continue
        now = table.identity(ident.pid)
        if now is not None and now.status is ProcStatus.SUSPENDED and now.same(ident):
            _send(table, guard, ident, signal.SIGCONT, session, SignalReport("SIGCONT"))
    alive = table.wait_gone(term.sent, grace) if term.sent else []
    if not alive:
        return KillReport(term)
    alive += _spawned_since(table, alive, term)
    go = escalate(alive) if callable(escalate) else escalate
    if not go:
        return KillReport(term, survivors=alive)
    kill = SignalReport("SIGKILL")
    for ident in sorted(alive, key=lambda i: i.pid != target.pid):  # the agent first
        _send(table, guard, ident, signal.SIGKILL, session, kill)
    left = table.wait_gone(alive, kill_wait if kill.sent else 0.0)
    return KillReport(term, kill, left)
