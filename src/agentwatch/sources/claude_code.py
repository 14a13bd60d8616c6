"""Claude Code: where its transcripts live and how to count them (FORMATS.md section 1)."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from agentwatch.core.records import (
    Agent,
    HumanTurn,
    Record,
    SubagentLink,
    ThreadKey,
    ThreadSeen,
    ToolCall,
    ToolResult,
    UsageRecord,
)
from agentwatch.core.tokens import Tokens
from agentwatch.sources import _claude_schema as schema
from agentwatch.sources.base import (
    FileRole,
    FileSpec,
    ParseStats,
    SourceAdapter,
    count,
    decode_line,
    digest,
    parse_ts,
)

AGENT = Agent.CLAUDE_CODE
PARSER_VERSION = 2  # bump when parsing changes what is counted: indexes are rebuilt
SYNTHETIC = "<synthetic>"
SPAWN_TOOLS = frozenset({"Task", "Agent"})
EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
_RANK_TYPES = frozenset({"user", "assistant", "system", "progress"})


# ---- where the files are ------------------------------------------------------------------
def default_roots(env: Mapping[str, str], home: Path) -> list[Path]:
    """Claude Code's config roots: every entry of `CLAUDE_CONFIG_DIR`, else the two defaults."""
    configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if configured:
        return [Path(p).expanduser() for p in configured]
    xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [home / ".claude", Path(xdg) / "claude"]


def transcript_dir(root: Path) -> Path:
    """The folder under a root that holds the project folders."""
    return root / "projects"


def classify(rel: tuple[str, ...]) -> FileSpec | None:
    """What a path under `projects/` is, from its parts; None for files agentwatch ignores."""
    name = rel[-1]
    if len(rel) == 2 and name.endswith(".jsonl"):
        stem = name[:-6]
        if stem.startswith("agent-"):
            return FileSpec(FileRole.SIBLING_AGENT, None, stem[6:])
        return FileSpec(FileRole.MAIN, stem)
    if len(rel) == 4 and rel[2] == "subagents" and name.startswith("agent-"):
        if name.endswith(".jsonl"):
            return FileSpec(FileRole.SUBAGENT, rel[1], name[6:-6])
        if name.endswith(".meta.json"):
            return FileSpec(FileRole.META, rel[1], name[6:-10])
    return None


# ---- parsing ------------------------------------------------------------------------------
def usage_tokens(u: schema.Usage) -> tuple[Tokens, bool]:
    """Normalize `message.usage` (C6, C7); returns the tokens and whether a field was coerced."""
    inp, b1 = count(u.input_tokens)
    out, b2 = count(u.output_tokens)
    read, b3 = count(u.cache_read_input_tokens)
    cc = u.cache_creation
    if isinstance(cc, dict):
        w5, b4 = count(cc.get("ephemeral_5m_input_tokens", msgspec.UNSET))
        w1, b5 = count(cc.get("ephemeral_1h_input_tokens", msgspec.UNSET))
        write = w5 + w1
    else:
        write, b4 = count(u.cache_creation_input_tokens)
        w1, b5 = 0, False
    return Tokens(inp, out, write, w1, read, 0), b1 or b2 or b3 or b4 or b5


def parse_meta(data: bytes, session_id: str, agent_id: str) -> SubagentLink | None:
    """A `.meta.json` sidecar as a link record; None when it is not a usable object."""
    try:
        meta = schema.AGENT_META.decode(data)
    except (msgspec.DecodeError, ValueError):
        return None
    return SubagentLink(
        ThreadKey(AGENT, session_id),
        agent_id,
        _str(meta.toolUseId),
        _str(meta.agentType),
        _str(meta.description),
        _str(meta.parentAgentId),
    )


def _salvage(obj: dict[str, Any]) -> None:
    """Null out the nested fields of a line that do not have the expected shape."""
    msg = obj.get("message")
    if msg is not None and not isinstance(msg, dict):
        obj["message"] = None
    elif isinstance(msg, dict):
        if not isinstance(msg.get("usage"), dict):
            msg["usage"] = None
        content = msg.get("content")
        if isinstance(content, list):
            msg["content"] = [b for b in content if isinstance(b, dict)]
        elif content is not None and not isinstance(content, str):
            msg["content"] = None
    for k in ("toolUseResult", "data"):
        obj.pop(k, None)


