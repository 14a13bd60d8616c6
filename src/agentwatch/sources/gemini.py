"""Gemini CLI: where its chat recordings live and how to count them (FORMATS.md section 3).

A chat is a list of messages that Gemini keeps editing: a message is re-written whole each time
its tool calls, results or tokens change, so the last record per message id wins; `$rewindTo`
cuts the conversation back to before a message, and a legacy `.json` file is re-written whole.
agentwatch counts the conversation as it stands: a rewound message, or one gone from a rewritten
file, takes its tokens back (a negative delta). A `$set` of the whole message list (Gemini's
history sync, e.g. after compression) updates the messages it lists and takes nothing back:
dropping old turns from the context does not undo calls that were billed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from agentwatch.core.records import (
    Agent,
    HumanTurn,
    Record,
    ThreadKey,
    ThreadSeen,
    UsageRecord,
    UsageRetract,
)
from agentwatch.core.tokens import Tokens
from agentwatch.sources import _gemini_schema as schema
from agentwatch.sources import _gemini_tools as tools
from agentwatch.sources.base import (
    FileRole,
    FileSpec,
    ParseStats,
    SourceAdapter,
    count,
    decode_line,
    parse_ts,
)

AGENT = Agent.GEMINI
PARSER_VERSION = 1  # bump when parsing changes what is counted: indexes are rebuilt
UNKNOWN_MODEL = "unknown"
CHATS = "chats"
PROJECT_ROOT = ".project_root"
_ANY_JSON = msgspec.json.Decoder()


# ---- where the files are ------------------------------------------------------------------
def default_roots(env: Mapping[str, str], home: Path) -> list[Path]:
    """`~/.gemini`; Gemini keeps it under `$GEMINI_CLI_HOME` instead when that is set."""
    moved = env.get("GEMINI_CLI_HOME", "").strip()
    return [Path(moved).expanduser() / ".gemini"] if moved else [home / ".gemini"]


def transcript_dir(root: Path) -> Path:
    """The folder holding one folder per project (`tmp/<project-id>/chats/`)."""
    return root / "tmp"


def classify(rel: tuple[str, ...]) -> FileSpec | None:
    """`<project>/chats/session-*.json[l]` and `<project>/chats/<parent>/<child>.jsonl`."""
    if len(rel) < 3 or rel[1] != CHATS:
        return None
    name = rel[-1]
    if len(rel) == 3 and name.startswith("session-"):
        if name.endswith(".jsonl"):
            return FileSpec(FileRole.MAIN, None)
        if name.endswith(".json"):
            return FileSpec(FileRole.MAIN, None, whole=True, replaced_by=name + "l")
    if len(rel) == 4 and rel[2]:
        if name.endswith(".jsonl") and len(name) > 6:
            return FileSpec(FileRole.SUBAGENT, rel[2], name[:-6])
        if name.endswith(".json") and len(name) > 5:
            return FileSpec(
                FileRole.SUBAGENT, rel[2], name[:-5], whole=True, replaced_by=name + "l"
            )
    return None


def context_file(path: str) -> str | None:
    """The project's `.project_root` (the cwd, on builds that name project folders by slug)."""
    p = Path(path).parent
    if p.name != CHATS:
        p = p.parent
    if p.name != CHATS:
        return None
    return str(p.parent / PROJECT_ROOT)


def file_name_ok(name: str) -> bool:
    """Cheap filter for watch events: could this file name be one of ours?"""
    return name.endswith((".jsonl", ".json"))


# ---- counting -----------------------------------------------------------------------------
def usage_tokens(t: Any) -> tuple[Tokens, bool]:
    """FORMATS section 0: `tokens{input, output, cached, thoughts, tool}` to the contract's
    fields; returns the tokens and whether a field was missing, mistyped or inconsistent.

    `input` includes `cached`; `thoughts` and `tool` lie outside `input` and `output` (Gemini's
    `total = input + output + thoughts + tool`). Tool-use prompt tokens are input the model
    read, billed as input, so they count as fresh input: the contract's total then equals
    Gemini's own `total`.
    """
    if t is None:
        return Tokens(), False
    if not isinstance(t, dict):
        return Tokens(), True
    unset = msgspec.UNSET
    inp, b1 = count(t.get("input", unset))
    out, b2 = count(t.get("output", unset))
    cached, b3 = count(t.get("cached", unset))
    thoughts, b4 = count(t.get("thoughts", unset))
    tool, b5 = count(t.get("tool", unset))
    fresh = inp - cached
    odd = fresh < 0
    return (
        Tokens(max(fresh, 0) + tool, out + thoughts, 0, 0, cached, thoughts),
        b1 or b2 or b3 or b4 or b5 or odd,
    )


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _tool_calls(v: Any) -> Any:
    return [c for c in v if isinstance(c, dict)] if isinstance(v, list) else None


def _salvage_message(m: dict[str, Any]) -> None:
    m["toolCalls"] = _tool_calls(m.get("toolCalls"))


