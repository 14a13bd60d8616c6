"""The aggregator: the single writer of deduplicated calls, sessions and their sums."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agentwatch.core.accounts import Account, Call
from agentwatch.core.pricing import PriceLookup, no_prices
from agentwatch.core.records import (
    Record,
    SubagentLink,
    ThreadKey,
    ThreadSeen,
    ToolCall,
    ToolResult,
    UsageRecord,
    UsageRetract,
)
from agentwatch.core.tokens import Tokens

_INF = math.inf


@dataclass(slots=True)
class ThreadInfo:
    """What is known about one thread (main or sub-agent), apart from its calls."""

    key: ThreadKey
    """The thread."""
    files: set[str] = field(default_factory=set)
    """Files that held its lines."""
    first_ts: float | None = None
    """Earliest timestamp seen."""
    last_ts: float | None = None
    """Latest timestamp seen."""
    cwd: str | None = None
    """First working directory seen."""
    version: str | None = None
    """Latest agent version seen."""
    output_lower_bound: bool = False
    """Some lines came from a version that may log placeholder output counts."""
    account: Account = field(default_factory=Account)
    """Sums over the calls credited to this thread."""
    tool_calls: int = 0
    """Tool calls made."""
    tool_errors: int = 0
    """Tool results marked as errors."""
    changed_paths: set[str] = field(default_factory=set)
    """Files changed by successful edits and writes."""
    lines_added: int = 0
    """Lines added by those changes."""
    lines_removed: int = 0
    """Lines removed by those changes."""

    def saw(self, first: float | None, last: float | None) -> None:
        """Widen the time span."""
        if first is not None and (self.first_ts is None or first < self.first_ts):
            self.first_ts = first
        if last is not None and (self.last_ts is None or last > self.last_ts):
            self.last_ts = last


@dataclass(slots=True)
class SubagentInfo:
    """Linkage of a sub-agent to the call that spawned it."""

    agent_id: str
    """The id in its file name (or the spawning call's id for 1.0.x inline sidechains)."""
    tool_use_id: str | None = None
    """The spawning Task/Agent call."""
    agent_type: str | None = None
    """Its type, from the sidecar or the spawning call."""
    description: str | None = None
    """Its description, from the sidecar or the spawning call."""
    parent_agent_id: str | None = None
    """The agent that spawned it, for nested agents."""


@dataclass(slots=True)
class SessionInfo:
    """A session: its main thread, its sub-agents and what links them."""

    key: ThreadKey
    """The session's main thread."""
    main: ThreadInfo
    """The main thread."""
    rank_first: float = _INF
    """Earliest timestamp in the main file (dedup credit goes to the earliest session)."""
    rank_last: float = _INF
    """Latest timestamp in the main file (the tie-breaker)."""
    subagents: dict[str, ThreadInfo] = field(default_factory=dict)
    """Sub-agent threads by agent id."""
    links: dict[str, SubagentInfo] = field(default_factory=dict)
    """Sub-agent linkage by agent id."""
    spawns: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Spawning calls by tool_use id: (agent type, description)."""

    def rank(self) -> tuple[float, float, str]:
        """Order for dedup credit: starts first, then ends first, then the smaller id."""
        return (self.rank_first, self.rank_last, self.key.session_id)

    def subagent(self, agent_id: str) -> SubagentInfo:
        """The sub-agent's linkage, resolved through the spawning call where possible."""
        info = self.links.get(agent_id) or SubagentInfo(agent_id)
        tool_use = info.tool_use_id or (agent_id if agent_id in self.spawns else None)
        agent_type, description = info.agent_type, info.description
        if tool_use is not None and tool_use in self.spawns:
            spawn_type, spawn_desc = self.spawns[tool_use]
            agent_type = agent_type or spawn_type
            description = description or spawn_desc
        return SubagentInfo(agent_id, tool_use, agent_type, description, info.parent_agent_id)


def session_last(s: SessionInfo) -> float | None:
    """Latest timestamp of any thread of the session."""
    lasts = [t.last_ts for t in (s.main, *s.subagents.values()) if t.last_ts is not None]
    return max(lasts) if lasts else None


@dataclass(frozen=True, slots=True)
class UsageChange:
    """A thread's sums changed because a call was added, grew, shrank, moved or was retracted."""

    thread: ThreadKey
    """The thread whose sums changed."""
    call: Call
    """The call involved (its current state)."""
    delta: Tokens
    """Change to the thread's tokens (negative when a call moved away, shrank or was retracted)."""
    ts: float | None
    """When the change counts: the call's time, or for what is taken away, the time it was
    credited at (a larger copy with a later time moves the call's time)."""


ChangeListener = Callable[[UsageChange], None]


class Tally:
    """Applies records in any order and keeps exact, deduplicated sums.

    Counting rules of FORMATS.md: one call per key, the largest usage wins (C3) and later
    growth is a delta; keys are global across files (C4) and credited to the earliest session.
    Records marked `replace` set a call's usage outright (last record wins, so a delta can be
    negative) and `UsageRetract` removes a call. Not thread-safe by design: one writer owns it.
    """

    def __init__(self, price: PriceLookup = no_prices, on_change: ChangeListener | None = None):
        self._price = price
        self.on_change = on_change
        """Called with every change to a thread's sums (set it after a bulk load)."""
        self._calls: dict[tuple[str, ...], Call] | None = {}
        self._calls_loader: Callable[[], dict[tuple[str, ...], Call]] | None = None
        self.sessions: dict[ThreadKey, SessionInfo] = {}
        self._total: Account | None = Account()
        self._owners: list[ThreadKey] = []  # (whose accounts make the total, in order)
        self._contested: dict[ThreadKey, set[tuple[str, ...]]] = {}
        self._dirty: set[ThreadKey] = set()
        self._bulk = False
        self._alone: dict[ThreadKey, tuple[ThreadKey]] = {}
        """One `(thread,)` per thread, shared by the calls only that thread holds."""

    @property
    def total(self) -> Account:
        """Every call, whoever owns it (the headline figures). After a bulk load it is
        summed from the thread accounts when first asked for (a report never asks)."""
        if self._total is None:
            total = Account()
            for owner in self._owners:
                total.merge(self.thread(owner).account)
            self._total, self._owners = total, []
        return self._total

    @total.setter
    def total(self, value: Account) -> None:
        self._total, self._owners = value, []

    def total_from_threads(self) -> None:
        """Leave `total` to be summed from every thread's account when first asked for (a
        tally restored from its sessions)."""
        owners = [t.key for s in self.sessions.values() for t in (s.main, *s.subagents.values())]
        self._total, self._owners = None, owners

    def begin_bulk(self) -> None:
        """Bulk load: skip per-call pricing and sums (and events) until `settle` does them
        once; a streamed call that grows five times is then credited once, not five."""
        self._bulk = True

    @property
    def calls(self) -> dict[tuple[str, ...], Call]:
        """Every deduplicated call by key (loaded on first use after `defer_calls`)."""
        if self._calls is None:
            assert self._calls_loader is not None
            self._calls, self._calls_loader = self._calls_loader(), None
            for call in self._calls.values():
                self._contest(call)
        return self._calls

    @property
    def calls_loaded(self) -> bool:
        """False while the calls are still deferred."""
        return self._calls is not None

    def defer_calls(self, loader: Callable[[], dict[tuple[str, ...], Call]]) -> None:
        """Take the calls from `loader` when first needed (a warm start that finds no change
        never pays for them)."""
        self._calls, self._calls_loader = None, loader

    # ---- public API -----------------------------------------------------------------------
    def apply(self, records: Iterable[Record]) -> None:
        """Apply a batch of records, then settle dedup credit for sessions whose rank moved."""
        for rec in records:
            if isinstance(rec, UsageRecord):
                self._usage(rec)
            elif isinstance(rec, UsageRetract):
                self._retract(rec)
            elif isinstance(rec, ThreadSeen):
                self._seen(rec)
            elif isinstance(rec, SubagentLink):
                self._link(rec)
            elif isinstance(rec, ToolCall):
                self.thread(rec.thread).tool_calls += 1
            elif isinstance(rec, ToolResult):
                self._tool_result(rec)
        if self._dirty and not self._bulk:  # bulk loads settle credit once, at the end
            self._reconcile()

    def price_ahead(self) -> None:
        """Look up the rates of every call so far (a bulk load prices them in `settle`):
        done while another process still reads, it takes that work out of the merge."""
        price = self._price
        for call in self.calls.values():
            price(call.model, call.ts)

    def shares_calls(self, session: ThreadKey) -> bool:
        """True when a call of the session is also held by another session (C4): which of
        them it is credited to depends on both."""
        return bool(self._contested.get(session))

    def session(self, key: ThreadKey) -> SessionInfo:
        """The session of a thread, created on first sight."""
        main = key.main
        s = self.sessions.get(main)
        if s is None:
            s = self.sessions[main] = SessionInfo(main, ThreadInfo(main))
        return s

    def thread(self, key: ThreadKey) -> ThreadInfo:
        """A thread's info, created on first sight."""
        s = self.session(key)
        if key.agent_id is None:
            return s.main
        t = s.subagents.get(key.agent_id)
        if t is None:
            t = s.subagents[key.agent_id] = ThreadInfo(key)
        return t

    # ---- parallel scans -----------------------------------------------------------------------
    def absorb(self, part: Tally) -> None:
        """Merge a partial tally built from other files (a parallel scan).

        Sums are not right while merging: call `settle` once every part is in.
        """
        for key, s in part.sessions.items():
            mine = self.sessions.get(key)
            if mine is None:
                self.sessions[key] = s
            else:
                _merge_session(mine, s)
        calls = self.calls
        for ckey, c in part.calls.items():
            have = calls.get(ckey)
            if have is None:
                calls[ckey] = c
                continue
            have.threads = tuple(dict.fromkeys((*have.threads, *c.threads)))
            if c.tokens.total > have.tokens.total:
                have.tokens, have.model, have.ts = c.tokens, c.model, c.ts

    def settle(self) -> None:
        """After `absorb` or a bulk load: credit every call (C4), price it, rebuild every
        account, and leave bulk mode."""
        self._bulk = False
        self._dirty.clear()
        for s in self.sessions.values():
            s.main.account = Account()
            for t in s.subagents.values():
                t.account = Account()
        self._contested.clear()
        owned: dict[ThreadKey, list[Call]] = {}
        for call in self.calls.values():
            if len(call.threads) > 1:
                self._contest(call)
                call.owner = min(call.threads, key=self._thread_rank)
            call.cost, call.estimate = self._cost(call.model, call.ts, call.tokens)
            mine = owned.get(call.owner)
            if mine is None:
                mine = owned[call.owner] = []
            mine.append(call)
        for owner, calls in owned.items():  # each account summed in one pass
            self.thread(owner).account.add_all(calls)
        self._total, self._owners = None, list(owned)

    # ---- records ----------------------------------------------------------------------------
    def _seen(self, rec: ThreadSeen) -> None:
        t = self.thread(rec.thread)
        t.files.add(rec.path)
        t.saw(rec.first_ts, rec.last_ts)
        if t.cwd is None and rec.cwd:
            t.cwd = rec.cwd
        if rec.version:
            t.version = rec.version
        t.output_lower_bound = t.output_lower_bound or rec.output_lower_bound
        if rec.main_file:
            s = self.session(rec.thread)
            moved = False
            if rec.first_ts is not None and rec.first_ts < s.rank_first:
                s.rank_first, moved = rec.first_ts, True
            if rec.last_ts is not None and (s.rank_last == _INF or rec.last_ts > s.rank_last):
                s.rank_last, moved = rec.last_ts, True
            if moved and (self._calls is None or s.key in self._contested):
                self._dirty.add(s.key)

    def _link(self, rec: SubagentLink) -> None:
        s = self.session(rec.session)
        if rec.agent_id is None:
            if rec.tool_use_id is not None:
                s.spawns[rec.tool_use_id] = (rec.agent_type, rec.description)
            return
        info = s.links.get(rec.agent_id)
        if info is None:
            info = s.links[rec.agent_id] = SubagentInfo(rec.agent_id)
        info.tool_use_id = info.tool_use_id or rec.tool_use_id
        info.agent_type = info.agent_type or rec.agent_type
        info.description = info.description or rec.description
        info.parent_agent_id = info.parent_agent_id or rec.parent_agent_id
        if rec.tool_use_id is not None and rec.agent_type is not None:
            s.spawns.setdefault(rec.tool_use_id, (rec.agent_type, rec.description))

    def _tool_result(self, rec: ToolResult) -> None:
        t = self.thread(rec.thread)
        if not rec.ok:
            t.tool_errors += 1
        if rec.changed_path:
            t.changed_paths.add(rec.changed_path)
            t.lines_added += rec.lines_added
            t.lines_removed += rec.lines_removed

    def _usage(self, rec: UsageRecord) -> None:
        self.thread(rec.thread)  # make sure the thread exists even if it never owns a call
        call = self.calls.get(rec.key)
        if call is None:
            cost, estimate = self._cost(rec.model, rec.ts, rec.tokens)
            alone = self._alone.get(rec.thread)
            if alone is None:
                alone = self._alone[rec.thread] = (rec.thread,)
            call = Call(
                rec.key,
                rec.tokens,
                rec.model,
                rec.ts,
                rec.thread,
                cost,
                estimate,
                alone,
                rec.message_id,
                rec.request_id,
            )
            self.calls[rec.key] = call
            self._credit(call, +1)
            return
        if rec.replace:
            changed = (rec.tokens, rec.model, rec.ts) != (call.tokens, call.model, call.ts)
        else:
            changed = rec.tokens.total > call.tokens.total
        new_thread = rec.thread not in call.threads
        if not changed and not new_thread:
            return
        before_owner, before_tokens, before_ts = call.owner, call.tokens, call.ts
        self._credit(call, -1, emit=False)
        if new_thread:
            call.threads = (*call.threads, rec.thread)
            self._contest(call)
            call.owner = min(call.threads, key=self._thread_rank)
        if changed:
            call.tokens, call.model, call.ts = rec.tokens, rec.model, rec.ts
            call.cost, call.estimate = self._cost(rec.model, rec.ts, rec.tokens)
        self._credit(call, +1, emit=False)
        self._emit_move(call, before_owner, before_tokens, before_ts)

    def _retract(self, rec: UsageRetract) -> None:
        call = self.calls.pop(rec.key, None)
        if call is None:
            return
        for sk in {t.main for t in call.threads}:
            self._contested.get(sk, set()).discard(call.key)
        self._credit(call, -1)

    # ---- helpers ----------------------------------------------------------------------------
    def _contest(self, call: Call) -> None:
        """Remember calls held by several sessions: their credit may move with session ranks."""
        if len(call.threads) > 1:
            sessions = {t.main for t in call.threads}
            if len(sessions) > 1:
                for sk in sessions:
                    self._contested.setdefault(sk, set()).add(call.key)

    def _cost(self, model: str, ts: float | None, tokens: Tokens) -> tuple[float | None, bool]:
        if self._bulk:
            return None, False
        rates = self._price(model, ts)
        if rates is None:
            return None, False
        return rates.cost(tokens), rates.estimate

    def _thread_rank(self, key: ThreadKey) -> tuple[tuple[float, float, str], bool, str]:
        return (self.session(key).rank(), key.agent_id is not None, key.agent_id or "")

    def _credit(self, call: Call, sign: int, *, emit: bool = True) -> None:
        if self._bulk:
            return
        total = self.total  # (summed first where settle left it to be: before this call moves)
        self.thread(call.owner).account.add(call, sign)
        total.add(call, sign)
        if emit and self.on_change is not None:
            delta = call.tokens if sign > 0 else Tokens() - call.tokens
            self.on_change(UsageChange(call.owner, call, delta, call.ts))

    def _emit_move(
        self, call: Call, old_owner: ThreadKey, old_tokens: Tokens, old_ts: float | None
    ) -> None:
        if self.on_change is None:
            return
        if old_owner == call.owner:  # grown (a streamed copy): the growth counts at its time
            self.on_change(UsageChange(call.owner, call, call.tokens - old_tokens, call.ts))
        else:  # moved: it leaves the old owner at the time it was credited there
            self.on_change(UsageChange(old_owner, call, Tokens() - old_tokens, old_ts))
            self.on_change(UsageChange(call.owner, call, call.tokens, call.ts))

    def _reconcile(self) -> None:
        calls = self.calls
        keys: set[tuple[str, ...]] = set()
        for sk in self._dirty:
            keys |= self._contested.get(sk, set())
        self._dirty.clear()
        for k in keys:
            call = calls[k]
            owner = min(call.threads, key=self._thread_rank)
            if owner != call.owner:
                old_owner = call.owner
                self._credit(call, -1, emit=False)
                call.owner = owner
                self._credit(call, +1, emit=False)
                self._emit_move(call, old_owner, call.tokens, call.ts)


def _merge_thread(mine: ThreadInfo, other: ThreadInfo) -> None:
    mine.files |= other.files
    mine.saw(other.first_ts, other.last_ts)
    mine.cwd = mine.cwd or other.cwd
    mine.version = other.version or mine.version
    mine.output_lower_bound = mine.output_lower_bound or other.output_lower_bound
    mine.tool_calls += other.tool_calls
    mine.tool_errors += other.tool_errors
    mine.changed_paths |= other.changed_paths
    mine.lines_added += other.lines_added
    mine.lines_removed += other.lines_removed


def _merge_session(mine: SessionInfo, other: SessionInfo) -> None:
    _merge_thread(mine.main, other.main)
    for aid, t in other.subagents.items():
        if aid in mine.subagents:
            _merge_thread(mine.subagents[aid], t)
        else:
            mine.subagents[aid] = t
    mine.rank_first = min(mine.rank_first, other.rank_first)
    if other.rank_last != _INF and (mine.rank_last == _INF or other.rank_last > mine.rank_last):
        mine.rank_last = other.rank_last
    for aid, info in other.links.items():
        have = mine.links.setdefault(aid, SubagentInfo(aid))
        have.tool_use_id = have.tool_use_id or info.tool_use_id
        have.agent_type = have.agent_type or info.agent_type
        have.description = have.description or info.description
        have.parent_agent_id = have.parent_agent_id or info.parent_agent_id
    for tool_use, spawn in other.spawns.items():
        mine.spawns.setdefault(tool_use, spawn)
