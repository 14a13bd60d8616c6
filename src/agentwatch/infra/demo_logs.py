"""Log writers for the demo: Claude Code transcripts and Codex rollouts (FORMATS.md 1 and 2).

Every line is appended the way the agents do it (open, write one whole line, close), and a
ledger keeps the exact tokens a correct counter must find in what was written so far.
"""

from __future__ import annotations

import json
import os
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tokens import Tokens

_B62 = string.ascii_letters + string.digits


def iso(t: float) -> str:
    """`2026-02-03T10:14:07.512Z` for epoch seconds `t` (UTC, milliseconds)."""
    ms = round(t * 1000)
    day = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{day}.{ms % 1000:03d}Z"


def append_line(path: Path, obj: dict[str, Any]) -> str:
    """Append one JSON line (created 0600 like Claude Code's files); returns the text."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)
    return text


class Ids:
    """Ids shaped like the agents' own, from a seeded generator (reproducible runs)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _b62(self, n: int) -> str:
        return "".join(self.rng.choice(_B62) for _ in range(n))

    def uuid4(self) -> str:
        """A version-4 uuid."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def uuid7(self, t: float) -> str:
        """A version-7 uuid (Codex thread ids): the time in front, random bits behind."""
        raw = (int(t * 1000) << 80) | self.rng.getrandbits(80)
        raw = (raw & ~(0xF << 76)) | (0x7 << 76)  # version 7
        raw = (raw & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return str(uuid.UUID(int=raw))

    def msg(self) -> str:
        """A Claude `message.id`."""
        return "msg_01" + self._b62(22)

    def req(self) -> str:
        """A Claude `requestId`."""
        return "req_011C" + self._b62(20)

    def toolu(self) -> str:
        """A Claude `tool_use.id`."""
        return "toolu_01" + self._b62(22)

    def call(self) -> str:
        """A Codex `call_id`."""
        return "call_" + self._b62(24)

    def hex(self, n: int) -> str:
        """`n` hex digits."""
        return f"{self.rng.getrandbits(4 * n):0{n}x}"


class Ledger:
    """The tokens written so far, per thread: each API call at its largest usage (C3)."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], tuple[ThreadKey, Tokens]] = {}
        self.lines = 0
        """Lines written, all files."""

    def call(self, thread: ThreadKey, key: tuple[str, ...], tokens: Tokens) -> None:
        """A call's usage as logged now; a larger one replaces a smaller one."""
        old = self._calls.get(key)
        if old is None or tokens.total > old[1].total:
            self._calls[key] = (thread, tokens)

    def totals(self) -> dict[ThreadKey, Tokens]:
        """Tokens per thread (sessions' main threads and sub-agents apart)."""
        out: dict[ThreadKey, Tokens] = {}
        for thread, tokens in self._calls.values():
            out[thread] = out.get(thread, Tokens()) + tokens
        return out

    def total(self) -> int:
        """All tokens written."""
        return sum(t.total for _, t in self._calls.values())


@dataclass(frozen=True, slots=True)
class Use:
    """One Claude response's usage."""

    inp: int
    out: int
    cache_write: int
    cache_read: int

    def usage(self) -> dict[str, Any]:
        """`message.usage` as Claude Code 2.1.x writes it (5m cache writes)."""
        return {
            "input_tokens": self.inp,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.out,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "service_tier": "standard",
        }

    def tokens(self) -> Tokens:
        """Normalized (FORMATS section 0)."""
        return Tokens(self.inp, self.out, self.cache_write, 0, self.cache_read)


@dataclass(slots=True)
class ClaudeLog:
    """One Claude Code transcript: a session's main file or a sub-agent's file."""

    path: Path
    session_id: str
    cwd: str
    version: str
    ledger: Ledger
    ids: Ids
    agent_id: str | None = None
    branch: str = "main"
    last_uuid: str | None = None

    @property
    def thread(self) -> ThreadKey:
        """Where a counter credits this file's calls."""
        return ThreadKey(Agent.CLAUDE_CODE, self.session_id, self.agent_id)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Append a line."""
        append_line(self.path, obj)
        self.ledger.lines += 1
        return obj

    def envelope(self, typ: str, t: float, **extra: Any) -> dict[str, Any]:
        """The fields conversational lines share."""
        uid = self.ids.uuid4()
        d: dict[str, Any] = {
            "parentUuid": extra.pop("parentUuid", self.last_uuid),
            "isSidechain": self.agent_id is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": self.branch,
        }
        if self.agent_id is not None:
            d["agentId"] = self.agent_id
        d.update(type=typ, **extra, uuid=uid, timestamp=iso(t))
        self.last_uuid = uid
        return d

    def prompt(self, t: float, text: str, **extra: Any) -> dict[str, Any]:
        """A user line holding a prompt (a human turn in a main file, the task in a sub-agent)."""
        return self.put(
            self.envelope("user", t, message={"role": "user", "content": text}, **extra)
        )

    def assistant(
        self,
        t: float,
        msg_id: str,
        req_id: str,
        model: str,
        block: dict[str, Any],
        use: Use,
        *,
        final: bool,
    ) -> dict[str, Any]:
        """One content block of a streamed response; the ledger keeps the largest usage."""
        stop = ("tool_use" if block["type"] == "tool_use" else "end_turn") if final else None
        msg = {
            "model": model,
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": use.usage(),
        }
        self.ledger.call(self.thread, ("cc", msg_id, req_id), use.tokens())
        return self.put(self.envelope("assistant", t, message=msg, requestId=req_id))

    def result(
        self, t: float, tool_use_id: str, text: str, extra: Any, *, error: bool = False
    ) -> dict[str, Any]:
        """A tool result line: the `tool_result` block plus `toolUseResult`."""
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id}
        if error:
            block.update(content=f"<tool_use_error>{text}</tool_use_error>", is_error=True)
        else:
            block["content"] = text
        msg = {"role": "user", "content": [block]}
        return self.put(self.envelope("user", t, message=msg, toolUseResult=extra))

    def system(self, t: float, subtype: str, **fields: Any) -> dict[str, Any]:
        """A `system` line (compaction boundary, turn duration...)."""
        return self.put(self.envelope("system", t, subtype=subtype, level="info", **fields))

    def agent_progress(
        self, t: float, agent_id: str, tool_use_id: str, line: dict[str, Any]
    ) -> dict[str, Any]:
        """The main file's copy of a sub-agent line (never counted: C1)."""
        data = {"type": "agent_progress", "agentId": agent_id, "message": line}
        return self.put(
            self.envelope(
                "progress", t, data=data, parentToolUseID=tool_use_id, toolUseID=tool_use_id
            )
        )


