"""msgspec structs for Gemini CLI chat recordings: only the fields agentwatch reads.

Scalars stay untyped (`Any`) so a mistyped field is coerced, not fatal; bulky fields agentwatch
does not need (`content`, `thoughts`, whole file contents in results) are never declared, so
msgspec skips them without building Python objects.
"""

from __future__ import annotations

from typing import Any

import msgspec


class ToolCall(msgspec.Struct):
    """One entry of a message's `toolCalls`."""

    id: Any = None
    name: Any = None
    status: Any = None
    timestamp: Any = None
    args: msgspec.Raw = msgspec.Raw()
    result: msgspec.Raw = msgspec.Raw()
    resultDisplay: msgspec.Raw = msgspec.Raw()  # noqa: N815 (the log's own name)


class Message(msgspec.Struct):
    """A message record: `{id, timestamp, type, model?, tokens?, toolCalls?, ...}`."""

    id: Any = None
    timestamp: Any = None
    type: Any = None
    model: Any = None
    tokens: Any = None
    toolCalls: list[ToolCall] | None = None  # noqa: N815


class Update(msgspec.Struct):
    """The object of a `{"$set": {...}}` record."""

    sessionId: Any = None  # noqa: N815
    messages: list[Message] | None = None


class Line(msgspec.Struct):
    """One line of a `.jsonl` chat: metadata, a message, a `$set` or a `$rewindTo`."""

    # metadata (line 1)
    sessionId: Any = None  # noqa: N815
    projectHash: Any = None  # noqa: N815
    startTime: Any = None  # noqa: N815
    kind: Any = None
    # a message record
    id: Any = None
    timestamp: Any = None
    type: Any = None
    model: Any = None
    tokens: Any = None
    toolCalls: list[ToolCall] | None = None  # noqa: N815
    # updates
    update: Update | None = msgspec.field(default=None, name="$set")
    rewind_to: Any = msgspec.field(default=None, name="$rewindTo")


class Document(msgspec.Struct):
    """A legacy `session-*.json`: one object holding every message."""

    sessionId: Any = None  # noqa: N815
    projectHash: Any = None  # noqa: N815
    startTime: Any = None  # noqa: N815
    kind: Any = None
    messages: list[Message] | None = None


class ToolArgs(msgspec.Struct):
    """The key arguments of a tool call."""

    file_path: Any = None
    absolute_path: Any = None
    path: Any = None
    dir_path: Any = None
    command: Any = None
    pattern: Any = None
    url: Any = None
    query: Any = None
    prompt: Any = None


class FileDiff(msgspec.Struct):
    """`resultDisplay` of an edit or write: the changed file and its diff."""

    filePath: Any = None  # noqa: N815
    fileName: Any = None  # noqa: N815
    fileDiff: Any = None  # noqa: N815
    diffStat: Any = None  # noqa: N815


class FunctionResponse(msgspec.Struct):
    """`functionResponse` of a result part: the call id and name, and what the tool said."""

    response: msgspec.Raw = msgspec.Raw()


class ResultPart(msgspec.Struct):
    """One part of a tool call's `result`."""

    functionResponse: FunctionResponse | None = None  # noqa: N815


LINE = msgspec.json.Decoder(Line)
DOCUMENT = msgspec.json.Decoder(Document)
TOOL_ARGS = msgspec.json.Decoder(ToolArgs)
FILE_DIFF = msgspec.json.Decoder(FileDiff)
RESULT = msgspec.json.Decoder(list[ResultPart])
