"""Records a source's parser emits: the token model and the activity model, side by side."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import msgspec

from agentwatch.core.tokens import Tokens


class Agent(StrEnum):
    """The agents agentwatch reads."""

    CLAUDE_CODE = "claude-code"
    CODEX = "codex"
    GEMINI = "gemini"


class ThreadKey(NamedTuple):
    """One conversation thread: a session's main thread (`agent_id is None`) or a sub-agent.

    A tuple, so hashing and comparing (done per line on the hot path) stay in C.
    """

    agent: Agent
    """Which agent wrote it."""
    session_id: str
    """The session it belongs to (sub-agents carry their parent's id)."""
    agent_id: str | None = None
    """The sub-agent id, or None for the main thread."""

    @property
    def main(self) -> ThreadKey:
        """The main thread of the same session."""
        return self if self.agent_id is None else ThreadKey(self.agent, self.session_id)


class UsageRecord(msgspec.Struct, frozen=True, gc=False):
    """One logged API call (or one streamed copy of it) with its exact token counts.

    By default the largest usage seen for a key wins (streamed copies only grow). A source whose
    log re-writes a call with its current state (Gemini: the last record per message id wins)
    sets `replace`, and the tally then takes this record's counts even when they are smaller.
    """

    thread: ThreadKey
    """Where the line was found."""
    key: tuple[str, ...]
    """Dedup key: `(message_id, request_id)` for Claude; a unique per-line key when absent."""
    model: str
    """The model id as logged (`"unknown"` when absent)."""
    ts: float | None
    """Epoch seconds of the line, when it has a timestamp."""
    tokens: Tokens
    """Normalized counts from this line."""
    message_id: str | None = None
    """The API message or response id, for events and matching."""
    request_id: str | None = None
    """The API request id, for events and matching."""
    flagged: bool = False
    """True when a usage field was missing, null or mistyped and read as 0."""
    replace: bool = False
    """True when this record is the call's current state: it wins even when smaller."""


class UsageRetract(msgspec.Struct, frozen=True, gc=False):
    """A call the log took back (a Gemini rewind, a message gone from a rewritten file).

    The tally removes the call with this key; its sums move by a negative delta.
    """

    thread: ThreadKey
    """The thread whose log took it back."""
    key: tuple[str, ...]
    """The call's dedup key, as its `UsageRecord` gave it."""
    ts: float | None = None
    """When it was taken back, if the log says."""


class ThreadSeen(msgspec.Struct, frozen=True, gc=False):
    """Timestamps and context of the lines read from one thread in one batch."""

    thread: ThreadKey
    """The thread the lines belong to."""
    path: str
    """The file they came from."""
    main_file: bool
    """True for a session's main transcript (its times rank sessions for dedup credit)."""
    first_ts: float | None
    """Earliest timestamp in the batch."""
    last_ts: float | None
    """Latest timestamp in the batch."""
    cwd: str | None = None
    """First working directory seen in the batch."""
    version: str | None = None
    """Agent version seen in the batch."""
    output_lower_bound: bool = False
    """True when this agent version may log placeholder output counts (FORMATS C9)."""


class SubagentLink(msgspec.Struct, frozen=True, gc=False):
    """What is known about a sub-agent: the call that spawned it, its type and description."""

    session: ThreadKey
    """The parent session's main thread."""
    agent_id: str | None
    """The sub-agent id, when this link names one."""
    tool_use_id: str | None
    """The spawning tool call's id, when known."""
    agent_type: str | None = None
    """`subagent_type` of the spawning call (`Explore`, `Plan`, ...), or `compact`."""
    description: str | None = None
    """The spawning call's description."""
    parent_agent_id: str | None = None
    """For nested agents, the agent that spawned this one."""


class ToolCall(msgspec.Struct, frozen=True, gc=False, tag=1, array_like=True):
    """A tool call made by the model (activity model)."""

    thread: ThreadKey
    """Where it was made."""
    ts: float | None
    """When."""
    call_id: str
    """The tool_use id, to match its result."""
    name: str
    """Tool name (`Edit`, `Bash`, `mcp__server__tool`, ...)."""
    target: str | None
    """The key argument: a file path, command line or pattern."""


class ToolResult(msgspec.Struct, frozen=True, gc=False, tag=2, array_like=True):
    """The outcome of a tool call (activity model)."""

    thread: ThreadKey
    """Where it was returned."""
    ts: float | None
    """When."""
    call_id: str
    """The tool_use id it answers."""
    ok: bool
    """False when the agent marked it as an error."""
    digest: str
    """A short hash of the result text, to spot identical results."""
    changed_path: str | None = None
    """The file a successful edit or write changed."""
    lines_added: int = 0
    """Lines added by that change, where the log tells."""
    lines_removed: int = 0
    """Lines removed by that change, where the log tells."""


class HumanTurn(msgspec.Struct, frozen=True, gc=False, tag=3, array_like=True):
    """A prompt a person typed (activity model): someone is in the loop."""

    thread: ThreadKey
    """The thread it was typed into (a session's main thread)."""
    ts: float | None
    """When."""


Record = UsageRecord | UsageRetract | ThreadSeen | SubagentLink | ToolCall | ToolResult | HumanTurn

ActivityRecord = ToolCall | ToolResult | HumanTurn
"""What the activity model keeps (and the index persists): tagged, so a list of them decodes."""
