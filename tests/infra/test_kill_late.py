"""`terminate_tree` and processes that appear during the grace: a scripted process table
(the seam), so a pid reused at the worst moment can be staged exactly."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence

from agentwatch.infra.procs import Guard, Identity, ProcessTable, terminate_tree

ME = "dev"
GUARD = Guard(ME, frozenset({1}))


def who(pid: int, cmd: str, started: float) -> Identity:
    return Identity(pid, started, tuple(cmd.split()), ME)


class Staged:
    """A process table whose tree changes when the SIGTERM lands (`late_kids`) and right
    after the grace (`after_grace`: a pid that exits and is reused by a stranger)."""

    def __init__(self, agent: Identity) -> None:
        self.procs: dict[int, Identity] = {agent.pid: agent}
        self.kids: dict[int, list[int]] = {agent.pid: []}
        self.late_kids: dict[int, list[Identity]] = {}
        self.after_grace: dict[int, Identity] = {}
        self.sent: list[tuple[int, signal.Signals]] = []

    def identity(self, pid: int) -> Identity | None:
        return self.procs.get(pid)

    def descendants(self, pid: int) -> list[Identity]:
        return [self.procs[k] for k in self.kids.get(pid, []) if k in self.procs]

    def send_signal(self, pid: int, sig: signal.Signals) -> None:
        self.sent.append((pid, sig))
        if sig is signal.SIGTERM:
            for parent, kids in self.late_kids.items():
                for k in kids:
                    self.procs[k.pid] = k
                    self.kids.setdefault(parent, []).append(k.pid)

    def wait_gone(self, procs: Sequence[Identity], timeout: float) -> list[Identity]:
        del timeout
        alive = [p for p in procs if (cur := self.procs.get(p.pid)) is not None and cur.same(p)]
        for pid, stranger in self.after_grace.items():  # exits now; its pid is reused at once
            self.procs[pid] = stranger
            for kids in self.kids.values():
                if pid in kids:
                    kids.remove(pid)
        return alive


def as_table(t: Staged) -> ProcessTable:
    """Staged implements only what terminate_tree uses."""
    return t  # type: ignore[return-value]


def test_a_child_started_during_the_grace_is_killed_with_the_agent() -> None:
    t0 = time.time()
    agent = who(100, "claude", t0 - 60)
    table = Staged(agent)
    late = who(101, "sh -c cleanup", t0 + 0.5)
    table.late_kids[100] = [late]
    rep = terminate_tree(as_table(table), agent, grace=0, escalate=True, guard=GUARD)
    assert table.sent == [(100, signal.SIGTERM), (100, signal.SIGKILL), (101, signal.SIGKILL)]
    assert rep.kill is not None
    assert [i.pid for i in rep.kill.sent] == [100, 101]


def test_a_survivor_whose_pid_was_reused_is_not_walked() -> None:
    t0 = time.time()
    agent = who(100, "claude", t0 - 60)
    helper = who(200, "node helper.js", t0 - 30)
    table = Staged(agent)
    table.procs[200] = helper
    table.kids[100] = [200]
    # the helper survives the grace, then exits and its pid goes to an editor with a child
    table.after_grace = {200: who(200, "vim notes.txt", t0 + 0.2)}
    table.kids[200] = [201]
    table.procs[201] = who(201, "vim-helper", t0 + 0.3)
    rep = terminate_tree(as_table(table), agent, grace=0, escalate=True, guard=GUARD)
    killed = [pid for pid, sig in table.sent if sig is signal.SIGKILL]
    assert killed == [100]  # the editor and its child: refused (not the helper) or never seen
    assert rep.kill is not None
    assert [i.pid for i, _ in rep.kill.refused] == [200]


def test_an_old_process_the_guard_refused_is_not_asked_about_again() -> None:
    t0 = time.time()
    agent = who(100, "claude", t0 - 60)
    table = Staged(agent)
    root_owned = Identity(150, t0 - 50, ("sudo", "apt", "update"), "root")
    table.procs[150] = root_owned
    table.kids[100] = [150]
    asked: list[list[int]] = []

    def confirm(alive: Sequence[Identity]) -> bool:
        asked.append([i.pid for i in alive])
        return False

    terminate_tree(as_table(table), agent, grace=0, escalate=confirm, guard=GUARD)
    assert asked == [[100]]
