"""msgspec structs for Claude Code transcript lines: only the fields agentwatch reads."""

from __future__ import annotations

from typing import Any

import msgspec


class Usage(msgspec.Struct):
    """`message.usage`; scalars stay untyped so a mistyped field is coerced, not fatal."""

    input_tokens: Any = msgspec.UNSET
    output_tokens: Any = msgspec.UNSET
    cache_creation_input_tokens: Any = msgspec.UNSET
    cache_read_input_tokens: Any = msgspec.UNSET
    cache_creation: Any = msgspec.UNSET


class Block(msgspec.Struct):
    """A content block: text, thinking, tool_use or tool_result."""

    type: Any = None
    id: Any = None
    name: Any = None
    input: msgspec.Raw = msgspec.Raw()
    tool_use_id: Any = None
    is_error: Any = None
    content: msgspec.Raw = msgspec.Raw()


class Message(msgspec.Struct):
    """`message` of user and assistant lines."""

    id: Any = None
    model: Any = None
    usage: Usage | None = None
    content: list[Block] | str | None = None


class Line(msgspec.Struct):
    """One transcript line (the envelope)."""

    type: Any = None
    uuid: Any = None
    parentUuid: Any = None  # noqa: N815 (the log's own field names)
    sessionId: Any = None  # noqa: N815
    isSidechain: Any = None  # noqa: N815
    agentId: Any = None  # noqa: N815
    cwd: Any = None
    version: Any = None
    timestamp: Any = None
    requestId: Any = None  # noqa: N815
    message: Message | None = None
    toolUseResult: msgspec.Raw = msgspec.Raw()  # noqa: N815
    data: msgspec.Raw = msgspec.Raw()
    parentToolUseID: Any = None  # noqa: N815
    isMeta: Any = None  # noqa: N815
    isCompactSummary: Any = None  # noqa: N815


class ToolInput(msgspec.Struct):
    """The key arguments of a tool call."""

    file_path: Any = None
    notebook_path: Any = None
    command: Any = None
    pattern: Any = None
    path: Any = None
    url: Any = None
    query: Any = None
    description: Any = None
    subagent_type: Any = None
    prompt: Any = None


class ToolUseResult(msgspec.Struct):
    """`toolUseResult` of a tool result line, when it is an object."""

    agentId: Any = None  # noqa: N815
    agentType: Any = None  # noqa: N815
    filePath: Any = None  # noqa: N815
    structuredPatch: Any = None  # noqa: N815
    type: Any = None
    content: Any = None


class ProgressData(msgspec.Struct):
    """`data` of a progress line."""

    type: Any = None
    agentId: Any = None  # noqa: N815


class AgentMeta(msgspec.Struct):
    """`agent-<id>.meta.json` sidecar."""

    agentType: Any = None  # noqa: N815
    description: Any = None
    toolUseId: Any = None  # noqa: N815
    parentAgentId: Any = None  # noqa: N815


LINE = msgspec.json.Decoder(Line)
TOOL_INPUT = msgspec.json.Decoder(ToolInput)
TOOL_USE_RESULT = msgspec.json.Decoder(ToolUseResult)
PROGRESS_DATA = msgspec.json.Decoder(ProgressData)
AGENT_META = msgspec.json.Decoder(AgentMeta)
