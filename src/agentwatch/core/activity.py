"""The activity model: per thread, what the agent did and when (the loop detectors' input)."""

from __future__ import annotations

import hashlib
import math
import sys
from bisect import bisect_right, insort
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from operator import attrgetter, itemgetter

from agentwatch.core.records import HumanTurn, Record, ThreadKey, ToolCall, ToolResult

DEFAULT_WINDOW_S = 600.0
"""The detectors' window W, also the width of the windows the idle-burn share is counted in."""
DEFAULT_RETENTION_S = 4 * 3600.0
"""How much history each thread keeps (behind its latest event); older events fold into totals."""
READ_TOOLS = frozenset({"Read", "NotebookRead"})
"""Tools whose results the re-read detector watches."""
NEUTRAL_TOOLS = frozenset(
    {"TodoWrite", "TodoRead", "Task", "Agent", "ExitPlanMode", "EnterPlanMode", "AskUserQuestion"}
)
"""Bookkeeping tools: no key argument to compare, so never a repetition."""
SHOWN = 15
"""How many of a session's latest outcomes and changed files a detail view shows."""
SIG_MAX = 160
_PRUNE_EVERY = 256
_first = itemgetter(0)
_when = attrgetter("ts")


def signature(name: str, target: str | None) -> str:
    """A call's normalised signature: the tool name plus its key argument.

    Whitespace is collapsed; a long argument keeps its head and gains a hash of the whole.
    """
    if target is None:
        return name
    text = " ".join(target.split())
    if len(text) > SIG_MAX:
        tail = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        text = f"{text[: SIG_MAX - 12]}…{tail}"
    return f"{name}: {text}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool call matched with its result."""

    ts: float
    """When the result came back (the call's time if the result has none)."""
    called: float
    """When the call was made (the result's time if the call has none)."""
    name: str
    """Tool name."""
    sig: str
    """Normalised signature (see `signature`)."""
    target: str | None
    """The key argument, whitespace-collapsed, for display."""
    ok: bool
    """False when the agent marked the result as an error."""
    digest: str
    """Short hash of the result text."""

    @property
    def read(self) -> bool:
        """A successful read of a file (the re-read detector's input)."""
        return self.ok and self.name in READ_TOOLS and self.target is not None

    @property
    def neutral(self) -> bool:
        """A bookkeeping call (todo lists, sub-agent spawns, plan mode)."""
        return self.name in NEUTRAL_TOOLS


