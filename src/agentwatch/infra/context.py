"""Context estimates for one session: re-read its logs, extract context items, count tokens.

The live tally keeps no text, so attribution is computed on demand. A `ContextTracker` keeps a
read position per file, so a later `update` reads (and tokenizes) only what was appended: the
detail screen refreshes a streaming response's estimate that way. Only reads; never writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentwatch.core.alerts import fmt_tokens
from agentwatch.core.context import (
    KIND_NAMES,
    Attribution,
    ContextKind,
    ContextRecord,
    ContextTally,
    Count,
)
from agentwatch.core.records import Agent
from agentwatch.core.tally import SessionInfo
from agentwatch.infra.reader import FileCursor
from agentwatch.infra.tokenizer import Tokenizer, encoding_for, shared
from agentwatch.sources._claude_context import ClaudeContext
from agentwatch.sources._codex_context import CodexContext
from agentwatch.sources.codex import thread_id_of

SUPPORTED = frozenset({Agent.CLAUDE_CODE, Agent.CODEX})
"""Agents whose logs have a context extractor."""


@dataclass(frozen=True, slots=True)
class LogFile:
    """One log file of a session and the thread its name says it holds."""

    path: str
    """The file."""
    agent_id: str | None
    """The sub-agent it belongs to; None for a session's own file."""


@dataclass(frozen=True, slots=True)
class ContextReport:
    """A session's context estimates, and how they were made."""

    attribution: Attribution
    """The estimates (all `est.`)."""
    encoding: str
    """The tiktoken encoding that counted them."""
    files: int
    """Log files read."""
    bytes_read: int
    """Bytes read in all (this update and the ones before)."""
    notes: tuple[str, ...]
    """Files that could not be read, lines skipped: one line each."""


def logs_from_paths(agent: Agent, session_id: str, paths: Iterable[str]) -> list[LogFile]:
    """A session's log files, with the thread each holds told from its name alone."""
    out: list[LogFile] = []
    for p in paths:
        name = Path(p).name
        if not name.endswith(".jsonl"):
            continue  # sidecars (`.meta.json`) hold no conversation
        agent_id: str | None = None
        if agent is Agent.CLAUDE_CODE and name.startswith("agent-"):
            agent_id = name[6:-6]
        elif agent is Agent.CODEX:
            tid = thread_id_of(name)
            agent_id = None if tid == session_id else tid
        out.append(LogFile(p, agent_id))
    return out


def logs_of(info: SessionInfo) -> list[LogFile]:
    """A session's log files from the tally: main files first, then each sub-agent's own."""
    out = [LogFile(p, None) for p in sorted(info.main.files)]
    claimed = set(info.main.files)
    for aid, t in sorted(info.subagents.items()):
        for p in sorted(t.files - claimed):
            if p.endswith(".jsonl"):
                claimed.add(p)
                out.append(LogFile(p, aid))
    return out


def _extractor(agent: Agent, agent_id: str | None) -> ClaudeContext | CodexContext:
    if agent is Agent.CODEX:
        return CodexContext(agent_id)
    return ClaudeContext(agent_id)


