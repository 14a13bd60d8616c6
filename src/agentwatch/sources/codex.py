"""OpenAI Codex CLI: where its rollouts live and how to count them (FORMATS.md section 2)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agentwatch.core.records import (
    Agent,
    HumanTurn,
    Record,
    SubagentLink,
    ThreadKey,
    ThreadSeen,
    UsageRecord,
)
from agentwatch.core.tokens import Tokens
from agentwatch.sources import _codex_schema as schema
from agentwatch.sources import _codex_tools as tools
from agentwatch.sources.base import (
    FileRole,
    FileSpec,
    ParseStats,
    SourceAdapter,
    count,
    decode_line,
    parse_ts,
)

AGENT = Agent.CODEX
PARSER_VERSION = 2  # bump when parsing changes what is counted: indexes are rebuilt
UNKNOWN_MODEL = "unknown"  # FORMATS 2.2: builds without `turn_context` leave the model unknown
FOLDERS = frozenset({"sessions", "archived_sessions"})
_UUID_TAIL = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})


# ---- where the files are ------------------------------------------------------------------
def default_roots(env: Mapping[str, str], home: Path) -> list[Path]:
    """Codex homes: every entry of a comma-separated `CODEX_HOME`, else `~/.codex`."""
    configured = [p.strip() for p in env.get("CODEX_HOME", "").split(",") if p.strip()]
    if configured:
        return [Path(p).expanduser() for p in configured]
    return [home / ".codex"]


def transcript_dir(root: Path) -> Path:
    """The home itself: rollouts live under both `sessions/` and `archived_sessions/`."""
    return root


def thread_id_of(name: str) -> str:
    """The thread id a rollout's file name ends with (`rollout-<time>-<uuid>.jsonl`)."""
    stem = name.removeprefix("rollout-").removesuffix(".jsonl")
    m = _UUID_TAIL.search(stem)
    return m.group(0) if m else stem


def classify(rel: tuple[str, ...]) -> FileSpec | None:
    """`sessions/YYYY/MM/DD/rollout-*.jsonl` and `archived_sessions/[...]/rollout-*.jsonl`."""
    if not 2 <= len(rel) <= 5 or rel[0] not in FOLDERS:
        return None
    name = rel[-1]
    if not (name.startswith("rollout-") and name.endswith(".jsonl")):
        return None
    return FileSpec(FileRole.MAIN, thread_id_of(name))


# ---- counting -----------------------------------------------------------------------------
def usage_vector(u: schema.Usage) -> tuple[list[int], bool]:
    """The counters of a `*_token_usage` object, in `schema.USAGE_FIELDS` order."""
    out: list[int] = []
    coerced = False
    for name in schema.USAGE_FIELDS:
        v, bad = count(getattr(u, name))
        out.append(v)
        coerced = coerced or bad
    return out, coerced


def normalize(delta: list[int]) -> tuple[Tokens, bool]:
    """FORMATS section 0: fresh input excludes cache reads and writes; reasoning is in output."""
    inp, cached, written, out, reasoning, _ = delta
    fresh = inp - cached - written
    odd = fresh < 0 or reasoning > out
    return Tokens(max(fresh, 0), out, written, 0, cached, min(reasoning, out)), odd


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _second(ts: float | None) -> int | None:
    return None if ts is None else math.floor(ts)


def _salvage(obj: dict[str, Any]) -> None:
    """Null out the nested fields of a line that do not have the expected shape."""
    p = obj.get("payload")
    if not isinstance(p, dict):
        obj["payload"] = None
        return
    for k in ("stdout", "stderr", "aggregated_output"):
        p.pop(k, None)
    info = p.get("info")
    if not isinstance(info, dict):
        p["info"] = None
    else:
        for k in ("total_token_usage", "last_token_usage"):
            if not isinstance(info.get(k), dict):
                info[k] = None


