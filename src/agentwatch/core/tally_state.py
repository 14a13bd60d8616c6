"""A tally as plain lists and dicts (for the persistent index) and back; no I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from agentwatch.core.accounts import Account, Call
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tally import SessionInfo, SubagentInfo, Tally, ThreadInfo
from agentwatch.core.tokens import Tokens

Plain = Any


def _tok(t: Tokens) -> list[int]:
    return [t.input, t.output, t.cache_write, t.cache_write_1h, t.cache_read, t.reasoning]


def _untok(v: list[int]) -> Tokens:
    return Tokens(*v)


def _key(k: ThreadKey) -> list[Any]:
    return [str(k.agent), k.session_id, k.agent_id]


def _unkey(v: list[Any]) -> ThreadKey:
    return ThreadKey(Agent(v[0]), v[1], v[2])


def _account(a: Account) -> Plain:
    return [
        _tok(a.tokens),
        a.cost,
        a.calls,
        a.priced_calls,
        a.estimate_calls,
        dict(a.unpriced),
        {m: _tok(t) for m, t in a.by_model.items()},
        dict(a.model_calls),
        a.cost_by_model,
        list(a.per_minute.items()),
        list(a.cost_per_minute.items()),
    ]


def _unaccount(v: Plain) -> Account:
    return Account(
        _untok(v[0]),
        v[1],
        v[2],
        v[3],
        v[4],
        Counter(v[5]),
        {m: _untok(t) for m, t in v[6].items()},
        Counter(v[7]),
        dict(v[8]),
        {int(m): n for m, n in v[9]},
        {int(m): c for m, c in v[10]},
    )


def _thread(t: ThreadInfo) -> Plain:
    return [
        _key(t.key),
        sorted(t.files),
        t.first_ts,
        t.last_ts,
        t.cwd,
        t.version,
        t.output_lower_bound,
        _account(t.account),
        t.tool_calls,
        t.tool_errors,
        sorted(t.changed_paths),
        t.lines_added,
        t.lines_removed,
    ]


def _unthread(v: Plain) -> ThreadInfo:
    return ThreadInfo(
        _unkey(v[0]),
        set(v[1]),
        v[2],
        v[3],
        v[4],
        v[5],
        v[6],
        _unaccount(v[7]),
        v[8],
        v[9],
        set(v[10]),
        v[11],
        v[12],
    )


def dump_sessions(tally: Tally) -> Plain:
    """Sessions, threads, accounts and sub-agent linkage."""
    return [dump_session(s) for s in tally.sessions.values()]


def dump_session(s: SessionInfo) -> Plain:
    """One session of `dump_sessions`."""
    return [
        _key(s.key),
        s.rank_first,
        s.rank_last,
        _thread(s.main),
        [_thread(t) for t in s.subagents.values()],
        [
            [i.agent_id, i.tool_use_id, i.agent_type, i.description, i.parent_agent_id]
            for i in s.links.values()
        ],
        [[k, v[0], v[1]] for k, v in s.spawns.items()],
    ]


def load_sessions(tally: Tally, data: Plain) -> None:
    """Restore what `dump_sessions` wrote into an empty tally."""
    for v in data:
        main = _unthread(v[3])
        s = SessionInfo(_unkey(v[0]), main, v[1], v[2])
        for tv in v[4]:
            t = _unthread(tv)
            assert t.key.agent_id is not None
            s.subagents[t.key.agent_id] = t
        for lv in v[5]:
            s.links[lv[0]] = SubagentInfo(*lv)
        for sv in v[6]:
            s.spawns[sv[0]] = (sv[1], sv[2])
        tally.sessions[s.key] = s


class CallRow(msgspec.Struct, array_like=True, gc=False):
    """One call of a `CallPiece`; threads are indices into the piece's thread table."""

    key: tuple[str, ...]
    tokens: Tokens
    model: str
    ts: float | None
    owner: int
    cost: float | None
    estimate: bool
    threads: list[int] | None
    """Every thread holding a copy; None when that is the owner alone (the common case)."""
    message_id: str | None
    request_id: str | None


class CallPiece(msgspec.Struct, array_like=True, gc=False):
    """Some calls in compact form: each thread is written once, in a table, so decoding a
    piece (a typed decode, no intermediate lists) builds one key object per thread."""

    threads: list[tuple[str, str, str | None]]
    rows: list[CallRow]


def dump_calls(tally: Tally) -> CallPiece:
    """Every deduplicated call."""
    return dump_call_rows(tally.calls.values())


def dump_call_rows(calls: Iterable[Call]) -> CallPiece:
    """These calls, as `dump_calls` writes them."""
    table: dict[ThreadKey, int] = {}

    def index(k: ThreadKey) -> int:
        i = table.get(k)
        if i is None:
            i = table[k] = len(table)
        return i

    rows = [
        CallRow(
            c.key,
            c.tokens,
            c.model,
            c.ts,
            index(c.owner),
            c.cost,
            c.estimate,
            None if c.threads == (c.owner,) else [index(t) for t in c.threads],
            c.message_id,
            c.request_id,
        )
        for c in calls
    ]
    return CallPiece([(str(k.agent), k.session_id, k.agent_id) for k in table], rows)


def load_calls(pieces: Iterable[CallPiece]) -> dict[tuple[str, ...], Call]:
    """The calls `dump_calls` wrote, by key (`pieces` may be a stream)."""
    out: dict[tuple[str, ...], Call] = {}
    keys: dict[tuple[str, str, str | None], ThreadKey] = {}  # shared by every piece
    models: dict[str, str] = {}  # one string per model name, not one per call
    kinds: dict[str, str] = {}  # and per key kind ("cc", ...)
    alones: dict[ThreadKey, tuple[ThreadKey]] = {}
    for piece in pieces:
        table = [
            keys.get(t) or keys.setdefault(t, ThreadKey(Agent(t[0]), t[1], t[2]))
            for t in piece.threads
        ]
        alone = [alones.setdefault(k, (k,)) for k in table]  # shared by the calls it alone holds
        for r in piece.rows:
            key = r.key
            if key:
                key = (kinds.setdefault(key[0], key[0]), *key[1:])
            owner = table[r.owner]
            mid, rid = r.message_id, r.request_id
            # The ids usually repeat the key's own strings: keep one copy of each.
            if mid is not None and len(key) > 1 and mid == key[1]:
                mid = key[1]
            if rid is not None and len(key) > 2 and rid == key[2]:
                rid = key[2]
            out[key] = Call(
                key,
                r.tokens,
                models.setdefault(r.model, r.model),
                r.ts,
                owner,
                r.cost,
                r.estimate,
                alone[r.owner] if r.threads is None else tuple(table[i] for i in r.threads),
                mid,
                rid,
            )
    return out
