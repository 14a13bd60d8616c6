"""`agentwatch watch --jsonl --gemini-dir X` as a user runs it: a Gemini rewind is a usage
event with a negative delta, and `session_total` follows it."""

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
from tests.fixtures.gemini import FLASH, GeminiTree, tokens

WAIT = 15.0
S = "7f3c2a10-5b3d-4f6e-9a18-2d4c6b8e0f13"


def now_iso(offset: float = 0.0) -> str:
    t = time.time() + offset
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


class Watch:
    """The process, with its stdout lines read on a thread (a bounded wait per line)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [str(BIN), "watch", "--jsonl", "--gemini-dir", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def until(self, event: str) -> dict[str, Any]:
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"watch printed no {event!r} in time")
            assert line, "watch ended early"
            ev: dict[str, Any] = json.loads(line)
            if ev["event"] == event:
                return ev


def test_rewind_streams_a_negative_delta(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = GeminiTree(tmp_path / ".gemini")
    chat = tree.chat(tree.project("garden", "/home/dev/garden"), S, now_iso(-120))
    chat.meta(now_iso(-120))
    chat.user("u1", now_iso(-119))
    chat.gemini("g1", now_iso(-118), FLASH, tokens(2000, 50, 1500, 20))
    w = Watch(tree.root, cli_env)
    try:
        snap = w.until("snapshot")
        assert (snap["session"]["agent"], snap["session"]["session_id"]) == ("gemini", S)
        assert snap["session"]["project"] == "/home/dev/garden"
        assert snap["session"]["total_tokens"]["total"] == 2070
        w.until("ready")
        chat.user("u2", now_iso())
        chat.gemini("g2", now_iso(), FLASH, tokens(3000, 100, 2500))
        ev = w.until("usage")
        assert (ev["agent"], ev["session_id"], ev["message_id"]) == ("gemini", S, "g2")
        assert ev["delta"]["total"] == 3100
        chat.rewind("u2")
        ev = w.until("usage")
        assert ev["message_id"] == "g2"
        assert ev["delta"] == {
            "input": -500,
            "output": -100,
            "cache_write": 0,
            "cache_write_1h": 0,
            "cache_read": -2500,
            "reasoning": 0,
            "total": -3100,
        }
        assert ev["session_total"]["total"] == 2070
        w.p.send_signal(signal.SIGTERM)
        assert w.p.wait(timeout=WAIT) == 0
    finally:
        w.p.kill()
