"""The live engine with a real watchdog observer on real files in tmp dirs."""

from __future__ import annotations

import errno
import json
import os
import queue
import shutil
import threading
from collections.abc import Iterator

import pytest
from watchdog.observers import Observer

from agentwatch.core.events import Event, StatusEvent, UsageEvent, WarningEvent
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import Tally
from agentwatch.core.tokens import Tokens
from agentwatch.infra.files import Root
from agentwatch.infra.live import LiveEngine, session_total
from agentwatch.sources.claude_code import SOURCE
from tests.fixtures.claude import ClaudeTree, Transcript, ts, usage

WAIT = 10.0  # upper bound for an event to arrive; tests never sleep for a fixed time


class Collector:
    """Events from the engine thread, waited on with a bound."""

    def __init__(self) -> None:
        self.q: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []

    def __call__(self, ev: Event) -> None:
        self.q.put(ev)

    def until(self, pred: object, what: str) -> Event:
        assert callable(pred)
        while True:
            try:
                ev = self.q.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no event within {WAIT}s: {what}; saw {self.seen[-5:]}")
            self.seen.append(ev)
            if pred(ev):
                return ev


@pytest.fixture
def engine(claude_tree: ClaudeTree) -> Iterator[tuple[LiveEngine, Collector]]:
    events = Collector()
    eng = LiveEngine([Root(SOURCE, claude_tree.root)], Tally(), events, tick=0.05)
    yield eng, events
    eng.stop()


def start(eng: LiveEngine) -> None:
    eng.open()
    eng.start()


def total_of(eng: LiveEngine, session_id: str) -> Tokens:
    return session_total(eng.tally.sessions[ThreadKey(Agent.CLAUDE_CODE, session_id)])


def line(t: Transcript, msg: str, req: str, out: int, minute: int) -> bytes:
    d = t.envelope(
        "assistant",
        ts(minute),
        requestId=req,
        message={
            "id": msg,
            "model": "m",
            "role": "assistant",
            "content": [],
            "usage": usage(inp=1, out=out, cr=100),
        },
    )
    return (json.dumps(d) + "\n").encode()


def is_usage(msg: str) -> object:
    return lambda e: isinstance(e, UsageEvent) and e.message_id == msg


