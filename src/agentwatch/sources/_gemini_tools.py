"""Gemini CLI tool calls and their outcomes, for the activity model (FORMATS.md section 3)."""

from __future__ import annotations

from typing import Any

import msgspec

from agentwatch.core.records import ThreadKey, ToolCall, ToolResult
from agentwatch.sources import _gemini_schema as schema
from agentwatch.sources.base import digest, parse_ts

EDIT_TOOLS = frozenset({"write_file", "replace"})
"""Tools that change a file (FORMATS 3: believed to be these two)."""
SHELL_TOOL = "run_shell_command"
DONE = frozenset({"success", "error", "cancelled"})
"""Final tool call states; `success` is the only good one."""


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def tool_args(raw: msgspec.Raw) -> schema.ToolArgs | None:
    """The key arguments of a call; None when `args` is not an object."""
    if not raw:
        return None
    try:
        return schema.TOOL_ARGS.decode(raw)
    except (msgspec.DecodeError, ValueError):
        return None


def target(args: schema.ToolArgs | None) -> str | None:
    """What a call works on: a file, a command line, a pattern, a URL or a query."""
    if args is None:
        return None
    for v in (
        args.file_path,
        args.absolute_path,
        args.command,
        args.pattern,
        args.url,
        args.query,
        args.path,
        args.dir_path,
        args.prompt,
    ):
        if isinstance(v, str) and v:
            return v[:500]
    return None


def _lines(stat: Any, who: str, kind: str) -> int:
    v = stat.get(f"{who}_{kind}_lines") if isinstance(stat, dict) else None
    return v if type(v) is int and v > 0 else 0


def diff_lines(diff: Any) -> tuple[int, int]:
    """Lines added and removed by a unified diff (file headers excluded)."""
    added = removed = 0
    if isinstance(diff, str):
        for line in diff.splitlines():
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
    return added, removed


def file_change(tc: schema.ToolCall, args: schema.ToolArgs | None) -> tuple[str | None, int, int]:
    """The file a successful edit or write changed, with lines added and removed.

    `resultDisplay.diffStat` counts the model's and the user's edits; without it the
    `fileDiff` text is counted.
    """
    display: schema.FileDiff | None = None
    if tc.resultDisplay:
        try:
            display = schema.FILE_DIFF.decode(tc.resultDisplay)
        except (msgspec.DecodeError, ValueError):
            display = None  # a plain-text display
    path = None
    if display is not None:
        path = _str(display.filePath)
    if path is None and args is not None:
        path = _str(args.file_path) or _str(args.absolute_path) or _str(args.path)
    if path is None and display is not None:
        path = _str(display.fileName)
    if path is None:
        return None, 0, 0
    if display is None:
        return path, 0, 0
    stat = display.diffStat
    if isinstance(stat, dict):
        added = _lines(stat, "model", "added") + _lines(stat, "user", "added")
        removed = _lines(stat, "model", "removed") + _lines(stat, "user", "removed")
        return path, added, removed
    added, removed = diff_lines(display.fileDiff)
    return path, added, removed


def result_digest(result: msgspec.Raw, status: Any) -> str:
    """A hash of what the tool said (its responses, without the call id that every result
    repeats), so identical outcomes of different calls compare equal."""
    body = bytes(result)
    if body:
        try:
            parts = schema.RESULT.decode(result)
        except (msgspec.DecodeError, ValueError):
            parts = None
        if parts:
            body = b"\x00".join(
                bytes(p.functionResponse.response) if p.functionResponse is not None else b""
                for p in parts
            )
    return digest(body + b"\x00" + str(status).encode())


def tool_records(
    thread: ThreadKey, msg_ts: float | None, tc: schema.ToolCall, seen: dict[str, bool]
) -> list[ToolCall | ToolResult]:
    """A call the first time its id shows up, its result the first time it shows a final
    state; `seen` (call id -> result emitted) is updated. Messages are re-written as their
    calls progress, so the same call arrives several times."""
    call_id = _str(tc.id)
    if call_id is None:
        return []
    out: list[ToolCall | ToolResult] = []
    name = _str(tc.name) or "?"
    args = tool_args(tc.args)
    when = parse_ts(tc.timestamp)
    if when is None:
        when = msg_ts
    if call_id not in seen:
        seen[call_id] = False
        out.append(ToolCall(thread, when, call_id, name, target(args)))
    status = tc.status
    if status in DONE and not seen[call_id]:
        seen[call_id] = True
        ok = status == "success"
        changed, added, removed = None, 0, 0
        if ok and name in EDIT_TOOLS:
            changed, added, removed = file_change(tc, args)
        dig = result_digest(tc.result, status)
        out.append(ToolResult(thread, when, call_id, ok, dig, changed, added, removed))
    return out
