"""End to end: the tests' own appender drives one live session into a loop; `watch --jsonl`
raises an alert naming that session and no other."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from typing import Any

from tests.conftest import BIN, AgentSpawner
from tests.core.scenarios.agent import T0, Agent
from tests.fixtures.claude import ClaudeTree
from tests.infra.test_procs import bin_claude, stopped
from tests.infra.test_procs import until as wait_for

LOOPER = "aaaaaaaa-1111-4111-8111-000000000001"
WORKER = "bbbbbbbb-2222-4222-8222-000000000002"
WAIT = 20.0


def events_of(p: subprocess.Popen[bytes]) -> queue.Queue[dict[str, Any]]:
    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def pump() -> None:
        assert p.stdout is not None
        for line in p.stdout:
            q.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()
    return q


def until(
    q: queue.Queue[dict[str, Any]], pred: Any, what: str, seen: list[dict[str, Any]]
) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            ev = q.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"no {what} within {WAIT}s; saw {[e['event'] for e in seen]}"
            ) from None
        seen.append(ev)
        if pred(ev):
            return ev


def test_a_live_loop_raises_an_alert_for_that_session_only(claude_tree: ClaudeTree, cli_env):
    start = time.time() - 150  # the scripted minutes end before "now": detectors see them
    looper = Agent(claude_tree, claude_tree.main(LOOPER), "loop", clock=start - T0)
    worker = Agent(
        claude_tree, claude_tree.main(WORKER, cwd="/home/dev/blog"), "work", clock=start - T0
    )
    # Its own message and request ids: shared ids would make both sessions' calls one call
    # copied across them (FORMATS C4), credited to whichever ranks first as the reads land.
    worker.prefix = "w"
    looper.human("Make the test suite pass.")
    worker.human("Add a footer to the site.")
    p = subprocess.Popen(
        [str(BIN), "watch", "--jsonl", "--claude-dir", str(claude_tree.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    seen: list[dict[str, Any]] = []
    try:
        q = events_of(p)
        until(q, lambda e: e["event"] == "ready", "ready", seen)
        for i in range(7):  # the same failing command, again and again, nothing edited
            looper.bash("npm test", "FAIL src/cart.test.js\n  expected 2, got 1", error=True)
            worker.read(f"src/page{i}.html")
            worker.edit(f"src/page{i}.html", added=3, removed=1)
        alert = until(q, lambda e: e["event"] == "alert", "alert", seen)
        assert alert["session_id"] == LOOPER
        assert alert["kind"] == "error_loop"
        assert "npm test" in alert["reason"]
        assert alert["tokens"] > 0
        until(
            q,
            lambda e: e["event"] == "session_status" and e["to"] == "looping",
            "looping status",
            seen,
        )
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=WAIT) == 0
        while not q.empty():
            seen.append(q.get())
        assert all(e.get("session_id") != WORKER for e in seen if e["event"] == "alert")
    finally:
        p.kill()


def test_on_loop_suspend_stops_the_looping_agent_after_the_grace(
    claude_tree: ClaudeTree, cli_env, spawner: AgentSpawner
):
    start = time.time() - 150
    looper = Agent(claude_tree, claude_tree.main(LOOPER), "loop", clock=start - T0)
    looper.human("Make the test suite pass.")
    agent = spawner.start(bin_claude(spawner, "--session-id", LOOPER))
    bystander = spawner.start(bin_claude(spawner, "--session-id", WORKER))
    p = subprocess.Popen(
        [
            *(str(BIN), "watch", "--jsonl", "--claude-dir", str(claude_tree.root)),
            *("--on-loop", "suspend", "--on-loop-grace", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    seen: list[dict[str, Any]] = []
    try:
        q = events_of(p)
        until(q, lambda e: e["event"] == "ready", "ready", seen)
        for _ in range(7):
            looper.bash("npm test", "FAIL src/cart.test.js\n  expected 2, got 1", error=True)
        act = until(q, lambda e: e["event"] == "loop_action", "loop_action", seen)
        assert act["session_id"] == LOOPER
        assert act["action"] == "suspend"
        assert act["ok"] is True, act["message"]
        assert act["pids"] == [agent.pid]
        wait_for(lambda: stopped(agent.pid), "the looping agent to stop")
        assert not stopped(bystander.pid)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=WAIT) == 0
    finally:
        p.kill()
