"""msgspec structs for Codex CLI rollout lines: only the fields agentwatch reads."""

from __future__ import annotations

from typing import Any

import msgspec

USAGE_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
"""The `*_token_usage` counters, in the order the parser keeps them."""


class Usage(msgspec.Struct):
    """`info.total_token_usage` / `info.last_token_usage`; scalars stay untyped so a mistyped
    field is coerced, not fatal."""

    input_tokens: Any = msgspec.UNSET
    cached_input_tokens: Any = msgspec.UNSET
    cache_write_input_tokens: Any = msgspec.UNSET
    output_tokens: Any = msgspec.UNSET
    reasoning_output_tokens: Any = msgspec.UNSET
    total_tokens: Any = msgspec.UNSET


class Info(msgspec.Struct):
    """`info` of a `token_count` event."""

    total_token_usage: Usage | None = None
    last_token_usage: Usage | None = None


class Payload(msgspec.Struct):
    """`payload` of every line type; each type fills a few of these."""

    type: Any = None
    # session_meta
    id: Any = None
    timestamp: Any = None
    cwd: Any = None
    cli_version: Any = None
    source: Any = None
    forked_from_id: Any = None
    parent_thread_id: Any = None
    agent_role: Any = None
    agent_nickname: Any = None
    # turn_context
    model: Any = None
    model_name: Any = None
    turn_id: Any = None
    # event_msg: token_count
    info: Info | None = None
    # tool calls and their ends
    name: Any = None
    call_id: Any = None
    arguments: Any = None
    input: Any = None
    action: Any = None
    output: Any = None
    success: Any = None
    changes: Any = None
    exit_code: Any = None
    stdout: msgspec.Raw = msgspec.Raw()
    stderr: msgspec.Raw = msgspec.Raw()
    aggregated_output: msgspec.Raw = msgspec.Raw()
    # collab_agent_spawn_end
    new_thread_id: Any = None
    new_agent_role: Any = None
    new_agent_nickname: Any = None


class Line(msgspec.Struct):
    """One rollout line (the envelope)."""

    timestamp: Any = None
    type: Any = None
    payload: Payload | None = None


class ToolArgs(msgspec.Struct):
    """The key arguments of a `function_call` (its `arguments` is a JSON string)."""

    command: Any = None
    cmd: Any = None
    file_path: Any = None
    path: Any = None
    agent_role: Any = None


class OutputMeta(msgspec.Struct):
    """`metadata` of a JSON `function_call_output`."""

    exit_code: Any = None


class Output(msgspec.Struct):
    """A `function_call_output` whose `output` is a JSON object."""

    metadata: OutputMeta | None = None


LINE = msgspec.json.Decoder(Line)
TOOL_ARGS = msgspec.json.Decoder(ToolArgs)
OUTPUT = msgspec.json.Decoder(Output)
