"""Claude Code transcript lines as context items: what each prompt, tool result and file read
put into the context, and what the model wrote (FORMATS.md sections 1.5-1.9). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from agentwatch.core.context import (
    READ,
    ContextItem,
    ContextKind,
    ContextRecord,
    ResponseSeen,
    relative,
    short,
)
from agentwatch.sources.claude_code import SPAWN_TOOLS, SYNTHETIC, _lower_bound

_TARGET_KEYS = ("file_path", "notebook_path", "command", "pattern", "url", "query", "path")


class _Line(msgspec.Struct):
    """The envelope fields the extractor reads; `message` stays generic."""

    type: Any = None
    uuid: Any = None
    isSidechain: Any = None  # noqa: N815 (the log's own field names)
    agentId: Any = None  # noqa: N815
    isMeta: Any = None  # noqa: N815
    isCompactSummary: Any = None  # noqa: N815
    cwd: Any = None
    version: Any = None
    message: Any = None


_LINE = msgspec.json.Decoder(_Line)
_UNKNOWN_CALL = ("?", "tool results (call not in this file)")
_ENCODE = msgspec.json.Encoder()


def _text(content: Any) -> tuple[str, int]:
    """The text of a tool result or message content (a string or a list of blocks), and the
    number of images in it."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    parts: list[str] = []
    images = 0
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "image":
            images += 1
        elif isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "\n".join(parts), images


def _label(name: str, args: Any, cwd: str | None) -> str:
    """A tool call as people recognise it: `Read src/big.py`, `Bash \\`pytest -q\\``."""
    if not isinstance(args, dict):
        return name
    if name in SPAWN_TOOLS:
        desc = args.get("description")
        return f"{name} {short(desc, 50)}" if isinstance(desc, str) and desc else name
    for key in _TARGET_KEYS:
        v = args.get(key)
        if isinstance(v, str) and v:
            if key in ("file_path", "notebook_path", "path"):
                return f"{name} {relative(v, cwd)}"
            return f"{name} `{short(v, 50)}`"
    return name


class ClaudeContext:
    """Turns one transcript's lines (main, sub-agent or sibling file) into context records.

    Keeps the tool calls seen (to name their results) and the line uuids (a line copied twice
    into a file counts once) between `feed` calls.
    """

    def __init__(self, agent_id: str | None = None) -> None:
        self.agent_id = agent_id
        """The sub-agent the file name says the file belongs to; None for a main file."""
        self.skipped = 0
        """Lines that could not be read."""
        self._calls: dict[str, tuple[str, str]] = {}
        self._seen: set[str] = set()

    def feed(self, lines: Iterable[bytes]) -> list[ContextRecord]:
        """Records from complete lines (without their newline), in order."""
        out: list[ContextRecord] = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                line = _LINE.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError):
                self.skipped += 1
                continue
            if line.type not in ("user", "assistant") or not isinstance(line.message, dict):
                continue  # progress copies, snapshots, system lines: nothing new in the context
            if isinstance(line.uuid, str):
                if line.uuid in self._seen:
                    continue
                self._seen.add(line.uuid)
            thread = self._thread(line)
            if line.type == "assistant":
                self._assistant(line, line.message, thread, out)
            else:
                self._user(line, line.message, thread, out)
        return out

    def _thread(self, line: _Line) -> str | None:
        if self.agent_id is not None:
            return self.agent_id
        if line.isSidechain is True:
            return line.agentId if isinstance(line.agentId, str) and line.agentId else "sidechain"
        return None

    def _assistant(
        self, line: _Line, msg: dict[str, Any], thread: str | None, out: list[ContextRecord]
    ) -> None:
        if msg.get("model") == SYNTHETIC:
            return  # written locally: no API call, nothing the model wrote (C5)
        mid = msg.get("id") if isinstance(msg.get("id"), str) and msg.get("id") else None
        cwd = line.cwd if isinstance(line.cwd, str) else None
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                out.append(ContextItem(ContextKind.OUTPUT, "text", block["text"], thread, mid))
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                text = block["thinking"]
                out.append(ContextItem(ContextKind.OUTPUT, "thinking", text, thread, mid))
            elif kind == "tool_use":
                raw_name = block.get("name")
                name = raw_name if isinstance(raw_name, str) and raw_name else "?"
                args = block.get("input")
                if isinstance(block.get("id"), str):
                    self._calls[block["id"]] = (name, _label(name, args, cwd))
                text = name + (_ENCODE.encode(args).decode() if args is not None else "")
                out.append(ContextItem(ContextKind.OUTPUT, "tool calls", text, thread, mid))
        usage = msg.get("usage")
        if mid is not None and isinstance(usage, dict):
            n = usage.get("output_tokens")
            version = line.version if isinstance(line.version, str) else None
            out.append(
                ResponseSeen(
                    thread,
                    mid,
                    n if type(n) is int and n >= 0 else 0,
                    msg.get("stop_reason") is not None,
                    _lower_bound(version),
                )
            )

    def _user(
        self, line: _Line, msg: dict[str, Any], thread: str | None, out: list[ContextRecord]
    ) -> None:
        content = msg.get("content")
        if line.isCompactSummary is True:
            kind, label = ContextKind.SUMMARY, "compaction summaries"
        elif line.isMeta is True:
            kind, label = ContextKind.INJECTED, "injected messages"
        elif thread is not None:
            kind, label = ContextKind.PROMPT, "sub-agent task prompts"
        else:
            kind, label = ContextKind.PROMPT, "prompts"
        if isinstance(content, str):
            out.append(ContextItem(kind, label, content, thread))
            return
        if not isinstance(content, list):
            return
        loose: list[Any] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") != "tool_result":
                loose.append(block)
                continue
            text, images = _text(block.get("content"))
            call = block.get("tool_use_id")
            name, tlabel = _UNKNOWN_CALL
            if isinstance(call, str):
                name, tlabel = self._calls.get(call, _UNKNOWN_CALL)
            if block.get("is_error") is True:
                rkind, tlabel = ContextKind.TOOL, f"{tlabel} (failed)"
            elif name == "Read" and tlabel.startswith(READ):
                rkind = ContextKind.READ
            elif name in SPAWN_TOOLS:
                rkind = ContextKind.SUBAGENT
            else:
                rkind = ContextKind.TOOL
            out.append(ContextItem(rkind, tlabel, text, thread, None, images))
        if loose:
            text, images = _text(loose)
            if text or images:
                out.append(ContextItem(kind, label, text, thread, None, images))
