"""Prompts, replies and tool calls read back from a session's logs, for `--include-text`.

The tally keeps no text, so the files are read again on demand. Each agent's line format is
FORMATS.md's; anything unexpected is skipped, never fatal. Secrets are redacted unless the caller
says otherwise, before anything is truncated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from agentwatch.core.records import Agent
from agentwatch.core.redact import redact
from agentwatch.infra.export.json_report import iso

MAX_CHARS = 4000
"""Characters kept of one entry (a long tool output is cut, and says so)."""
MAX_ENTRIES = 2000
"""Entries kept per session (the first ones); the rest are counted as omitted."""
_PRE_CUT = MAX_CHARS * 4  # redact at most this much of one entry (then cut to MAX_CHARS)

KINDS = ("prompt", "reply", "tool_call", "tool_result")
"""What an entry is: a person's prompt, the model's text, a tool call, a tool's output."""

_AGENT_FILE = re.compile(r"^agent-(.+)\.jsonl$")
_DECODE = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class TextEntry:
    """One piece of text from a session."""

    ts: float | None
    """When it was logged."""
    agent_id: str | None
    """The sub-agent it belongs to, None for the main thread."""
    kind: str
    """One of `KINDS`."""
    tool: str | None
    """The tool name, for tool calls and results."""
    text: str
    """The text (redacted unless asked otherwise, and cut at `MAX_CHARS`)."""
    truncated: bool = False
    """True when the text was cut."""
    error: bool = False
    """True for a tool result marked as an error."""

    def to_json(self) -> dict[str, Any]:
        """The entry as exported in JSON."""
        return {
            "ts": iso(self.ts),
            "agent_id": self.agent_id,
            "kind": self.kind,
            "tool": self.tool,
            "text": self.text,
            "truncated": self.truncated,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class SessionText:
    """The text of one session."""

    entries: tuple[TextEntry, ...]
    """In time order (entries without a time last)."""
    omitted: int = 0
    """Entries left out past `MAX_ENTRIES`."""
    secrets: int = 0
    """Secrets redacted."""
    unreadable: int = 0
    """Lines or files that could not be read."""


@dataclass(slots=True)
class _Raw:
    ts: float | None
    agent_id: str | None
    kind: str
    tool: str | None
    text: str
    error: bool = False


@dataclass(slots=True)
class _State:
    out: list[_Raw] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)  # call id -> tool name
    seen: set[tuple[str, ...]] = field(default_factory=set)
    unreadable: int = 0


def _ts(v: Any) -> float | None:
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v).timestamp()
    except ValueError:
        return None


def _s(v: Any) -> str:
    """Any JSON value as readable text."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, indent=None)


def _args(v: Any) -> str:
    """Tool arguments for people: `key: value` lines (long values on their own lines).

    A JSON string of an object (Codex `arguments`) is read first.
    """
    if isinstance(v, str):
        text = v
        try:
            v = json.loads(text)
        except ValueError:
            return text
    if not isinstance(v, dict):
        return _s(v)
    lines = []
    for k, x in v.items():
        text = _s(x)
        if "\n" in text:
            lines.append(f"{k}:\n" + "\n".join("  " + line for line in text.splitlines()))
        else:
            lines.append(f"{k}: {text}")
    return "\n".join(lines)


def _blocks_text(content: Any) -> str:
    """Text of a tool result's content: a string, or a list of text/image blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict) and b.get("type") == "text":
                parts.append(_s(b.get("text")))
            elif isinstance(b, dict) and b.get("type") == "image":
                parts.append("[image]")
            elif isinstance(b, str):
                parts.append(b)
        return "\n".join(parts)
    return _s(content)


def _lines(path: Path, st: _State) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                try:
                    obj = _DECODE.decode(raw)
                except (msgspec.DecodeError, ValueError):
                    st.unreadable += 1
                    continue
                if isinstance(obj, dict):
                    yield obj
    except OSError:
        st.unreadable += 1


