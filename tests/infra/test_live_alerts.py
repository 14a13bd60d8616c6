"""Live loop alerts and the tokens they report, with whole bursts arriving in one read.

The engine runs on real files in tmp dirs with an injected clock; the test drives its steps
(`changes.file` then `step`) so that which lines a read sees is fixed, not left to timing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentwatch.core.events import AlertEvent, Event, UsageEvent
from agentwatch.core.records import Agent as AgentKind
from agentwatch.core.records import ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.infra.files import Root
from agentwatch.infra.live import LiveEngine
from agentwatch.sources.claude_code import SOURCE
from tests.core.scenarios.agent import T0, Agent
from tests.fixtures.claude import ClaudeTree

LOOPER = "aaaaaaaa-1111-4111-8111-000000000001"
WORKER = "bbbbbbbb-2222-4222-8222-000000000002"
NOW = T0 + 150.0  # the scripted minutes end before "now"
FAIL = "FAIL src/cart.test.js\n  expected 2, got 1"


class Scene:
    """A looping session and a busy one in one tree, and an engine that reads it on demand."""

    def __init__(self, tree: ClaudeTree, *, worker_prefix: str) -> None:
        self.looper = Agent(tree, tree.main(LOOPER), "loop")
        self.worker = Agent(tree, tree.main(WORKER, cwd="/home/dev/blog"), "work")
        self.worker.prefix = worker_prefix  # its message and request ids: msg_<prefix>0001...
        self.looper.human("Make the test suite pass.")
        self.worker.human("Add a footer to the site.")
        self.events: list[Event] = []
        self.engine = LiveEngine(
            [Root(SOURCE, tree.root)], Tally(), self.events.append, clock=lambda: NOW
        )
        self.engine.open()

    def loop(self, times: int) -> None:
        for _ in range(times):
            self.looper.bash("npm test", FAIL, error=True)

    def work(self, start: int, stop: int) -> None:
        for i in range(start, stop):
            self.worker.read(f"src/page{i}.html")
            self.worker.edit(f"src/page{i}.html", added=3, removed=1)

    def read(self, *agents: Agent) -> None:
        """One engine step that reads everything appended to these agents' files so far."""
        for a in agents:
            self.engine.changes.file(str(a.t.path))
        self.engine.step()

    def alerts(self, session: str) -> list[AlertEvent]:
        return [
            e for e in self.events if isinstance(e, AlertEvent) and e.session.session_id == session
        ]

    def credited(self, session: str, start: float) -> int:
        """Tokens of the calls the tally credits to a session's main thread, from `start` on."""
        key = ThreadKey(AgentKind.CLAUDE_CODE, session)
        return sum(
            c.tokens.total
            for c in self.engine.tally.calls.values()
            if c.owner == key and c.ts is not None and start <= c.ts <= NOW
        )


@pytest.fixture
def scene(claude_tree: ClaudeTree) -> Iterator[Scene]:
    s = Scene(claude_tree, worker_prefix="w")
    yield s
    s.engine.stop()


@pytest.mark.parametrize("order", ["together", "worker_first", "looper_first"])
def test_a_loop_read_in_one_burst_reports_the_tokens_it_burned(scene: Scene, order: str) -> None:
    scene.loop(7)
    scene.work(0, 4)
    if order == "together":
        scene.read(scene.looper, scene.worker)
    elif order == "worker_first":
        scene.read(scene.worker)
        scene.read(scene.looper)
    else:
        scene.read(scene.looper)
        scene.read(scene.worker)
    (ev,) = scene.alerts(LOOPER)
    a = ev.alert
    assert (str(a.kind), a.evidence["count"]) == ("error_loop", 7)
    assert a.tokens > 0
    assert a.tokens == scene.credited(LOOPER, a.started_at)
    assert "0 tokens" not in a.reason
    usage = [e for e in scene.events if isinstance(e, UsageEvent) and e.thread.session_id == LOOPER]
    assert len(usage) == 7  # one per call: the looper's own ids are its own calls
    assert sum(e.delta.total for e in usage) == usage[-1].session_total.total >= a.tokens
    assert not scene.alerts(WORKER)


def test_calls_copied_across_sessions_count_for_the_credited_session_only(
    claude_tree: ClaudeTree,
) -> None:
    """What the e2e flake was: two scripted agents writing the SAME message and request ids.

    By FORMATS C4 those are one API call copied into two sessions, credited to the session
    ranked first (starts first, then ends first). Both start at the same instant here, so the
    credit follows whichever has ended first *so far*: while the worker's file is read only up
    to a point before the looper's end, the worker owns every shared call and the looper's
    alert honestly reports 0 tokens (never the same tokens twice). Once the worker runs past
    the looper, the credit moves and the alert's tokens follow it.
    """
    s = Scene(claude_tree, worker_prefix="m")  # the looper's prefix too: the ids collide
    try:
        s.loop(7)
        s.work(0, 4)
        s.read(s.worker)  # the worker's first four rounds, ending before the looper's last call
        s.read(s.looper)  # then the whole loop in one read
        (ev,) = s.alerts(LOOPER)
        assert ev.alert.tokens == 0 == s.credited(LOOPER, ev.alert.started_at)
        looper_key = ThreadKey(AgentKind.CLAUDE_CODE, LOOPER)
        assert s.engine.tally.sessions[looper_key].main.account.tokens.total == 0
        s.work(4, 7)  # the worker's clock passes the looper's: the looper now ends first
        s.read(s.worker)
        (now,) = s.engine.alerts[looper_key].values()
        assert now.alert_id == ev.alert.alert_id
        assert now.tokens > 0
        assert now.tokens == s.credited(LOOPER, now.started_at)
    finally:
        s.engine.stop()


def test_records_read_live_go_to_the_activity_model_only(scene: Scene) -> None:
    """A watch runs for hours: what it reads must not pile up a second time in the stats."""
    scene.loop(3)
    scene.read(scene.looper)
    looper = ThreadKey(AgentKind.CLAUDE_CODE, LOOPER)
    assert scene.engine.activity.sessions[looper].threads[looper].tool_calls == 3
    assert scene.engine.stats.activity == []
    assert scene.engine.stats.lines > 0  # (the stats do see the lines)