def test_appended_line_in_two_pieces_counts_once_when_complete(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.assistant("m0", "r0", usage(inp=1, out=10), ts(0))
    start(eng)
    assert total_of(eng, "s1").total == 11
    data = line(t, "m1", "r1", 50, 1)
    t.raw(data[:20])
    t.raw(data[20:])
    ev = events.until(is_usage("m1"), "usage for m1")
    assert isinstance(ev, UsageEvent)
    assert ev.delta == Tokens(input=1, output=50, cache_read=100)
    assert ev.session_total.total == 11 + 151


def test_streamed_line_growing_is_a_delta_not_a_new_count(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m1", "r1", 8, 0))
    start(eng)
    assert total_of(eng, "s1").output == 8
    t.raw(line(t, "m1", "r1", 377, 0))
    ev = events.until(is_usage("m1"), "growth of m1")
    assert isinstance(ev, UsageEvent)
    assert ev.delta == Tokens(output=369)
    assert total_of(eng, "s1").output == 377
    t.raw(line(t, "m1", "r1", 100, 0))  # a smaller copy changes nothing
    t.raw(line(t, "m2", "r2", 5, 1))
    events.until(is_usage("m2"), "m2")
    assert total_of(eng, "s1").output == 382


def test_truncate_and_rewrite_keeps_counts_exact(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m1", "r1", 10, 0) + line(t, "m2", "r2", 20, 1))
    start(eng)
    before = total_of(eng, "s1")
    # Claude Code truncates in place after a streaming error, then writes again.
    with t.path.open("r+b") as fh:
        fh.truncate(0)
    t.raw(line(t, "m1", "r1", 10, 0) + line(t, "m3", "r3", 30, 2))
    events.until(is_usage("m3"), "m3 after truncation")
    assert total_of(eng, "s1").output == before.output + 30


def test_rotate_and_recreate_reads_the_new_file(claude_tree, engine, tmp_path):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m1", "r1", 10, 0))
    start(eng)
    os.replace(t.path, tmp_path / "old.jsonl")  # rotated away
    t.raw(line(t, "m1", "r1", 10, 0) + line(t, "m2", "r2", 7, 1))
    events.until(is_usage("m2"), "m2 in the recreated file")
    assert total_of(eng, "s1").output == 17


def test_deleted_file_keeps_its_counts(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m1", "r1", 10, 0))
    other = claude_tree.main("s2")
    start(eng)
    t.path.unlink()
    other.raw(line(other, "m9", "r9", 3, 1))
    events.until(is_usage("m9"), "a change after the delete")
    assert total_of(eng, "s1").output == 10


def test_new_subagents_folder_is_picked_up(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m1", "r1", 10, 0))
    start(eng)
    sub = claude_tree.subagent(t, "a1b2c3d")
    sub.raw(line(sub, "m2", "r2", 40, 1))
    ev = events.until(is_usage("m2"), "sub-agent usage")
    assert isinstance(ev, UsageEvent)
    assert ev.thread == ThreadKey(Agent.CLAUDE_CODE, "s1", "a1b2c3d")
    assert ev.session_total.output == 50


def test_file_held_open_by_the_writer(claude_tree, engine):
    eng, events = engine
    t = claude_tree.main("s1")
    t.raw(line(t, "m0", "r0", 1, 0))
    start(eng)
    with t.path.open("ab", buffering=0) as fh:  # Codex-style: one fd stays open
        for i in range(1, 4):
            fh.write(line(t, f"m{i}", f"r{i}", i, i))
            events.until(is_usage(f"m{i}"), f"m{i} from the open fd")
    assert total_of(eng, "s1").output == 1 + 1 + 2 + 3


def test_burst_of_many_files_counts_every_one(claude_tree, engine):
    eng, events = engine
    claude_tree.main("seed").raw(b"")
    start(eng)
    staging = claude_tree.root / "staging"
    n = 1000
    for i in range(n):
        folder = staging / f"p{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        t = Transcript(folder / f"s{i:04d}.jsonl", f"s{i:04d}")
        t.raw(line(t, f"m{i}", f"r{i}", 1, 0))
    # Appear at once: move whole project folders in.
    for i in range(10):
        shutil.move(str(staging / f"p{i}"), str(claude_tree.root / "projects" / f"p{i}"))
    got: set[str] = set()

    def all_seen(e: Event) -> bool:
        if isinstance(e, UsageEvent) and e.message_id:
            got.add(e.message_id)
        return len(got) == n

    events.until(all_seen, "usage for all 1000 files")
    assert sum(total_of(eng, f"s{i:04d}").output for i in range(n)) == n


def test_new_session_status_and_idle_transition(claude_tree):
    now = [1_770_113_000.0]
    events = Collector()
    eng = LiveEngine(
        [Root(SOURCE, claude_tree.root)],
        Tally(),
        events,
        clock=lambda: now[0],
        idle_after=300,
        tick=0.05,
    )
    try:
        start(eng)
        t = claude_tree.main("s1")
        d = t.envelope(
            "assistant",
            "2026-02-03T10:03:20.000Z",
            requestId="r1",
            message={"id": "m1", "model": "m", "content": [], "usage": usage(out=5)},
        )
        t.raw(json.dumps(d) + "\n")
        ev = events.until(lambda e: isinstance(e, StatusEvent), "new session status")
        assert isinstance(ev, StatusEvent)
        assert (ev.old, str(ev.new)) == (None, "active")
        now[0] += 301  # injected clock: no sleeping for five minutes
        ev = events.until(lambda e: isinstance(e, StatusEvent), "idle transition")
        assert isinstance(ev, StatusEvent)
        assert (str(ev.old), str(ev.new)) == ("active", "idle")
    finally:
        eng.stop()


def test_events_arrive_on_the_engine_thread_not_the_callers(claude_tree, engine):
    eng, _ = engine
    threads: list[str] = []
    done = threading.Event()

    def emit(ev: Event) -> None:
        threads.append(threading.current_thread().name)
        done.set()

    eng.emit = emit
    t = claude_tree.main("s1")
    start(eng)
    t.raw(line(t, "m1", "r1", 1, 0))
    assert done.wait(WAIT)
    assert threads[0] == "agentwatch-live"


class NoInotify(Observer):  # type: ignore[misc,valid-type]
    """A native observer whose watches are refused, as when inotify watches run out."""

    def schedule(self, *args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_falls_back_to_polling_and_says_so(claude_tree):
    events = Collector()
    eng = LiveEngine(
        [Root(SOURCE, claude_tree.root)],
        Tally(),
        events,
        tick=0.05,
        poll_interval=0.1,
        observer=NoInotify,
    )
    try:
        t = claude_tree.main("s1")
        t.raw(line(t, "m0", "r0", 1, 0))
        start(eng)
        warning = events.until(lambda e: isinstance(e, WarningEvent), "a polling warning")
        assert isinstance(warning, WarningEvent)
        assert "polling" in warning.message
        assert "inotify watch limit reached" in warning.message
        t.raw(line(t, "m1", "r1", 9, 1))
        events.until(is_usage("m1"), "usage seen by the polling observer")
        assert total_of(eng, "s1").output == 10
    finally:
        eng.stop()
