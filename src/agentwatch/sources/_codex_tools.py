"""Codex CLI tool calls and their outcomes, for the activity model (FORMATS.md section 2.4)."""

from __future__ import annotations

from typing import Any

import msgspec

from agentwatch.core.records import ThreadKey, ToolCall, ToolResult
from agentwatch.sources import _codex_schema as schema
from agentwatch.sources.base import digest

APPLY_PATCH = "apply_patch"
_SHELL_FLAGS = frozenset({"-c", "-lc", "-ic", "/c"})
_PATCH_HEADS = ("*** Update File: ", "*** Add File: ", "*** Delete File: ")


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def patch_target(patch: Any) -> str | None:
    """The first file an `apply_patch` patch text names."""
    if not isinstance(patch, str):
        return None
    for line in patch.splitlines():
        for head in _PATCH_HEADS:
            if line.startswith(head):
                return line[len(head) :].strip()[:500] or None
    return None


def command_target(command: Any) -> tuple[str | None, bool]:
    """A shell command as text, and whether it is an old-style `["apply_patch", patch]`."""
    if isinstance(command, str):
        return command[:500] or None, False
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        return None, False
    if command and command[0] == APPLY_PATCH:
        return patch_target(command[1] if len(command) > 1 else None), True
    if len(command) >= 3 and command[-2] in _SHELL_FLAGS:
        return command[-1][:500] or None, False  # `bash -lc "<script>"`: the script says it all
    return " ".join(command)[:500] or None, False


def _args_target(arguments: Any) -> tuple[str | None, bool]:
    if not isinstance(arguments, str) or not arguments:
        return None, False
    try:
        args = schema.TOOL_ARGS.decode(arguments)
    except (msgspec.DecodeError, ValueError):
        return None, False
    for v in (args.command, args.cmd):
        if v is not None:
            return command_target(v)
    return _str(args.file_path) or _str(args.path) or _str(args.agent_role), False


def tool_call(thread: ThreadKey, ts: float | None, p: schema.Payload) -> ToolCall | None:
    """A `response_item` that calls a tool, as a ToolCall; None for any other item."""
    call_id = _str(p.call_id)
    if call_id is None:
        return None
    name = _str(p.name) or "?"
    if p.type == "function_call":
        target, is_patch = _args_target(p.arguments)
        return ToolCall(thread, ts, call_id, APPLY_PATCH if is_patch else name, target)
    if p.type == "custom_tool_call":
        target = patch_target(p.input) if name == APPLY_PATCH else None
        if target is None and isinstance(p.input, str):
            target = p.input[:500] or None
        return ToolCall(thread, ts, call_id, name, target)
    if p.type == "local_shell_call":
        command = p.action.get("command") if isinstance(p.action, dict) else None
        target, is_patch = command_target(command)
        return ToolCall(thread, ts, call_id, APPLY_PATCH if is_patch else "local_shell", target)
    return None


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


def _change_lines(change: Any) -> tuple[int, int]:
    if not isinstance(change, dict):
        return 0, 0
    if len(change) == 1:  # the externally tagged shape: {"update": {...}}
        kind, inner = next(iter(change.items()))
        if isinstance(inner, dict) and kind in ("add", "delete", "update"):
            change = {"type": kind, **inner}
    if isinstance(change.get("unified_diff"), str):
        return diff_lines(change["unified_diff"])
    content = change.get("content")
    if isinstance(content, str) and content:
        n = content.count("\n") + (not content.endswith("\n"))
        if change.get("type") == "add":
            return n, 0
        if change.get("type") == "delete":
            return 0, n
    return 0, 0


def _raw(*parts: msgspec.Raw) -> bytes:
    return b"\x00".join(bytes(p) for p in parts)


def patch_results(thread: ThreadKey, ts: float | None, p: schema.Payload) -> list[ToolResult]:
    """`patch_apply_end`: one result per changed file (a failure or no change: one result)."""
    call_id = _str(p.call_id)
    if call_id is None:
        return []
    ok = p.success is True
    dig = digest(_raw(p.stdout, p.stderr))
    changes = p.changes if isinstance(p.changes, dict) else {}
    if not ok or not changes:
        return [ToolResult(thread, ts, call_id, ok, dig)]
    out = []
    for path, change in changes.items():
        added, removed = _change_lines(change)
        out.append(ToolResult(thread, ts, call_id, ok, dig, str(path), added, removed))
    return out


def exec_result(thread: ThreadKey, ts: float | None, p: schema.Payload) -> ToolResult | None:
    """`exec_command_end`: ok when the exit code is 0."""
    call_id = _str(p.call_id)
    if call_id is None:
        return None
    ok = type(p.exit_code) is int and p.exit_code == 0
    output = bytes(p.aggregated_output) or _raw(p.stdout, p.stderr)
    return ToolResult(thread, ts, call_id, ok, digest(output + b"\x00" + str(p.exit_code).encode()))


def output_result(thread: ThreadKey, ts: float | None, p: schema.Payload) -> ToolResult | None:
    """A `*_call_output` item, for calls whose outcome no event reported (older builds)."""
    call_id = _str(p.call_id)
    if call_id is None:
        return None
    text = p.output if isinstance(p.output, str) else ""
    ok = True
    if text.startswith("{"):
        try:
            meta = schema.OUTPUT.decode(text).metadata
        except (msgspec.DecodeError, ValueError):
            meta = None
        if meta is not None and type(meta.exit_code) is int:
            ok = meta.exit_code == 0
    elif text.startswith("Exit code: "):
        code = text[11:].split("\n", 1)[0].strip()
        ok = code == "0"
    return ToolResult(thread, ts, call_id, ok, digest(text.encode("utf-8", "surrogatepass")))


def event_results(thread: ThreadKey, ts: float | None, p: schema.Payload) -> list[ToolResult]:
    """Tool outcomes from an `event_msg` (`exec_command_end`, `patch_apply_end`); [] otherwise."""
    if p.type == "exec_command_end":
        r = exec_result(thread, ts, p)
        return [r] if r is not None else []
    if p.type == "patch_apply_end":
        return patch_results(thread, ts, p)
    return []