def _prompt_key(prompt: str) -> str:
    """A stable key for a prompt (it is persisted, so not Python's salted `hash`)."""
    return digest(prompt.encode("utf-8", "surrogatepass"))


def _lower_bound(version: str | None) -> bool:
    """Before 2.1.97 some responses never get a final line (C9): output is a lower bound."""
    if version is None:
        return False
    try:
        parts = tuple(int(p) for p in version.split(".")[:3])
    except ValueError:
        return False
    return parts < (2, 1, 97)


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _target(name: str, raw: msgspec.Raw) -> tuple[str | None, schema.ToolInput | None]:
    if not raw:
        return None, None
    try:
        ti = schema.TOOL_INPUT.decode(raw)
    except (msgspec.DecodeError, ValueError):
        return None, None
    for v in (ti.file_path, ti.notebook_path, ti.command, ti.pattern, ti.url, ti.query):
        if isinstance(v, str):
            return v[:500], ti
    if name in SPAWN_TOOLS:
        return _str(ti.description), ti
    return _str(ti.path), ti


def _typed(line: schema.Line, thread: ThreadKey) -> bool:
    """A string prompt a person typed: not injected (isMeta), a summary or a sub-agent's task."""
    return (
        line.isMeta is not True
        and line.isCompactSummary is not True
        and line.isSidechain is not True
        and thread.agent_id is None
    )


def _patch_lines(patch: Any) -> tuple[int, int]:
    added = removed = 0
    if isinstance(patch, list):
        for hunk in patch:
            lines = hunk.get("lines") if isinstance(hunk, dict) else None
            if isinstance(lines, list):
                for ln in lines:
                    if isinstance(ln, str) and ln:
                        if ln[0] == "+":
                            added += 1
                        elif ln[0] == "-":
                            removed += 1
    return added, removed


