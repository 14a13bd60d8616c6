"""Context attribution: which prompts, tool results and file reads fill a session's context.

Pure: a source's context extractor turns log lines into `ContextItem`s and `ResponseSeen`s;
`ContextTally` counts them with an injected `count` (a tokenizer, or a fake in tests). Every
figure here is an estimate and is labelled `est.` wherever it shows; none of it ever enters the
exact totals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from agentwatch.core.alerts import fmt_tokens

Count = Callable[[str], int]
"""Tokens in a text (an estimate)."""


class ContextKind(StrEnum):
    """What put a piece of text into the context."""

    PROMPT = "prompt"
    """A prompt a person typed, or a sub-agent's task."""
    INJECTED = "injected"
    """Text the agent added on its own: meta messages, instructions, environment context."""
    SUMMARY = "summary"
    """A compaction summary."""
    READ = "read"
    """A file read (Claude's Read tool; a Codex `cat`/`sed -n`/`head`/`tail` of one file)."""
    TOOL = "tool"
    """Any other tool result."""
    SUBAGENT = "subagent"
    """A sub-agent's answer, returned to the thread that spawned it."""
    OUTPUT = "output"
    """What the model wrote: text, thinking and tool-call arguments."""


INPUT_KINDS = tuple(k for k in ContextKind if k is not ContextKind.OUTPUT)
"""Kinds that add to the context from outside the model."""

READ = "Read "
"""The label prefix of a file read: `Read <path>`."""

KIND_NAMES = {
    ContextKind.PROMPT: "prompts",
    ContextKind.INJECTED: "injected",
    ContextKind.SUMMARY: "summaries",
    ContextKind.READ: "file reads",
    ContextKind.TOOL: "tool results",
    ContextKind.SUBAGENT: "sub-agent results",
    ContextKind.OUTPUT: "model output",
}
"""Plural names for people."""


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One piece of text that entered a thread's context."""

    kind: ContextKind
    """What put it there."""
    label: str
    """What groups it with others (`Read src/big.py`, `Bash \\`pytest -q\\``, `prompts`)."""
    text: str
    """The text the model saw (or wrote, for output)."""
    thread: str | None = None
    """The sub-agent it belongs to; None for the session's main thread."""
    response: str | None = None
    """For output: the response (message id) it is part of."""
    images: int = 0
    """Images attached to it, which are not estimated."""


@dataclass(frozen=True, slots=True)
class ResponseSeen:
    """One logged line of a model response: its logged output count and whether it is final."""

    thread: str | None
    """The sub-agent it belongs to; None for the main thread."""
    response: str
    """The response (message id)."""
    output: int
    """`output_tokens` as logged on this line."""
    final: bool
    """The line carries a stop reason: its usage is the response's final one."""
    lower_bound: bool
    """The agent version may log placeholder output counts on non-final lines (FORMATS C9)."""


ContextRecord = ContextItem | ResponseSeen


def relative(path: str, cwd: str | None) -> str:
    """`path` relative to `cwd` when it lies below it (for short labels)."""
    if cwd:
        base = cwd.rstrip("/\\")
        for sep in ("/", "\\"):
            if path.startswith(base + sep):
                return path[len(base) + 1 :]
    return path


def short(text: str, width: int = 60) -> str:
    """One line of at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class Consumer:
    """A group of items with the same kind and label, and their estimated tokens."""

    kind: ContextKind
    label: str
    count: int
    """How many items (a file read seven times: 7)."""
    tokens: int
    """Estimated tokens of all of them."""
    threads: int = 1
    """In how many threads (main, sub-agents) they occurred."""

    def describe(self) -> str:
        """`Read src/big.py x7: ~84k tokens est.`"""
        times = f" x{self.count}" if self.count > 1 else ""
        return f"{self.label}{times}: ~{fmt_tokens(self.tokens)} tokens est."


@dataclass(frozen=True, slots=True)
class ThreadEstimate:
    """One thread's estimates, next to what its log says."""

    agent_id: str | None
    """None for the main thread."""
    input_tokens: int
    """Estimated tokens of everything that entered the context from outside the model."""
    output_tokens: int
    """Estimated tokens of everything the model wrote (text, thinking, tool calls)."""
    responses: int
    """Responses seen with a usage."""
    logged_output: int
    """Output tokens the log gives those responses (the largest per response)."""
    unfinished: int
    """Responses with no final line in a version that logs placeholders (C9)."""
    unfinished_logged: int
    """Output tokens the log gives the unfinished responses (a lower bound)."""
    unfinished_est: int
    """Estimated output tokens of the unfinished responses, from their content."""

    @property
    def corrected_output(self) -> int:
        """Logged output where it is final, the estimate where it is a placeholder (never below
        the placeholder, which is a lower bound): an estimate."""
        rest = self.logged_output - self.unfinished_logged
        return rest + max(self.unfinished_est, self.unfinished_logged)


@dataclass(frozen=True, slots=True)
class Streaming:
    """A thread's latest response, still without its final line: its output so far."""

    agent_id: str | None
    response: str
    logged_output: int
    """The placeholder the log gives so far."""
    est_output: int
    """Estimated from the content written so far."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """A session's context estimates (an immutable snapshot of a `ContextTally`)."""

    top: tuple[Consumer, ...]
    """The largest groups of input items, biggest first."""
    by_kind: dict[ContextKind, int]
    """Estimated tokens per kind (output included)."""
    threads: tuple[ThreadEstimate, ...]
    """Main thread first, then sub-agents by id."""
    streaming: tuple[Streaming, ...]
    """Latest responses still without a final line (live placeholders)."""
    items: int
    """Items counted."""
    images: int
    """Images seen and not estimated."""
    top_all: tuple[Consumer, ...] = ()
    """Every input group, biggest first (`top` is its head)."""

    @property
    def input_tokens(self) -> int:
        """Estimated tokens of every input item."""
        return sum(v for k, v in self.by_kind.items() if k is not ContextKind.OUTPUT)

    def read_tokens(self, path: str) -> Consumer | None:
        """The group of reads of `path` (absolute or relative), if any."""
        for c in self.top_all:
            if c.kind is ContextKind.READ and _same_file(c.label[len(READ) :], path):
                return c
        return None