class ThreadActivity:
    """One thread (a session's main thread or a sub-agent): timed events plus running totals.

    Events may arrive in any order; each list stays sorted by time. Events older than
    `retention_s` behind the newest one are dropped from the lists (the totals keep them).
    """

    def __init__(self, key: ThreadKey, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.key = key
        """The thread."""
        self.retention_s = retention_s
        self.usage: list[tuple[float, int, bool]] = []
        """(time, total tokens, is a new API call) per usage change, sorted."""
        self.outcomes: list[Outcome] = []
        """Completed tool calls, sorted by result time."""
        self.changes: list[tuple[float, str]] = []
        """(time, path) of files this thread's edits and writes changed, sorted."""
        self.humans: list[float] = []
        """Times of human turns, sorted."""
        self.tokens = 0
        """All tokens credited to the thread, ever."""
        self.calls = 0
        """API calls, ever."""
        self.tool_calls = 0
        """Tool calls, ever."""
        self.tool_errors = 0
        """Tool results marked as errors, ever."""
        self.first_ts: float | None = None
        """Earliest event time."""
        self.last_ts: float | None = None
        """Latest event time."""
        self.last_human_ts: float | None = None
        """Latest human turn, kept after the list forgets it."""
        self._calls: dict[str, ToolCall] = {}
        self._results: dict[str, ToolResult] = {}
        self._keys: dict[Hashable, float] = {}
        self._adds = 0

    # ---- input ---------------------------------------------------------------------------
    def add_usage(self, ts: float | None, delta: int, key: Hashable | None = None) -> bool:
        """Add a change to the thread's tokens; returns True when it starts a new API call.

        `key` identifies the call (the tally's dedup key): a call that grows (a streamed
        response) sends several deltas but counts once. Without a key every delta is a call.
        """
        self.tokens += delta
        new = key is None or key not in self._keys
        if new:
            self.calls += 1
        if key is not None:
            self._keys[key] = ts if ts is not None else self._keys.get(key, self.last_ts or 0.0)
        if ts is not None and self._keep(ts):
            insort(self.usage, (ts, delta, new), key=_first)
        return new

    def add_call(self, call: ToolCall) -> Outcome | None:
        """Record a tool call; returns its outcome when its result came first."""
        self.tool_calls += 1
        self._saw(call.ts)
        result = self._results.pop(call.call_id, None)
        if result is not None:
            return self._complete(call, result)
        self._calls[call.call_id] = call
        return None

    def add_result(self, result: ToolResult) -> Outcome | None:
        """Record a tool result; returns the outcome once its call is known."""
        if not result.ok:
            self.tool_errors += 1
        self._saw(result.ts)
        if result.changed_path and result.ts is not None and self._keep(result.ts):
            insort(self.changes, (result.ts, result.changed_path), key=_first)
        call = self._calls.pop(result.call_id, None)
        if call is None:
            self._results[result.call_id] = result
            return None
        return self._complete(call, result)

    def add_human(self, ts: float | None) -> None:
        """Record a human turn."""
        self._saw(ts)
        if ts is None:
            return
        if self.last_human_ts is None or ts > self.last_human_ts:
            self.last_human_ts = ts
        if self._keep(ts):
            insort(self.humans, ts)

    # ---- views ---------------------------------------------------------------------------
    def tokens_per_minute(self, now: float, minutes: int = 10) -> list[int]:
        """Tokens in each of the last `minutes` whole minutes up to `now`, oldest first."""
        out = [0] * minutes
        start = now - minutes * 60.0
        for ts, tokens, _ in self.usage[bisect_right(self.usage, start, key=_first) :]:
            if ts > now:
                break
            out[min(int((ts - start) // 60.0), minutes - 1)] += tokens
        return out

    def rate(self, now: float, span_s: float = 60.0) -> float:
        """Tokens per minute over the last `span_s` seconds."""
        lo = bisect_right(self.usage, now - span_s, key=_first)
        hi = bisect_right(self.usage, now, key=_first)
        return sum(u[1] for u in self.usage[lo:hi]) * 60.0 / span_s

    # ---- internals -----------------------------------------------------------------------
    def _complete(self, call: ToolCall, result: ToolResult) -> Outcome | None:
        ts = result.ts if result.ts is not None else call.ts
        if ts is None or not self._keep(ts):
            return None
        target = " ".join(call.target.split()) if call.target is not None else None
        called = call.ts if call.ts is not None and call.ts <= ts else ts
        sig = signature(call.name, call.target)
        name = sys.intern(call.name)  # (a few tool names, decoded afresh for every record)
        out = Outcome(ts, called, name, sig, target, result.ok, result.digest)
        insort(self.outcomes, out, key=_when)
        return out

    def _saw(self, ts: float | None) -> None:
        if ts is None:
            return
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    def _keep(self, ts: float) -> bool:
        """Note an event time; False when it is already older than the retention window."""
        self._saw(ts)
        self._adds += 1
        if self._adds % _PRUNE_EVERY == 0:
            self._prune()
        assert self.last_ts is not None
        return ts >= self.last_ts - self.retention_s

    def forget_keys(self) -> None:
        """Forget which API calls were seen (a later copy of one counts as a new call)."""
        self._keys = {}

    def _prune(self) -> None:
        assert self.last_ts is not None
        horizon = self.last_ts - self.retention_s
        del self.usage[: bisect_right(self.usage, horizon, key=_first)]
        del self.outcomes[: bisect_right(self.outcomes, horizon, key=_when)]
        del self.changes[: bisect_right(self.changes, horizon, key=_first)]
        del self.humans[: bisect_right(self.humans, horizon)]
        self._keys = {k: t for k, t in self._keys.items() if t >= horizon}
        self._calls = {k: c for k, c in self._calls.items() if (c.ts or horizon) >= horizon}
        self._results = {k: r for k, r in self._results.items() if (r.ts or horizon) >= horizon}


class SessionActivity:
    """A session: its threads, file changes seen by a filesystem watch, and running totals."""

    def __init__(
        self,
        key: ThreadKey,
        window_s: float = DEFAULT_WINDOW_S,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.key = key.main
        """The session's main thread."""
        self.window_s = window_s
        """Width of the windows the idle-burn share is counted in."""
        self.retention_s = retention_s
        self.threads: dict[ThreadKey, ThreadActivity] = {}
        """Main thread and sub-agents."""
        self.watched: list[tuple[float, str]] = []
        """(time, path) of changes from a filesystem watch (no thread known), sorted."""
        self.paths: set[str] = set()
        """Distinct files changed, from edits and the watch."""
        self.lines_added = 0
        """Lines added by edits and writes, where the log tells."""
        self.lines_removed = 0
        """Lines removed by edits and writes, where the log tells."""
        self._win_tokens: dict[int, int] = {}
        self._win_changed: set[int] = set()
        self._folded = [0, 0]  # tokens and idle tokens of windows past retention

    def thread(self, key: ThreadKey) -> ThreadActivity:
        """A thread of this session, created on first sight."""
        t = self.threads.get(key)
        if t is None:
            t = self.threads[key] = ThreadActivity(key, self.retention_s)
        return t

    @property
    def tokens(self) -> int:
        """All tokens of the session's threads."""
        return sum(t.tokens for t in self.threads.values())

    def feed(self, rec: Record) -> None:
        """Apply one record of this session (`ToolCall`, `ToolResult`, `HumanTurn`).

        Other records are ignored: usage arrives through `add_usage`, after deduplication.
        """
        if isinstance(rec, ToolCall):
            self.thread(rec.thread).add_call(rec)
        elif isinstance(rec, ToolResult):
            self.thread(rec.thread).add_result(rec)
            if rec.changed_path:
                self.paths.add(rec.changed_path)
                self.lines_added += rec.lines_added
                self.lines_removed += rec.lines_removed
                self._mark(rec.ts)
        elif isinstance(rec, HumanTurn):
            self.thread(rec.thread).add_human(rec.ts)

    def add_usage(
        self, thread: ThreadKey, ts: float | None, delta: int, key: Hashable | None = None
    ) -> None:
        """A change to a thread's tokens (a tally `UsageChange`); see `ThreadActivity.add_usage`."""
        self.thread(thread).add_usage(ts, delta, key)
        if ts is not None:
            w = self._window(ts)
            if w not in self._win_tokens:
                self._win_tokens[w] = 0
                self._fold()
            if w in self._win_tokens:
                self._win_tokens[w] += delta
            else:  # older than retention already: straight into the totals
                self._folded[0] += delta
                self._folded[1] += 0 if w in self._win_changed else delta

    def add_change(self, ts: float, path: str, source: str = "watch") -> None:
        """A file change seen outside the log (a filesystem watch): progress for every thread."""
        del source  # one kind of outside source so far; kept for the caller's clarity
        self.paths.add(path)
        insort(self.watched, (ts, path), key=_first)
        self._mark(ts)

    def idle_burn(self, now: float) -> tuple[int, int]:
        """(tokens in W-windows with no file change, all tokens), windows up to `now`."""
        total, idle = self._folded
        last = self._window(now)
        for w, tokens in self._win_tokens.items():
            if w <= last:
                total += tokens
                if w not in self._win_changed:
                    idle += tokens
        return idle, total

    def resets(self, key: ThreadKey, now: float) -> list[float]:
        """Times that count as progress for a thread up to `now`: its own file changes, watched
        changes and its human turns, sorted."""
        t = self.thread(key)
        out = [c[0] for c in t.changes[: bisect_right(t.changes, now, key=_first)]]
        out += [c[0] for c in self.watched[: bisect_right(self.watched, now, key=_first)]]
        out += t.humans[: bisect_right(t.humans, now)]
        out.sort()
        return out

    @property
    def last_ts(self) -> float | None:
        """The latest event of any thread."""
        lasts = [t.last_ts for t in self.threads.values() if t.last_ts is not None]
        return max(lasts, default=None)

    def forget_history(self, shown: int = SHOWN) -> None:
        """For a dormant session (its last event long past every detector's reach): drop
        the timed events, but for the `shown` latest outcomes and the changes that make its
        `shown` latest changed files (what a detail view shows: `recent` and `changed` give
        what they gave before). Totals, times, idle-burn sums (its windows folded into them) and
        unmatched calls stay."""
        kept = {id(o) for o in self.recent(shown)}
        firsts = self._first_changes()
        still = {firsts[path] for path in self.changed(shown)}
        for t in self.threads.values():
            t.outcomes = [o for o in t.outcomes if id(o) in kept]
            t.changes = [c for c in t.changes if c in still]
            t.usage, t.humans = [], []
            t.forget_keys()
        for w, tokens in self._win_tokens.items():  # every window into the idle-burn sums;
            self._folded[0] += tokens  # (which had a change stays known: a late delta timed
            if w not in self._win_changed:  # in one, a rewind's, counts where it belongs)
                self._folded[1] += tokens
        self._win_tokens = {}

    def recent(self, shown: int = SHOWN) -> list[Outcome]:
        """The latest `shown` outcomes of every thread, oldest first."""
        outs = sorted((o for t in self.threads.values() for o in t.outcomes), key=_when)
        return outs[-shown:] if shown > 0 else []

    def changed(self, shown: int = SHOWN) -> list[str]:
        """The `shown` files whose first change (by an edit or write) is latest, oldest first."""
        paths = list(self._first_changes())
        return paths[-shown:] if shown > 0 else []

    def _first_changes(self) -> dict[str, tuple[float, str]]:
        """Each changed file's first change, in the order of those first changes."""
        firsts: dict[str, tuple[float, str]] = {}
        for c in sorted(c for t in self.threads.values() for c in t.changes):
            firsts.setdefault(c[1], c)
        return firsts

    def _window(self, ts: float) -> int:
        return int(ts // self.window_s)

    def _mark(self, ts: float | None) -> None:
        if ts is not None:
            self._win_changed.add(self._window(ts))

    def _fold(self) -> None:
        """Fold windows past retention into the running totals; forget old watched changes."""
        if math.isinf(self.retention_s):
            return
        newest = max(self._win_tokens)
        horizon = newest - math.ceil(self.retention_s / self.window_s)
        for w in [w for w in self._win_tokens if w < horizon]:
            tokens = self._win_tokens.pop(w)
            self._folded[0] += tokens
            if w not in self._win_changed:
                self._folded[1] += tokens
        self._win_changed = {w for w in self._win_changed if w >= horizon}
        cut = bisect_right(self.watched, horizon * self.window_s, key=_first)
        del self.watched[:cut]


class Activity:
    """Every session's activity; routes records and usage to the right session and thread."""

    def __init__(
        self, window_s: float = DEFAULT_WINDOW_S, retention_s: float = DEFAULT_RETENTION_S
    ) -> None:
        self.window_s = window_s
        self.retention_s = retention_s
        self.sessions: dict[ThreadKey, SessionActivity] = {}
        """Sessions by main thread."""

    def session(self, key: ThreadKey) -> SessionActivity:
        """The session of a thread, created on first sight."""
        main = key.main
        s = self.sessions.get(main)
        if s is None:
            s = self.sessions[main] = SessionActivity(main, self.window_s, self.retention_s)
        return s

    def feed(self, records: Iterable[Record]) -> None:
        """Apply records (`ToolCall`, `ToolResult`, `HumanTurn`; the rest are ignored)."""
        for rec in records:
            if isinstance(rec, ToolCall | ToolResult | HumanTurn):
                self.session(rec.thread).feed(rec)

    def add_usage(
        self, thread: ThreadKey, ts: float | None, delta: int, key: Hashable | None = None
    ) -> None:
        """A change to a thread's tokens; see `ThreadActivity.add_usage`."""
        self.session(thread).add_usage(thread, ts, delta, key)

    def add_change(self, session: ThreadKey, ts: float, path: str, source: str = "watch") -> None:
        """A file change seen by a filesystem watch in a session's working directory."""
        self.session(session).add_change(ts, path, source)