@dataclass(slots=True)
class CodexLog:
    """One Codex rollout, with the running `total_token_usage`."""

    path: Path
    thread_id: str
    cwd: str
    version: str
    ledger: Ledger
    parent: str | None = None
    """The parent thread of a collab sub-agent."""
    totals: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    """input (cached included), cached, output (reasoning included), reasoning."""
    texts: list[str] = field(default_factory=list)
    """Every line written (a sub-agent's rollout replays its parent's)."""
    responses: int = 0

    @property
    def thread(self) -> ThreadKey:
        """Where a counter credits this rollout's calls (X5: children roll into the parent)."""
        if self.parent is not None:
            return ThreadKey(Agent.CODEX, self.parent, self.thread_id)
        return ThreadKey(Agent.CODEX, self.thread_id)

    def put(self, t: float, typ: str, payload: dict[str, Any]) -> None:
        """Append `{timestamp, type, payload}`."""
        self.texts.append(
            append_line(self.path, {"timestamp": iso(t), "type": typ, "payload": payload})
        )
        self.ledger.lines += 1

    def raw(self, obj: dict[str, Any]) -> None:
        """Append a line as it is (a replayed one)."""
        append_line(self.path, obj)
        self.ledger.lines += 1

    def meta(self, t: float, source: Any = "cli", **extra: Any) -> None:
        """`session_meta`."""
        payload = {
            "id": self.thread_id,
            "timestamp": iso(t),
            "cwd": self.cwd,
            "originator": "codex_cli_rs",
            "cli_version": self.version,
            "source": source,
            "model_provider": "openai",
            **extra,
        }
        self.put(t, "session_meta", payload)

    def turn(self, t: float, model: str, turn_id: str) -> None:
        """`turn_context`."""
        payload = {
            "cwd": self.cwd,
            "approval_policy": "on-request",
            "sandbox_policy": {"type": "workspace-write"},
            "model": model,
            "effort": "medium",
            "summary": "auto",
            "turn_id": turn_id,
        }
        self.put(t, "turn_context", payload)

    def event(self, t: float, kind: str, **fields: Any) -> None:
        """An `event_msg`."""
        self.put(t, "event_msg", {"type": kind, **fields})

    def item(self, t: float, kind: str, **fields: Any) -> None:
        """A `response_item`."""
        self.put(t, "response_item", {"type": kind, **fields})

    def user(self, t: float, text: str) -> None:
        """A person's message."""
        self.item(t, "message", role="user", content=[{"type": "input_text", "text": text}])
        self.event(t, "user_message", message=text, images=[])

    def usage(self, t: float, fresh: int, cached: int, out: int, reasoning: int) -> None:
        """A response's `token_count` (cumulative totals plus last), then a re-emit (X2)."""
        last = [fresh + cached, cached, out, reasoning]
        self.totals = [a + b for a, b in zip(self.totals, last, strict=True)]

        def obj(v: list[int]) -> dict[str, int]:
            return {
                "input_tokens": v[0],
                "cached_input_tokens": v[1],
                "output_tokens": v[2],
                "reasoning_output_tokens": v[3],
                "total_tokens": v[0] + v[2],
            }

        info = {
            "total_token_usage": obj(self.totals),
            "last_token_usage": obj(last),
            "model_context_window": 272000,
        }
        limits = {
            "primary": {"used_percent": 9.0, "window_minutes": 300, "resets_at": int(t) + 9000}
        }
        self.event(t, "token_count", info=info, rate_limits=limits)
        self.event(t, "token_count", info=info, rate_limits=limits)
        self.responses += 1
        key = ("codex", self.thread_id, str(self.responses))
        self.ledger.call(self.thread, key, Tokens(fresh, out, 0, 0, cached, reasoning))
