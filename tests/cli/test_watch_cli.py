"""`agentwatch watch --jsonl` as a user runs it: the installed script in a subprocess."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN
from tests.fixtures.claude import ClaudeTree, usage

WAIT = 15.0


def now_iso(offset: float = 0.0) -> str:
    t = time.time() + offset
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


class Watch:
    """The process, with its stdout lines read on a thread (a bounded wait per line)."""

    def __init__(self, root: Path, env: dict[str, str], *, pump: bool = True) -> None:
        self.p = subprocess.Popen(
            [str(BIN), "watch", "--jsonl", "--claude-dir", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        if pump:
            threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        try:
            for line in self.p.stdout:
                self.lines.put(line)
        except ValueError:  # the test closed stdout
            pass
        self.lines.put(b"")

    def next(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail("watch printed nothing in time")
        assert line, "watch ended early"
        return json.loads(line)

    def until(self, event: str) -> dict[str, Any]:
        while True:
            ev = self.next()
            if ev["event"] == event:
                return ev


@pytest.fixture
def live_tree(claude_tree: ClaudeTree) -> ClaudeTree:
    t = claude_tree.main("11111111-aaaa-4bbb-8ccc-000000000001")
    t.assistant("m0", "r0", usage(inp=2, out=20, cr=300), now_iso(-60))
    old = claude_tree.main("22222222-aaaa-4bbb-8ccc-000000000002")
    old.assistant("m9", "r9", usage(inp=1, out=1), "2020-01-01T00:00:00.000Z")
    return claude_tree


def test_snapshot_ready_usage_then_sigterm_exits_0(live_tree, cli_env):
    w = Watch(live_tree.root, cli_env)
    try:
        snap = w.next()
        assert snap["event"] == "snapshot"
        assert snap["session"]["session_id"].startswith(
            "11111111"
        )  # the 2020 session is not recent
        assert snap["session"]["total_tokens"]["total"] == 322
        assert w.next()["event"] == "ready"
        t = live_tree.main("11111111-aaaa-4bbb-8ccc-000000000001")
        t.assistant("m1", "r1", usage(inp=3, out=40, cw5=10), now_iso())
        ev = w.until("usage")
        assert (ev["message_id"], ev["request_id"], ev["agent_id"]) == ("m1", "r1", None)
        assert ev["delta"] == {
            "input": 3,
            "output": 40,
            "cache_write": 10,
            "cache_write_1h": 0,
            "cache_read": 0,
            "reasoning": 0,
            "total": 53,
        }
        assert ev["session_total"]["total"] == 322 + 53
        assert ev["ts"].endswith("Z")
        assert len(ev["ts"]) == 24
        w.p.send_signal(signal.SIGTERM)
        assert w.p.wait(timeout=WAIT) == 0
    finally:
        w.p.kill()


def test_new_session_emits_status_from_null(live_tree, cli_env):
    w = Watch(live_tree.root, cli_env)
    try:
        w.until("ready")
        t = live_tree.main("33333333-aaaa-4bbb-8ccc-000000000003")
        t.assistant("m5", "r5", usage(out=5), now_iso())
        ev = w.until("session_status")
        assert ev["session_id"] == "33333333-aaaa-4bbb-8ccc-000000000003"
        assert (ev["from"], ev["to"]) == (None, "active")
        w.p.send_signal(signal.SIGINT)
        assert w.p.wait(timeout=WAIT) == 0
    finally:
        w.p.kill()


def test_closed_stdout_exits_0(live_tree, cli_env):
    w = Watch(live_tree.root, cli_env, pump=False)  # no reader thread may hold the pipe open
    try:
        assert w.p.stdout is not None
        assert json.loads(w.p.stdout.readline())["event"] == "snapshot"
        assert json.loads(w.p.stdout.readline())["event"] == "ready"
        w.p.stdout.close()  # the reading end goes away, like `agentwatch watch --jsonl | head -2`
        t = live_tree.main("11111111-aaaa-4bbb-8ccc-000000000001")
        for i in range(3):
            t.assistant(f"mx{i}", f"rx{i}", usage(out=1), now_iso())
        assert w.p.wait(timeout=WAIT) == 0
        assert w.p.stderr is not None
        assert "Traceback" not in w.p.stderr.read().decode()
    finally:
        w.p.kill()


def test_watch_without_jsonl_is_a_usage_error(agentwatch, live_tree):
    r = agentwatch("watch", "--claude-dir", str(live_tree.root))
    assert r.code == 2
    assert "--jsonl" in r.err
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