def _salvage_line(obj: dict[str, Any]) -> None:
    """Null out the nested fields of a line that do not have the expected shape."""
    _salvage_message(obj)
    upd = obj.get("$set")
    if not isinstance(upd, dict):
        obj["$set"] = None
        return
    msgs = upd.get("messages")
    if not isinstance(msgs, list):
        upd["messages"] = None
        return
    upd["messages"] = [m for m in msgs if isinstance(m, dict)]
    for m in upd["messages"]:
        _salvage_message(m)


def _stem(path: str) -> str:
    name = Path(path).name
    return name.rsplit(".", 1)[0] if "." in name else name


class _Conversation:
    """One chat file's messages as they stand, and what was emitted for them.

    `order` maps each message id in the conversation, in conversation order, to whether its
    tokens are counted; `calls` maps each tool call id seen to whether its result was emitted.
    """

    def __init__(self, path: str, spec: FileSpec) -> None:
        self.path = path
        self.spec = spec
        self.stats = ParseStats()
        named = (spec.context or "").strip().splitlines()
        self._cwd = named[0].strip() or None if named else None
        self._session: str | None = None
        self._order: dict[str, bool] = {}
        self._calls: dict[str, bool] = {}

    # ---- persistence ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What must survive a restart to continue parsing this file where it stopped."""
        return {
            "session": self._session,
            "cwd": self._cwd,
            "order": list(self._order.items()),
            "calls": list(self._calls.items()),
            "lines": self.stats.lines,
            "skipped": dict(self.stats.skipped),
            "coerced": self.stats.coerced,
            "unreadable": self.stats.unreadable,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` taken earlier."""
        self._session = state["session"]
        self._cwd = state["cwd"]
        self._order = {k: bool(v) for k, v in state["order"]}
        self._calls = {k: bool(v) for k, v in state["calls"]}
        self.stats.lines = state["lines"]
        self.stats.skipped.update(state["skipped"])
        self.stats.coerced = state["coerced"]
        self.stats.unreadable = state["unreadable"]

    def inherit(self, state: dict[str, Any]) -> None:
        """This file continues the legacy chat whose `state()` this is (a resumed session is
        written anew as `.jsonl`): its messages and tool calls are already known."""
        self._adopt(state.get("session"))
        for k, v in state.get("order", ()):
            self._order.setdefault(k, bool(v))
        for k, v in state.get("calls", ()):
            self._calls.setdefault(k, bool(v))

    # ---- where records go -----------------------------------------------------------------
    def _adopt(self, session_id: Any) -> None:
        """The file's own session id, from its metadata (the first one seen stays)."""
        if self._session is None:
            self._session = _str(session_id)

    @property
    def session(self) -> str:
        """This file's own session id (a sub-agent's is its agent id)."""
        if self._session is None:  # no metadata: the file name stands in, from now on
            self._session = self.spec.agent_id or _stem(self.path)
        return self._session

    @property
    def thread(self) -> ThreadKey:
        """Where this file's records go: its session, or its parent's for a sub-agent chat."""
        if self.spec.role is FileRole.SUBAGENT and self.spec.session_id:
            return ThreadKey(AGENT, self.spec.session_id, self.session)
        return ThreadKey(AGENT, self.session)

    def _key(self, message_id: str) -> tuple[str, ...]:
        return ("gemini", self.session, message_id)

    def _seen(self, span: list[float | None], *stamps: float | None) -> None:
        for ts in stamps:
            if ts is None:
                continue
            if span[0] is None or ts < span[0]:
                span[0] = ts
            if span[1] is None or ts > span[1]:
                span[1] = ts

    def _head(self, span: list[float | None], out: list[Record]) -> list[Record]:
        thread = self.thread
        main_file = self.spec.role is FileRole.MAIN and thread.agent_id is None
        seen = ThreadSeen(thread, self.path, main_file, span[0], span[1], self._cwd)
        return [seen, *out]

    # ---- one message ----------------------------------------------------------------------
    def _message(
        self,
        m: schema.Message | schema.Line,
        before: dict[str, bool],
        out: list[Record],
        span: list[float | None],
    ) -> None:
        """Upsert one message record: this record is the message's current state."""
        mid = _str(m.id)
        if mid is None:
            if not self.spec.whole:  # a re-written document would count it every time
                self.stats.skip(self.stats.lines, "message without an id")
            return
        ts = parse_ts(m.timestamp)
        self._seen(span, ts)
        thread = self.thread
        new = mid not in self._order and mid not in before
        had = self._order.get(mid, before.get(mid, False))
        if new and m.type == "user" and thread.agent_id is None:
            out.append(HumanTurn(thread, ts))
        tokens, flagged = usage_tokens(m.tokens)
        if flagged and new:  # once per message, however often it is re-written
            self.stats.coerced += 1
        counted = bool(tokens)
        if counted:
            model = _str(m.model) or UNKNOWN_MODEL
            key = self._key(mid)
            out.append(UsageRecord(thread, key, model, ts, tokens, mid, None, flagged, True))
        elif had:
            out.append(UsageRetract(thread, self._key(mid), ts))
        self._order[mid] = counted
        for tc in m.toolCalls or ():
            out.extend(tools.tool_records(thread, ts, tc, self._calls))


class GeminiChatParser(_Conversation):
    """Parses one `.jsonl` chat incrementally: metadata, message records, `$set`, `$rewindTo`."""

    def feed(self, lines: Iterable[bytes]) -> list[Record]:
        """Parse complete lines; see `LineParser.feed`."""
        out: list[Record] = []
        span: list[float | None] = [None, None]
        decoded = False
        for raw in lines:
            self.stats.lines += 1
            try:
                line = decode_line(raw, schema.LINE, schema.Line, self.stats, _salvage_line)
                if line is not None:
                    decoded = True
                    self._line(line, out, span)
            except RecursionError:  # a field nested past any decoder's depth
                self.stats.skip(self.stats.lines, "nested too deeply")
        return self._head(span, out) if decoded else out

    def _line(self, line: schema.Line, out: list[Record], span: list[float | None]) -> None:
        # Gemini's own loader checks the record kinds in this order.
        if isinstance(line.rewind_to, str):
            self._rewind(line.rewind_to, out)
        elif isinstance(line.id, str):
            self._message(line, self._order, out, span)
        elif line.update is not None:
            self._adopt(line.update.sessionId)
            if line.update.messages:  # Gemini's loader ignores an empty list too
                self._replace_list(line.update.messages, out, span)
        elif isinstance(line.sessionId, str):
            self._adopt(line.sessionId)
            self._seen(span, parse_ts(line.startTime))
        elif line.type is not None or line.tokens is not None:
            self.stats.skip(self.stats.lines, "message without an id")

    def _rewind(self, target: str, out: list[Record]) -> None:
        """`$rewindTo`: the message and everything after it leave the conversation."""
        if target not in self._order:
            # Gemini writes a rewind only for a message it has; one never seen here (a line
            # lost to damage) must not wipe the whole conversation.
            self.stats.skip(self.stats.lines, "rewind to an unknown message")
            return
        ids = list(self._order)
        thread = self.thread
        gone = ids[ids.index(target) :]
        out.extend(UsageRetract(thread, self._key(m)) for m in gone if self._order.pop(m))

    def _replace_list(
        self, messages: list[schema.Message], out: list[Record], span: list[float | None]
    ) -> None:
        """`$set.messages`: the conversation is now this list. Messages it lists are upserted;
        the ones it leaves out keep their tokens (see the module docstring)."""
        before, self._order = self._order, {}
        for m in messages:
            self._message(m, before, out, span)


class GeminiDocumentParser(_Conversation):
    """Parses a legacy whole-file `session-*.json` each time it is re-written."""

    def feed(self, lines: Iterable[bytes]) -> list[Record]:
        """Parse the whole document (the only item); returns what changed since the last one.
        A document that does not parse leaves the state as it was (`stats.unreadable`)."""
        data = b"".join(lines)
        doc = self._decode(data)
        if doc is None:
            return []
        self.stats.unreadable = None
        self.stats.lines += 1
        self._adopt(doc.sessionId)
        out: list[Record] = []
        span: list[float | None] = [parse_ts(doc.startTime), None]
        span[1] = span[0]
        before, self._order = self._order, {}
        for m in doc.messages or ():
            self._message(m, before, out, span)
        thread = self.thread
        for mid, counted in before.items():
            if counted and mid not in self._order:
                out.append(UsageRetract(thread, self._key(mid)))
        return self._head(span, out)

    def _decode(self, data: bytes) -> schema.Document | None:
        if not data.strip():
            self.stats.unreadable = "empty document"
            return None
        try:
            return schema.DOCUMENT.decode(data)
        except msgspec.ValidationError:
            pass
        except (msgspec.DecodeError, ValueError, RecursionError):
            self.stats.unreadable = "not a complete JSON document"
            return None
        try:
            obj = _ANY_JSON.decode(data)
        except (msgspec.DecodeError, ValueError, RecursionError):
            self.stats.unreadable = "not a complete JSON document"
            return None
        if not isinstance(obj, dict):
            self.stats.unreadable = "not a JSON object"
            return None
        msgs = obj.get("messages")
        if isinstance(msgs, list):
            obj["messages"] = [m for m in msgs if isinstance(m, dict)]
            for m in obj["messages"]:
                _salvage_message(m)
        else:
            obj["messages"] = None
        try:
            return msgspec.convert(obj, schema.Document, strict=False)
        except msgspec.ValidationError:
            self.stats.unreadable = "unexpected shape"
            return None


def parser(path: str, spec: FileSpec) -> GeminiChatParser | GeminiDocumentParser:
    """A parser for one chat file (a whole-document one for legacy `.json`)."""
    if spec.whole:
        return GeminiDocumentParser(path, spec)
    return GeminiChatParser(path, spec)


SOURCE = SourceAdapter(
    agent=AGENT,
    parser_version=PARSER_VERSION,
    default_roots=default_roots,
    transcript_dir=transcript_dir,
    classify=classify,
    depth=4,  # sub-agent chats: <project>/chats/<parent>/<child>.jsonl
    parser=parser,
    context_file=context_file,
)