# ---- Claude Code (FORMATS.md section 1) ---------------------------------------------------
def _claude(path: Path, st: _State) -> None:
    m = _AGENT_FILE.match(path.name)
    file_agent = m.group(1) if m else None
    for obj in _lines(path, st):
        typ = obj.get("type")
        if typ not in ("user", "assistant"):
            continue  # progress lines are copies; the rest holds no conversation
        agent = file_agent or _str(obj.get("agentId"))
        if agent is None and obj.get("isSidechain") is True:
            agent = "sidechain"
        ts = _ts(obj.get("timestamp"))
        msg = obj.get("message")
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if typ == "user":
            if obj.get("isMeta") or obj.get("isCompactSummary"):
                continue
            _claude_user(st, ts, agent, content)
        elif msg.get("model") != "<synthetic>":
            _claude_assistant(st, ts, agent, _str(msg.get("id")) or "", content)


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _claude_user(st: _State, ts: float | None, agent: str | None, content: Any) -> None:
    if isinstance(content, str):
        st.out.append(_Raw(ts, agent, "prompt", None, content))
        return
    if not isinstance(content, list):
        return
    for b in content:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            st.out.append(_Raw(ts, agent, "prompt", None, _s(b.get("text"))))
        elif b.get("type") == "tool_result":
            call_id = _s(b.get("tool_use_id"))
            if ("result", call_id) in st.seen and call_id:
                continue
            st.seen.add(("result", call_id))
            st.out.append(
                _Raw(
                    ts,
                    agent,
                    "tool_result",
                    st.tools.get(call_id),
                    _blocks_text(b.get("content")),
                    b.get("is_error") is True,
                )
            )


def _claude_assistant(
    st: _State, ts: float | None, agent: str | None, msg_id: str, content: Any
) -> None:
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(blocks, list):
        return
    for b in blocks:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            text = _s(b.get("text"))
            key = ("reply", msg_id, text)
            if text and key not in st.seen:  # streamed copies repeat a block
                st.seen.add(key)
                st.out.append(_Raw(ts, agent, "reply", None, text))
        elif b.get("type") == "tool_use":
            call_id, name = _s(b.get("id")), _s(b.get("name")) or "tool"
            if call_id and ("call", call_id) in st.seen:
                continue
            st.seen.add(("call", call_id))
            st.tools[call_id] = name
            st.out.append(_Raw(ts, agent, "tool_call", name, _args(b.get("input"))))


# ---- Codex (FORMATS.md section 2) ---------------------------------------------------------
def _codex(path: Path, st: _State) -> None:
    agent: str | None = None
    metas = 0
    meta_ts: float | None = None
    replay_until: int | None = None
    for obj in _lines(path, st):
        typ, p = obj.get("type"), obj.get("payload")
        ts = _ts(obj.get("timestamp"))
        if not isinstance(p, dict):
            continue
        if typ == "session_meta":
            metas += 1
            if metas == 1:
                source = p.get("source")
                if isinstance(source, dict) and "subagent" in source:
                    agent = _str(p.get("id"))
                meta_ts = ts if ts is not None else _ts(p.get("timestamp"))
            elif metas == 2 and meta_ts is not None:  # a child or fork replays its parent (X5)
                replay_until = int(meta_ts)
            continue
        if replay_until is not None and ts is not None and int(ts) <= replay_until:
            continue
        if typ == "event_msg":
            kind = p.get("type")
            if kind == "user_message":
                st.out.append(_Raw(ts, agent, "prompt", None, _s(p.get("message"))))
            elif kind == "agent_message":
                st.out.append(_Raw(ts, agent, "reply", None, _s(p.get("message"))))
        elif typ == "response_item":
            _codex_item(st, ts, agent, p)


def _codex_item(st: _State, ts: float | None, agent: str | None, p: dict[str, Any]) -> None:
    kind = p.get("type")
    call_id = _s(p.get("call_id"))
    if kind in ("function_call", "custom_tool_call", "local_shell_call"):
        name = _s(p.get("name")) or ("shell" if kind == "local_shell_call" else "tool")
        st.tools[call_id] = name
        args = p.get("arguments", p.get("input", p.get("action")))
        st.out.append(_Raw(ts, agent, "tool_call", name, _args(args)))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        out = p.get("output")
        if isinstance(out, dict):
            out = out.get("content", out)
        st.out.append(_Raw(ts, agent, "tool_result", st.tools.get(call_id), _s(out)))