class ClaudeParser:
    """Parses one Claude Code transcript incrementally (main, sub-agent or 2.0.x sibling file)."""

    def __init__(self, path: str, spec: FileSpec) -> None:
        self.path = path
        self.spec = spec
        self.stats = ParseStats()
        self._session = spec.session_id
        self._root: dict[str, str] = {}
        self._root_agent: dict[str, str] = {}
        self._task_by_prompt: dict[str, deque[str]] = {}
        self._compact = spec.agent_id is not None and spec.agent_id.startswith("acompact-")
        self._announced = False
        self._keys: dict[str | None, ThreadKey] = {}  # one key object per thread, not per line

    def state(self) -> dict[str, Any]:
        """What must survive a restart to continue parsing this file where it stopped."""
        return {
            "session": self._session,
            "root": self._root,
            "root_agent": self._root_agent,
            "tasks": {k: list(v) for k, v in self._task_by_prompt.items() if v},
            "announced": self._announced,
            "lines": self.stats.lines,
            "skipped": dict(self.stats.skipped),
            "coerced": self.stats.coerced,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` taken earlier."""
        self._session = state["session"]
        self._root = state["root"]
        self._root_agent = state["root_agent"]
        self._task_by_prompt = {k: deque(v) for k, v in state["tasks"].items()}
        self._announced = state["announced"]
        self.stats.lines = state["lines"]
        self.stats.skipped.update(state["skipped"])
        self.stats.coerced = state["coerced"]

    def feed(self, lines: Iterable[bytes]) -> list[Record]:
        """Parse complete lines; see `LineParser.feed`."""
        out: list[Record] = []
        spans: dict[ThreadKey, list[Any]] = {}
        for raw in lines:
            self.stats.lines += 1
            try:
                line = self._decode(raw)
                if line is not None:
                    self._line(line, out, spans)
            except RecursionError:  # a field nested past any decoder's depth
                self.stats.skip(self.stats.lines, "nested too deeply")
        head: list[Record] = []
        for thread, (first, last, cwd, version) in spans.items():
            main_file = self.spec.role is FileRole.MAIN and thread.agent_id is None
            head.append(
                ThreadSeen(
                    thread, self.path, main_file, first, last, cwd, version, _lower_bound(version)
                )
            )
        if not self._announced and self._compact and self._session is not None:
            self._announced = True
            head.append(
                SubagentLink(ThreadKey(AGENT, self._session), self.spec.agent_id, None, "compact")
            )
        return head + out if head else out

    # ---- decoding -------------------------------------------------------------------------
    def _decode(self, raw: bytes) -> schema.Line | None:
        return decode_line(raw, schema.LINE, schema.Line, self.stats, _salvage)

    # ---- one line -------------------------------------------------------------------------
    def _thread(self, line: schema.Line) -> ThreadKey | None:
        spec = self.spec
        if spec.role is FileRole.SIBLING_AGENT:
            if isinstance(line.sessionId, str) and line.sessionId:
                self._session = line.sessionId
            if self._session is None:
                return None
            return self._key(spec.agent_id)
        if spec.role is FileRole.SUBAGENT:
            return self._key(spec.agent_id)
        if line.isSidechain is True:
            if isinstance(line.agentId, str) and line.agentId:
                return self._key(line.agentId)
            return self._key(self._inline_agent(line))
        return self._key(None)

    def _key(self, agent_id: str | None) -> ThreadKey:
        session = self._session
        assert session is not None
        key = self._keys.get(agent_id)
        if key is None or key.session_id != session:
            key = self._keys[agent_id] = ThreadKey(AGENT, session, agent_id)
        return key

    def _inline_agent(self, line: schema.Line) -> str:
        """1.0.x inline sidechain: follow parentUuid to the root, whose prompt names the Task."""
        uuid, parent = line.uuid, line.parentUuid
        root = uuid if parent is None else self._root.get(parent, parent)
        if not isinstance(root, str):
            return "sidechain"
        if isinstance(uuid, str):
            self._root[uuid] = root
            msg = line.message
            if parent is None and line.type == "user" and msg and isinstance(msg.content, str):
                # Tasks with the same prompt are matched to their sidechains in spawn order.
                waiting = self._task_by_prompt.get(_prompt_key(msg.content))
                if waiting:
                    self._root_agent[root] = waiting.popleft()
        return self._root_agent.get(root) or f"sidechain-{root[:8]}"

    def _line(
        self, line: schema.Line, out: list[Record], spans: dict[ThreadKey, list[Any]]
    ) -> None:
        thread = self._thread(line)
        if thread is None:
            self.stats.skip(self.stats.lines, "no session id")
            return
        ts = parse_ts(line.timestamp)
        typ = line.type
        if typ in _RANK_TYPES:
            self._span(spans, thread, ts, line)
            if thread.agent_id is not None and self.spec.role is FileRole.MAIN:
                self._span(spans, thread.main, ts, None)
        msg = line.message
        if typ == "assistant":
            if msg is None:
                self.stats.skip(self.stats.lines, "assistant line without a message object")
            else:
                self._assistant(thread, ts, line, msg, out)
        elif typ == "user" and msg is not None and isinstance(msg.content, list):
            self._tool_results(thread, ts, line, msg.content, out)
        elif typ == "user" and msg is not None and isinstance(msg.content, str):
            if _typed(line, thread):
                out.append(HumanTurn(thread, ts))
        elif typ == "progress" and line.data:
            self._progress(thread, line, out)

    def _span(
        self, spans: dict[ThreadKey, list[Any]], thread: ThreadKey, ts: float | None, line: Any
    ) -> None:
        s = spans.get(thread)
        if s is None:
            s = spans[thread] = [ts, ts, None, None]
        elif ts is not None:
            if s[0] is None or ts < s[0]:
                s[0] = ts
            if s[1] is None or ts > s[1]:
                s[1] = ts
        if line is not None:
            if s[2] is None and isinstance(line.cwd, str) and line.cwd:
                s[2] = line.cwd
            if isinstance(line.version, str):
                s[3] = line.version

    def _assistant(
        self,
        thread: ThreadKey,
        ts: float | None,
        line: schema.Line,
        msg: schema.Message,
        out: list[Record],
    ) -> None:
        if isinstance(msg.content, list):
            for block in msg.content:
                if block.type == "tool_use" and isinstance(block.id, str):
                    self._tool_use(thread, ts, block, out)
        if msg.model == SYNTHETIC:
            return  # written locally, no API call (C5)
        if msg.usage is None:
            self.stats.skip(self.stats.lines, "assistant line without a usage object")
            return
        tokens, coerced = usage_tokens(msg.usage)
        if coerced:
            self.stats.coerced += 1
        mid = msg.id if isinstance(msg.id, str) and msg.id else None
        rid = line.requestId if isinstance(line.requestId, str) and line.requestId else None
        key = ("cc", mid, rid or "") if mid else ("cc-line", self.path, str(self.stats.lines))
        model = sys.intern(msg.model) if isinstance(msg.model, str) and msg.model else "unknown"
        out.append(UsageRecord(thread, key, model, ts, tokens, mid, rid, coerced))

    def _tool_use(
        self, thread: ThreadKey, ts: float | None, block: schema.Block, out: list[Record]
    ) -> None:
        name = sys.intern(block.name) if isinstance(block.name, str) else "?"
        target, ti = _target(name, block.input)
        out.append(ToolCall(thread, ts, block.id, name, target))
        if name in SPAWN_TOOLS and ti is not None:
            out.append(
                SubagentLink(
                    thread.main,
                    None,
                    block.id,
                    _str(ti.subagent_type),
                    _str(ti.description),
                    thread.agent_id,
                )
            )
            if isinstance(ti.prompt, str) and thread.agent_id is None:
                self._task_by_prompt.setdefault(_prompt_key(ti.prompt), deque()).append(block.id)

    def _tool_results(
        self,
        thread: ThreadKey,
        ts: float | None,
        line: schema.Line,
        blocks: list[schema.Block],
        out: list[Record],
    ) -> None:
        result: schema.ToolUseResult | None = None
        if line.toolUseResult:
            try:
                result = schema.TOOL_USE_RESULT.decode(line.toolUseResult)
            except (msgspec.DecodeError, ValueError):
                result = None  # a string result ("Error: ...") or a shape we do not read
        for block in blocks:
            if block.type != "tool_result" or not isinstance(block.tool_use_id, str):
                continue
            ok = block.is_error is not True
            changed, added, removed = None, 0, 0
            if result is not None and ok:
                if isinstance(result.agentId, str) and result.agentId:
                    out.append(
                        SubagentLink(
                            thread.main, result.agentId, block.tool_use_id, _str(result.agentType)
                        )
                    )
                if isinstance(result.filePath, str) and (
                    result.structuredPatch is not None or result.type in ("create", "update")
                ):
                    changed = result.filePath
                    added, removed = _patch_lines(result.structuredPatch)
                    if not added and result.type == "create" and isinstance(result.content, str):
                        added = result.content.count("\n") + 1
            out.append(
                ToolResult(
                    thread,
                    ts,
                    block.tool_use_id,
                    ok,
                    digest(bytes(block.content)),
                    changed,
                    added,
                    removed,
                )
            )

    def _progress(self, thread: ThreadKey, line: schema.Line, out: list[Record]) -> None:
        # agent_progress copies carry usage too (never counted, C1); only their linkage is read.
        try:
            data = schema.PROGRESS_DATA.decode(line.data)
        except (msgspec.DecodeError, ValueError):
            return
        if data.type == "agent_progress" and isinstance(data.agentId, str):
            parent = _str(line.parentToolUseID)
            out.append(SubagentLink(thread.main, data.agentId, parent))


def file_name_ok(name: str) -> bool:
    """Cheap filter for watch events: could this file name be one of ours?"""
    return name.endswith((".jsonl", ".meta.json"))


def encode_cwd(cwd: str) -> str:
    """Claude Code's project folder name for a cwd (lossy; for mapping processes only)."""
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in cwd)


def parse_whole(path: str, spec: FileSpec, data: bytes) -> list[Record]:  # noqa: ARG001
    """Sidecars: `.meta.json`."""
    if spec.role is FileRole.META and spec.session_id and spec.agent_id:
        link = parse_meta(data, spec.session_id, spec.agent_id)
        return [link] if link is not None else []
    return []


SOURCE = SourceAdapter(
    agent=AGENT,
    parser_version=PARSER_VERSION,
    default_roots=default_roots,
    transcript_dir=transcript_dir,
    classify=classify,
    depth=4,  # main files lie 2 parts deep, sub-agent files 4
    parser=ClaudeParser,
    parse_whole=parse_whole,
)