def _same_file(label_path: str, path: str) -> bool:
    a, b = label_path.replace("\\", "/"), path.replace("\\", "/")
    return a == b or b.endswith("/" + a) or a.endswith("/" + b)


@dataclass(slots=True)
class _Group:
    count: int = 0
    tokens: int = 0
    threads: set[str | None] = field(default_factory=set)


@dataclass(slots=True)
class _Response:
    logged: int = 0
    final: bool = False
    lower_bound: bool = False
    est: int = 0
    seq: int = 0


@dataclass(slots=True)
class _Thread:
    input: int = 0
    output: int = 0
    responses: dict[str, _Response] = field(default_factory=dict)


class ContextTally:
    """Accumulates context records incrementally; identical texts are counted once.

    Not thread-safe: one owner feeds it.
    """

    def __init__(self, count: Count) -> None:
        self._count = count
        self._memo: dict[tuple[int, bytes], int] = {}
        self._groups: dict[tuple[ContextKind, str], _Group] = {}
        self._kinds: dict[ContextKind, int] = dict.fromkeys(ContextKind, 0)
        self._threads: dict[str | None, _Thread] = {}
        self._items = 0
        self._images = 0
        self._seq = 0

    def tokens(self, text: str) -> int:
        """Estimated tokens of `text`, memoized by content (a file re-read costs one count)."""
        if not text:
            return 0
        data = text.encode("utf-8", "surrogatepass")
        key = (len(data), hashlib.blake2b(data, digest_size=16).digest())
        n = self._memo.get(key)
        if n is None:
            n = self._memo[key] = self._count(text)
        return n

    def add(self, records: Iterable[ContextRecord]) -> None:
        """Count a batch of records, in log order."""
        for rec in records:
            self._seq += 1
            if isinstance(rec, ResponseSeen):
                self._response(rec)
            else:
                self._item(rec)

    def _thread(self, agent_id: str | None) -> _Thread:
        t = self._threads.get(agent_id)
        if t is None:
            t = self._threads[agent_id] = _Thread()
        return t

    def _response(self, rec: ResponseSeen) -> None:
        r = self._thread(rec.thread).responses.setdefault(rec.response, _Response())
        r.logged = max(r.logged, rec.output)
        r.final = r.final or rec.final
        r.lower_bound = r.lower_bound or rec.lower_bound
        r.seq = self._seq

    def _item(self, item: ContextItem) -> None:
        n = self.tokens(item.text)
        self._items += 1
        self._images += item.images
        self._kinds[item.kind] += n
        t = self._thread(item.thread)
        if item.kind is ContextKind.OUTPUT:
            t.output += n
            if item.response is not None:
                r = t.responses.setdefault(item.response, _Response())
                r.est += n
                r.seq = self._seq
            return
        t.input += n
        g = self._groups.get((item.kind, item.label))
        if g is None:
            g = self._groups[(item.kind, item.label)] = _Group()
        g.count += 1
        g.tokens += n
        g.threads.add(item.thread)

    def snapshot(self, top: int = 10) -> Attribution:
        """The estimates so far, with the `top` largest input groups."""
        groups = sorted(
            (
                Consumer(kind, label, g.count, g.tokens, len(g.threads))
                for (kind, label), g in self._groups.items()
            ),
            key=lambda c: (-c.tokens, -c.count, c.kind, c.label),
        )
        threads: list[ThreadEstimate] = []
        streaming: list[Streaming] = []
        order = sorted(self._threads, key=lambda a: (a is not None, a or ""))
        for aid in order:
            t = self._threads[aid]
            rs = [r for r in t.responses.values() if r.logged or r.final or r.lower_bound]
            open_ = [r for r in rs if r.lower_bound and not r.final]
            threads.append(
                ThreadEstimate(
                    aid,
                    t.input,
                    t.output,
                    len(rs),
                    sum(r.logged for r in rs),
                    len(open_),
                    sum(r.logged for r in open_),
                    sum(r.est for r in open_),
                )
            )
            if t.responses:
                rid, last = max(t.responses.items(), key=lambda kv: kv[1].seq)
                if last.lower_bound and not last.final:
                    streaming.append(Streaming(aid, rid, last.logged, last.est))
        all_groups = tuple(groups)
        return Attribution(
            all_groups[:top],
            dict(self._kinds),
            tuple(threads),
            tuple(streaming),
            self._items,
            self._images,
            all_groups,
        )


def attribute(records: Iterable[ContextRecord], count: Count, top: int = 10) -> Attribution:
    """Estimates for a whole batch of records at once."""
    tally = ContextTally(count)
    tally.add(records)
    return tally.snapshot(top)


def reread_tokens(att: Attribution, files: Mapping[str, int]) -> int | None:
    """Estimated tokens that `files` re-reads (path: times, as a re-read alert's evidence
    gives them) put into the context: each file's average read, times; None when unknown."""
    total, found = 0, False
    for path, times in files.items():
        c = att.read_tokens(path)
        if c is not None and c.count and isinstance(times, int):
            total += round(c.tokens / c.count * times)
            found = True
    return total if found else None