class CodexParser:
    """Parses one rollout file incrementally: `token_count` deltas (X1-X7), tools, context."""

    def __init__(self, path: str, spec: FileSpec) -> None:
        self.path = path
        self.spec = spec
        self.stats = ParseStats()
        self._thread_id = spec.session_id or thread_id_of(Path(path).name)
        self._parent: str | None = None
        self._role: str | None = None
        self._nickname: str | None = None
        self._metas = 0
        self._child = False
        self._cutoff: int | None = None
        self._prev: list[int] | None = None
        self._model: str | None = None
        self._cwd: str | None = None
        self._version: str | None = None
        self._turn: str | None = None
        self._turn_n: dict[str, int] = {}
        self._resolved: set[str] = set()
        self._announced = False
        self.thread = ThreadKey(AGENT, self._thread_id)
        """Where this file's records go."""

    # ---- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What must survive a restart to continue parsing this file where it stopped."""
        return {
            "thread": self._thread_id,
            "parent": self._parent,
            "role": self._role,
            "nickname": self._nickname,
            "metas": self._metas,
            "child": self._child,
            "cutoff": self._cutoff,
            "prev": self._prev,
            "model": self._model,
            "cwd": self._cwd,
            "version": self._version,
            "turn": self._turn,
            "turn_n": self._turn_n,
            "resolved": sorted(self._resolved),
            "announced": self._announced,
            "lines": self.stats.lines,
            "skipped": dict(self.stats.skipped),
            "coerced": self.stats.coerced,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` taken earlier."""
        self._thread_id = state["thread"]
        self._parent = state["parent"]
        self._role = state["role"]
        self._nickname = state["nickname"]
        self._metas = state["metas"]
        self._child = state["child"]
        self._cutoff = state["cutoff"]
        self._prev = list(state["prev"]) if state["prev"] is not None else None
        self._model = state["model"]
        self._cwd = state["cwd"]
        self._version = state["version"]
        self._turn = state["turn"]
        self._turn_n = dict(state["turn_n"])
        self._resolved = set(state["resolved"])
        self._announced = state["announced"]
        self._rekey()
        self.stats.lines = state["lines"]
        self.stats.skipped.update(state["skipped"])
        self.stats.coerced = state["coerced"]

    # ---- feeding --------------------------------------------------------------------------
    def _rekey(self) -> None:
        """Where this file's records go: its own session, or its parent's for a spawned agent."""
        if self._parent is not None:
            self.thread = ThreadKey(AGENT, self._parent, self._thread_id)
        else:
            self.thread = ThreadKey(AGENT, self._thread_id)

    def feed(self, lines: Iterable[bytes]) -> list[Record]:
        """Parse complete lines; see `LineParser.feed`."""
        out: list[Record] = []
        spans: dict[ThreadKey, list[float | None]] = {}
        for raw in lines:
            self.stats.lines += 1
            try:
                line = self._decode(raw)
                if line is None:
                    continue
                ts = parse_ts(line.timestamp)
                p = line.payload
                if p is not None:
                    self._line(line.type, p, ts, out)
            except RecursionError:  # a field nested past any decoder's depth
                self.stats.skip(self.stats.lines, "nested too deeply")
                continue
            span = spans.setdefault(self.thread, [ts, ts])
            if ts is not None:
                if span[0] is None or ts < span[0]:
                    span[0] = ts
                if span[1] is None or ts > span[1]:
                    span[1] = ts
        head: list[Record] = [
            ThreadSeen(
                thread, self.path, thread.agent_id is None, first, last, self._cwd, self._version
            )
            for thread, (first, last) in spans.items()
        ]
        if not self._announced and self._parent is not None:
            self._announced = True
            parent = ThreadKey(AGENT, self._parent)
            head.append(SubagentLink(parent, self._thread_id, None, self._role, self._nickname))
        return head + out if head else out

    # ---- decoding -------------------------------------------------------------------------
    def _decode(self, raw: bytes) -> schema.Line | None:
        return decode_line(raw, schema.LINE, schema.Line, self.stats, _salvage)

    # ---- one line -------------------------------------------------------------------------
    def _replayed(self, ts: float | None) -> bool:
        """X5: in a sub-agent or fork rollout, lines stamped at or before the child's creation
        second are the parent's history."""
        if ts is None:
            return False
        second = math.floor(ts)
        if self._cutoff is None:
            if not self._child:
                return False
            self._cutoff = second  # no creation time logged: the first stamp stands in
        return second <= self._cutoff

    def _line(self, typ: Any, p: schema.Payload, ts: float | None, out: list[Record]) -> None:
        if typ == "session_meta":
            self._session_meta(p, ts)
            return
        replayed = self._replayed(ts)
        if typ == "turn_context":
            model = _str(p.model) or _str(p.model_name)
            if model is not None:
                self._model = model
            if self._cwd is None:
                self._cwd = _str(p.cwd)
            if not replayed:
                self._turn = _str(p.turn_id)
        elif typ == "event_msg":
            kind = p.type
            if kind == "token_count":
                self._token_count(p, ts, replayed, out)
            elif replayed:
                return
            elif kind == "collab_agent_spawn_end":
                self._spawned(p, out)
            elif kind == "user_message" and self.thread.agent_id is None:
                out.append(HumanTurn(self.thread, ts))  # a person typed (loop detectors)
            else:
                results = tools.event_results(self.thread, ts, p)
                if results:
                    self._resolved.add(results[0].call_id)
                    out.extend(results)
        elif typ == "response_item" and not replayed:
            if p.type in _CALLS:
                call = tools.tool_call(self.thread, ts, p)
                if call is not None:
                    out.append(call)
            elif p.type in _OUTPUTS and isinstance(p.call_id, str):
                if p.call_id in self._resolved:
                    self._resolved.discard(p.call_id)
                else:
                    result = tools.output_result(self.thread, ts, p)
                    if result is not None:
                        out.append(result)

    def _session_meta(self, p: schema.Payload, ts: float | None) -> None:
        self._metas += 1
        created = _second(ts if ts is not None else parse_ts(p.timestamp))
        if self._metas > 1:
            # X5: a second session_meta (the parent's) opens a replay of its history.
            if self._cutoff is None:
                self._child = True
                self._cutoff = created
            return
        self._thread_id = _str(p.id) or self._thread_id
        self._cwd = _str(p.cwd) or self._cwd
        self._version = _str(p.cli_version) or self._version
        src = p.source
        sub = src.get("subagent") if isinstance(src, dict) else None
        if sub is not None or _str(p.forked_from_id) is not None:
            self._child = True
            self._cutoff = created
        spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
        if isinstance(spawn, dict):
            self._parent = _str(spawn.get("parent_thread_id")) or _str(p.parent_thread_id)
            self._role = _str(spawn.get("agent_role")) or _str(p.agent_role)
            self._nickname = _str(spawn.get("agent_nickname")) or _str(p.agent_nickname)
            if self._parent == self._thread_id:
                self._parent = None
        self._rekey()

    def _spawned(self, p: schema.Payload, out: list[Record]) -> None:
        """The parent's record of a spawn names the child, its role and nickname."""
        child = _str(p.new_thread_id)
        if child is not None and child != self._thread_id:
            role, nick = _str(p.new_agent_role), _str(p.new_agent_nickname)
            out.append(SubagentLink(self.thread.main, child, _str(p.call_id), role, nick))

    def _token_count(
        self, p: schema.Payload, ts: float | None, replayed: bool, out: list[Record]
    ) -> None:
        info = p.info
        if info is None or info.total_token_usage is None:
            return  # X2: rate limits only
        totals, flagged = usage_vector(info.total_token_usage)
        prev = self._prev
        if totals == prev:
            return  # X2: a re-emit
        self._prev = totals
        if replayed:
            return  # X5: the parent's history only sets the baseline
        if prev is None:
            delta = totals
        elif all(a >= b for a, b in zip(totals, prev, strict=True)):
            delta = [a - b for a, b in zip(totals, prev, strict=True)]  # X3
        elif info.last_token_usage is not None:  # X4: a reset
            delta, bad = usage_vector(info.last_token_usage)
            flagged = flagged or bad
        else:
            delta = totals
        tokens, odd = normalize(delta)
        if odd or flagged:
            flagged = True
            self.stats.coerced += 1
        if not tokens:
            return
        if self._turn is not None:
            # X7: the same turn copied into another rollout dedupes by turn id.
            k = self._turn_n.get(self._turn, 0)
            self._turn_n[self._turn] = k + 1
            key: tuple[str, ...] = ("codex-turn", self._turn, str(k))
        else:
            key = ("codex-line", self._thread_id, str(self.stats.lines))
        model = self._model or UNKNOWN_MODEL
        out.append(UsageRecord(self.thread, key, model, ts, tokens, self._turn, None, flagged))


def file_name_ok(name: str) -> bool:
    """Cheap filter for watch events: could this file name be one of ours?"""
    return name.startswith("rollout-") and name.endswith(".jsonl")


SOURCE = SourceAdapter(
    agent=AGENT,
    parser_version=PARSER_VERSION,
    default_roots=default_roots,
    transcript_dir=transcript_dir,
    classify=classify,
    depth=5,  # sessions/YYYY/MM/DD/rollout-*.jsonl
    parser=CodexParser,
    top_dirs=FOLDERS,  # not log/, tmp/... of a busy Codex home
)
