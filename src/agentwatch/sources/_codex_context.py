"""Codex CLI rollout lines as context items: prompts, instructions, tool outputs, file reads and
what the model wrote (FORMATS.md section 2). Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from agentwatch.core.context import READ, ContextItem, ContextKind, ContextRecord, relative, short
from agentwatch.sources import _codex_schema as schema
from agentwatch.sources._codex_tools import APPLY_PATCH, command_target, patch_target
from agentwatch.sources.base import parse_ts

_INJECTED_HEADS = (
    "<environment_context>",
    "<user_instructions>",
    "<INSTRUCTIONS>",
    "# AGENTS.md",
    "<user_shell_command>",
    "<turn_aborted>",
)
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
# One file printed whole or in part: `cat f`, `nl -ba f`, `head -n 40 f`, `sed -n '1,200p' f`.
_READ = re.compile(
    r"""^(?:cat|nl\s+-ba|head(?:\s+-n\s*\d+|\s+-\d+)?|tail(?:\s+-n\s*\d+|\s+-\d+)?"""
    r"""|sed\s+-n\s+['"]?[\d,$]+p['"]?)\s+(['"]?)([^\s|;&<>'"]+)\1\s*$"""
)


class _Payload(msgspec.Struct):
    """The payload fields the extractor reads."""

    type: Any = None
    role: Any = None
    content: Any = None
    summary: Any = None
    name: Any = None
    call_id: Any = None
    arguments: Any = None
    input: Any = None
    action: Any = None
    output: Any = None
    message: Any = None
    # session_meta
    timestamp: Any = None
    cwd: Any = None
    source: Any = None
    forked_from_id: Any = None


class _Line(msgspec.Struct):
    timestamp: Any = None
    type: Any = None
    payload: _Payload | None = None


_LINE = msgspec.json.Decoder(_Line)


def _texts(content: Any) -> tuple[str, int]:
    """The text parts of a message's or reasoning's content list, and its images."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    parts: list[str] = []
    images = 0
    for c in content:
        if isinstance(c, dict):
            if isinstance(c.get("text"), str):
                parts.append(c["text"])
            elif c.get("type") == "input_image":
                images += 1
    return "\n".join(parts), images


def read_target(command: str | None) -> str | None:
    """The file a shell command prints, when it only prints one file; None otherwise."""
    if not command:
        return None
    m = _READ.match(command.strip())
    return m.group(2) if m else None


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        for key in ("content", "output"):
            if isinstance(output.get(key), str):
                return str(output[key])
        return ""
    text, _ = _texts(output)
    return text


class CodexContext:
    """Turns one rollout's lines into context records.

    A sub-agent or fork rollout first replays its parent's history (X5): those lines are in
    the parent's log already and are skipped here.
    """

    def __init__(self, agent_id: str | None = None) -> None:
        self.agent_id = agent_id
        """The sub-agent (child thread id) this rollout belongs to; None for a session's own."""
        self.skipped = 0
        """Lines that could not be read."""
        self._calls: dict[str, tuple[ContextKind, str]] = {}
        self._metas = 0
        self._child = False
        self._cutoff: int | None = None
        self._cwd: str | None = None

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
            p = line.payload
            if p is None:
                continue
            ts = parse_ts(line.timestamp)
            if line.type == "session_meta":
                self._meta(p, ts)
            elif self._replayed(ts):
                continue
            elif line.type == "response_item":
                self._item(p, out)
            elif line.type == "compacted" and isinstance(p.message, str):
                item = ContextItem(
                    ContextKind.SUMMARY, "compaction summaries", p.message, self.agent_id
                )
                out.append(item)
            elif line.type == "turn_context" and self._cwd is None and isinstance(p.cwd, str):
                self._cwd = p.cwd
        return out

    def _meta(self, p: _Payload, ts: float | None) -> None:
        self._metas += 1
        t = ts if ts is not None else parse_ts(p.timestamp)
        created = None if t is None else math.floor(t)
        if self._metas > 1:
            if self._cutoff is None:
                self._child, self._cutoff = True, created
            return
        if isinstance(p.cwd, str):
            self._cwd = p.cwd
        sub = p.source.get("subagent") if isinstance(p.source, dict) else None
        if sub is not None or (isinstance(p.forked_from_id, str) and p.forked_from_id):
            self._child, self._cutoff = True, created

    def _replayed(self, ts: float | None) -> bool:
        if not self._child or ts is None:
            return False
        if self._cutoff is None:
            self._cutoff = math.floor(ts)
        return math.floor(ts) <= self._cutoff

    def _item(self, p: _Payload, out: list[ContextRecord]) -> None:
        thread = self.agent_id
        typ = p.type
        if typ == "message":
            text, images = _texts(p.content)
            if p.role == "assistant":
                out.append(ContextItem(ContextKind.OUTPUT, "text", text, thread))
                return
            if p.role in ("developer", "system") or text.lstrip().startswith(_INJECTED_HEADS):
                kind, label = ContextKind.INJECTED, "instructions"
            else:
                kind = ContextKind.PROMPT
                label = "prompts" if thread is None else "sub-agent task prompts"
            out.append(ContextItem(kind, label, text, thread, None, images))
        elif typ == "reasoning":
            summary, _ = _texts(p.summary)
            content, _ = _texts(p.content)
            text = "\n".join(t for t in (summary, content) if t)
            out.append(ContextItem(ContextKind.OUTPUT, "reasoning (readable part)", text, thread))
        elif typ in ("function_call", "custom_tool_call", "local_shell_call"):
            self._call(p, out)
        elif typ in _OUTPUTS and isinstance(p.call_id, str):
            kind, label = self._calls.get(p.call_id, (ContextKind.TOOL, "tool results"))
            out.append(ContextItem(kind, label, _output_text(p.output), thread))

    def _call(self, p: _Payload, out: list[ContextRecord]) -> None:
        name = p.name if isinstance(p.name, str) and p.name else "?"
        target: str | None = None
        is_patch = False
        if p.type == "function_call":
            written = p.arguments if isinstance(p.arguments, str) else ""
            try:
                args = schema.TOOL_ARGS.decode(written) if written else None
            except (msgspec.DecodeError, ValueError):
                args = None
            if args is not None:
                cmd = args.command if args.command is not None else args.cmd
                if cmd is not None:
                    target, is_patch = command_target(cmd)
                else:
                    path = args.file_path or args.path
                    target = path if isinstance(path, str) else None
        elif p.type == "custom_tool_call":
            written = p.input if isinstance(p.input, str) else ""
            if name == APPLY_PATCH:
                target, is_patch = patch_target(p.input), True
        else:
            command = p.action.get("command") if isinstance(p.action, dict) else None
            written = msgspec.json.encode(command).decode() if command is not None else ""
            name = "local_shell"
            target, is_patch = command_target(command)
        out.append(ContextItem(ContextKind.OUTPUT, "tool calls", name + written, self.agent_id))
        if not isinstance(p.call_id, str):
            return
        read = None if is_patch else read_target(target)
        if read is not None:
            self._calls[p.call_id] = (ContextKind.READ, READ + relative(read, self._cwd))
        elif is_patch:
            where = relative(target, self._cwd) if target else ""
            self._calls[p.call_id] = (ContextKind.TOOL, f"{APPLY_PATCH} {where}".strip())
        elif target:
            self._calls[p.call_id] = (ContextKind.TOOL, f"{name} `{short(target, 50)}`")
        else:
            self._calls[p.call_id] = (ContextKind.TOOL, name)