class ContextTracker:
    """Context estimates of one session, kept current by re-reading only appended bytes.

    `update` blocks on the tokenizer and on file reads: call it from a worker thread. Calls are
    serialized; a file that was truncated or replaced makes the next update start over.
    """

    def __init__(
        self,
        agent: Agent,
        logs: list[LogFile],
        *,
        tokenizer: Tokenizer | None = None,
        count: Count | None = None,
        top: int = 10,
    ) -> None:
        if agent not in SUPPORTED:
            raise ValueError(f"no context extractor for {agent}")
        self.agent = agent
        self.logs = logs
        self.top = top
        tok = tokenizer
        if count is None:
            tok = tok or shared(encoding_for(agent))
            count = tok.count
        self.encoding = tok.name if tok is not None else "injected counter"
        """The encoding's name, for the label."""
        self._count = count
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        self._tally = ContextTally(self._count)
        self._cursors = {log.path: FileCursor(log.path) for log in self.logs}
        self._extractors = {log.path: _extractor(self.agent, log.agent_id) for log in self.logs}
        self._bytes = 0
        self._stale = False

    def update(self) -> ContextReport:
        """Read what was appended since the last update and return the estimates so far.

        Raises TokenizerError when the tokenizer cannot load.
        """
        with self._lock:
            notes = self._read()
            if self._stale:  # a file was rewritten: what was counted from it is gone
                self._start()
                notes = self._read()
            skipped = sum(e.skipped for e in self._extractors.values())
            if skipped:
                notes.append(f"{skipped:,} unreadable lines skipped")
            return ContextReport(
                self._tally.snapshot(self.top),
                self.encoding,
                len(self.logs),
                self._bytes,
                tuple(notes),
            )

    def _read(self) -> list[str]:
        notes: list[str] = []
        for log in self.logs:
            cursor = self._cursors[log.path]
            extractor = self._extractors[log.path]
            before = cursor.offset
            try:
                for batch in cursor.read_lines(on_reset=self._reset):
                    records: list[ContextRecord] = extractor.feed(batch)
                    self._tally.add(records)
            except OSError as exc:
                notes.append(f"cannot read {log.path}: {exc.strerror or exc}")
                continue
            self._bytes += max(0, cursor.offset - before)
        return notes

    def _reset(self) -> None:
        self._stale = True


def estimate(
    agent: Agent,
    logs: list[LogFile],
    *,
    tokenizer: Tokenizer | None = None,
    count: Count | None = None,
    top: int = 10,
) -> ContextReport:
    """One-shot estimates for a session's logs."""
    return ContextTracker(agent, logs, tokenizer=tokenizer, count=count, top=top).update()


def _who(agent_id: str | None) -> str:
    return "main thread" if agent_id is None else f"sub-agent {agent_id}"


def describe(rep: ContextReport, *, live: bool = True) -> list[str]:
    """The estimates as plain lines for people (every figure says `est.`).

    `live`: the session may still be writing, so a last response without its final line is
    still streaming (otherwise it only counts among the unfinished ones).
    """
    att = rep.attribution
    lines: list[str] = []
    if not att.top:
        lines.append("Nothing entered the context that the logs show.")
    else:
        lines.append("Top context consumers (est.):")
        lines += [f"  {i:>2}. {c.describe()}" for i, c in enumerate(att.top, 1)]
    kinds = [
        f"{KIND_NAMES[k]} ~{fmt_tokens(v)}"
        for k, v in sorted(att.by_kind.items(), key=lambda kv: -kv[1])
        if v and k is not ContextKind.OUTPUT
    ]
    if kinds:
        lines.append("By kind (est.): " + ", ".join(kinds))
    for t in att.threads:
        text = (
            f"{_who(t.agent_id)}: context in ~{fmt_tokens(t.input_tokens)} est., model output "
            f"~{fmt_tokens(t.output_tokens)} est. (logged {t.logged_output:,})"
        )
        if t.unfinished:
            text += (
                f"; {t.unfinished} response{'s' if t.unfinished != 1 else ''} without a final "
                f"line log {t.unfinished_logged:,} output tokens (a lower bound), "
                f"~{fmt_tokens(t.unfinished_est)} est. from their content"
            )
        lines.append(text)
    for s in att.streaming if live else ():
        lines.append(
            f"latest response of the {_who(s.agent_id)} has no final line yet: "
            f"~{fmt_tokens(s.est_output)} output tokens est. so far (the log says "
            f"{s.logged_output:,}, a placeholder)"
        )
    missing = "system prompt and tool definitions (not in the logs)"
    if att.images:
        missing += f", {att.images} image{'s' if att.images != 1 else ''}"
    lines.append(f"Not estimated: {missing}.")
    lines += [f"note: {n}" for n in rep.notes]
    return lines


def summary_json(rep: ContextReport) -> dict[str, Any]:
    """A session's estimates as plain data for `report --context` (every figure `_est`)."""
    att = rep.attribution
    return {
        "estimate": True,
        "encoding": rep.encoding,
        "top": [
            {
                "kind": str(c.kind),
                "label": c.label,
                "count": c.count,
                "tokens_est": c.tokens,
                "threads": c.threads,
            }
            for c in att.top
        ],
        "by_kind_est": {str(k): v for k, v in att.by_kind.items()},
        "input_tokens_est": att.input_tokens,
        "notes": list(rep.notes),
    }