# ---- Gemini (FORMATS.md section 3) --------------------------------------------------------
def _gemini(path: Path, st: _State) -> None:
    messages: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    agent: str | None = None

    def put(m: Any) -> None:
        if isinstance(m, dict):
            mid = _s(m.get("id")) or f"#{len(order)}"
            if mid not in messages:
                order.append(mid)
            messages[mid] = m

    if path.suffix == ".json":
        try:
            doc = _DECODE.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError, ValueError):
            st.unreadable += 1
            return
        listed = doc.get("messages") if isinstance(doc, dict) else None
        for m in listed if isinstance(listed, list) else []:
            put(m)
    else:
        for i, obj in enumerate(_lines(path, st)):
            if i == 0 and "sessionId" in obj and "type" not in obj:
                if obj.get("kind") == "subagent":
                    agent = _str(obj.get("sessionId"))
                continue
            if "$set" in obj:
                msgs = obj["$set"].get("messages") if isinstance(obj["$set"], dict) else None
                if isinstance(msgs, list):
                    messages.clear()
                    order.clear()
                    for m in msgs:
                        put(m)
            elif "$rewindTo" in obj:
                cut = _s(obj["$rewindTo"])
                if cut in order:
                    for mid in order[order.index(cut) + 1 :]:
                        messages.pop(mid, None)
                    del order[order.index(cut) + 1 :]
            else:
                put(obj)
    for mid in order:
        _gemini_message(st, agent, messages[mid])


def _gemini_message(st: _State, agent: str | None, m: dict[str, Any]) -> None:
    ts, typ = _ts(m.get("timestamp")), m.get("type")
    content = m.get("content")
    if isinstance(content, list):
        content = "\n".join(
            _s(c.get("text")) if isinstance(c, dict) else _s(c) for c in content
        ).strip()
    if typ == "user":
        st.out.append(_Raw(ts, agent, "prompt", None, _s(content)))
        return
    if typ != "gemini":
        return
    if content:
        st.out.append(_Raw(ts, agent, "reply", None, _s(content)))
    calls = m.get("toolCalls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        name = _s(call.get("name")) or "tool"
        st.out.append(_Raw(ts, agent, "tool_call", name, _args(call.get("args"))))
        if call.get("result") is not None:
            error = call.get("status") in ("error", "cancelled")
            st.out.append(_Raw(ts, agent, "tool_result", name, _s(call.get("result")), error))


_READERS = {Agent.CLAUDE_CODE: _claude, Agent.CODEX: _codex, Agent.GEMINI: _gemini}


def _finish(raw: _Raw, do_redact: bool) -> tuple[TextEntry, int]:
    text, cut = raw.text, False
    if len(text) > _PRE_CUT:
        text, cut = text[:_PRE_CUT], True
    secrets = 0
    if do_redact:
        r = redact(text)
        text, secrets = r.text, r.total
    if len(text) > MAX_CHARS:
        text, cut = text[:MAX_CHARS], True
    if cut:
        text += f"\n… [cut at {MAX_CHARS:,} characters]"
    return TextEntry(raw.ts, raw.agent_id, raw.kind, raw.tool, text, cut, raw.error), secrets


def read_session_text(
    agent: Agent,
    files: Iterable[str],
    *,
    do_redact: bool = True,
    max_entries: int = MAX_ENTRIES,
    since: float | None = None,
    until: float | None = None,
) -> SessionText:
    """Read a session's conversation back from its log files.

    Args:
        agent: Which agent wrote the files (it decides the line format).
        files: The session's files (main transcript and sub-agents').
        do_redact: Replace secrets (the default; `--no-redact` turns it off).
        max_entries: Entries kept (the first ones); the rest are counted in `omitted`.
        since: Drop entries before this time (the report's `--since`); undated ones stay.
        until: Drop entries at or after this time (`--until`).

    Returns:
        Prompts, replies, tool calls and tool outputs in time order, redacted and cut.
    """
    st = _State()
    reader = _READERS.get(agent)
    if reader is None:
        return SessionText(())
    for f in sorted(files):
        reader(Path(f), st)
    raws = [
        r
        for r in st.out
        if r.text.strip()
        and (r.ts is None or ((since is None or r.ts >= since) and (until is None or r.ts < until)))
    ]
    raws.sort(key=lambda r: (r.ts is None, r.ts or 0.0))  # stable: file order within a time
    kept, omitted = raws[:max_entries], max(0, len(raws) - max_entries)
    entries, secrets = [], 0
    for r in kept:
        entry, n = _finish(r, do_redact)
        entries.append(entry)
        secrets += n
    return SessionText(tuple(entries), omitted, secrets, st.unreadable)
