"""The live engine on Gemini chats, with a real watchdog observer on real files: a legacy file
re-written in place (and caught half-written), JSONL re-writes and rewinds (negative deltas),
and a legacy session resumed as JSONL."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentwatch.core.events import Event, UsageEvent
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import Tokens
from agentwatch.infra.files import Root
from agentwatch.infra.live import LiveEngine, session_total
from agentwatch.sources import gemini
from tests.fixtures.gemini import (
    PRO,
    GeminiTree,
    gemini_msg,
    tokens,
    ts,
    user_msg,
)

WAIT = 10.0  # upper bound for an event to arrive; tests never sleep for a fixed time
S = "7f3c2a10-5b3d-4f6e-9a18-2d4c6b8e0f13"
MAIN = ThreadKey(Agent.GEMINI, S)


class Collector:
    """Events from the engine thread, waited on with a bound."""

    def __init__(self) -> None:
        self.q: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []

    def __call__(self, ev: Event) -> None:
        self.q.put(ev)

    def usage(self, pred: Callable[[UsageEvent], bool], what: str) -> UsageEvent:
        while True:
            try:
                ev = self.q.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no event within {WAIT}s: {what}; saw {self.seen[-5:]}")
            self.seen.append(ev)
            if isinstance(ev, UsageEvent) and pred(ev):
                return ev


@pytest.fixture
def tree(tmp_path: Path) -> GeminiTree:
    t = GeminiTree(tmp_path / ".gemini")
    t.root.mkdir()
    return t


@pytest.fixture
def live(tree: GeminiTree) -> Iterator[tuple[LiveEngine, Collector]]:
    events = Collector()
    eng = LiveEngine([Root(gemini.SOURCE, tree.root)], Tally(), events, tick=0.05)
    yield eng, events
    eng.stop()


def total(eng: LiveEngine) -> Tokens:
    return session_total(eng.tally.sessions[MAIN])


def msg(mid: str) -> Callable[[UsageEvent], bool]:
    return lambda e: e.message_id == mid


def test_legacy_file_rewritten_in_place(
    tree: GeminiTree, live: tuple[LiveEngine, Collector]
) -> None:
    eng, events = live
    project = tree.project("garden", "/home/dev/garden")
    c = tree.legacy(project, S, ts(0))
    c.upsert(user_msg("u1", ts(0, 1)))
    c.upsert(gemini_msg("g1", ts(0, 2), PRO, tokens(1000, 100, 600, 10)))
    c.write()
    eng.open()
    eng.start()
    assert total(eng) == Tokens(input=400, output=110, cache_read=600, reasoning=10)
    # A re-write that adds a message: only the new one counts.
    c.upsert(user_msg("u2", ts(1)))
    c.upsert(gemini_msg("g2", ts(1, 1), PRO, tokens(2000, 200, 1500)))
    c.write()
    ev = events.usage(msg("g2"), "the added message")
    assert ev.delta == Tokens(input=500, output=200, cache_read=1500)
    assert ev.session_total == Tokens(input=900, output=310, cache_read=2100, reasoning=10)
    # A re-write without g2 (a rewind) takes it back.
    c.drop_from("u2")
    c.write()
    ev = events.usage(msg("g2"), "g2 taken back")
    assert ev.delta == Tokens(input=-500, output=-200, cache_read=-1500)
    assert ev.session_total == Tokens(input=400, output=110, cache_read=600, reasoning=10)
    assert total(eng) == ev.session_total
    assert eng.tally.sessions[MAIN].main.cwd == "/home/dev/garden"
    assert not [e for e in events.seen if isinstance(e, UsageEvent) and e.message_id == "g1"]


def test_jsonl_rewrites_and_rewinds_are_negative_deltas(
    tree: GeminiTree, live: tuple[LiveEngine, Collector]
) -> None:
    eng, events = live
    c = tree.chat(tree.project("garden"), S, ts(0))
    c.meta(ts(0))
    c.user("u1", ts(0, 1))
    c.gemini("g1", ts(0, 2), usage=tokens(1000, 100))
    eng.open()
    eng.start()
    assert total(eng) == Tokens(input=1000, output=100)
    c.gemini("g1", ts(0, 2), usage=tokens(1000, 60))  # re-written smaller: last wins
    ev = events.usage(msg("g1"), "g1 re-written")
    assert ev.delta == Tokens(output=-40)
    c.user("u2", ts(1))
    c.gemini("g2", ts(1, 1), usage=tokens(3000, 300, 2000, 30))
    ev = events.usage(msg("g2"), "g2")
    assert ev.delta == Tokens(input=1000, output=330, cache_read=2000, reasoning=30)
    c.rewind("u2")
    ev = events.usage(msg("g2"), "g2 rewound")
    assert ev.delta == Tokens(input=-1000, output=-330, cache_read=-2000, reasoning=-30)
    assert ev.session_total == Tokens(input=1000, output=60)
    assert eng.tally.total.tokens == Tokens(input=1000, output=60)


def test_legacy_session_resumed_as_jsonl_counts_once(
    tree: GeminiTree, live: tuple[LiveEngine, Collector]
) -> None:
    eng, events = live
    c = tree.legacy(tree.project("garden"), S, ts(0))
    c.upsert(user_msg("u1", ts(0, 1)))
    c.upsert(gemini_msg("g1", ts(0, 2), PRO, tokens(1000, 100)))
    c.write()
    eng.open()
    eng.start()
    chat = tree.resume_legacy(c)
    chat.user("u2", ts(1))
    chat.gemini("g2", ts(1, 1), usage=tokens(50, 5))
    ev = events.usage(msg("g2"), "the resumed chat's new message")
    assert ev.session_total == Tokens(input=1050, output=105)
    chat.rewind("u1")
    ev = events.usage(lambda e: e.message_id == "g2" and e.delta.total < 0, "g2 rewound")
    assert ev.session_total == Tokens()
    taken = [e.delta for e in events.seen if isinstance(e, UsageEvent) and e.delta.total < 0]
    assert sum(taken, Tokens()) == Tokens(input=-1050, output=-105)
    assert total(eng) == Tokens()


def test_half_written_legacy_file_is_retried_on_the_next_change(tree: GeminiTree) -> None:
    """Engine steps driven by hand (no engine thread), so the torn state is surely read."""
    got: list[Event] = []
    eng = LiveEngine([Root(gemini.SOURCE, tree.root)], Tally(), got.append)
    c = tree.legacy(tree.project("garden"), S, ts(0))
    c.upsert(gemini_msg("g1", ts(0, 2), PRO, tokens(1000, 100)))
    c.write()
    try:
        eng.open()
        c.upsert(gemini_msg("g2", ts(1, 1), PRO, tokens(2000, 200)))
        for n in (0, len(c.doc()) // 2):
            c.write_partial(n)
            eng.changes.file(str(c.path))
            eng.step()
            assert not [e for e in got if isinstance(e, UsageEvent)]
            assert total(eng) == Tokens(input=1000, output=100)
        c.write()
        eng.changes.file(str(c.path))
        eng.step()
        (ev,) = [e for e in got if isinstance(e, UsageEvent)]
        assert (ev.message_id, ev.delta) == ("g2", Tokens(input=2000, output=200))
        assert total(eng) == Tokens(input=3000, output=300)
        assert not eng.stats.skipped_files
    finally:
        eng.stop()
