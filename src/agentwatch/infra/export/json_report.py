"""`report --json`: CLI_CONTRACT section 3, schema_version 1."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from agentwatch.core.accounts import Account
from agentwatch.core.alerts import Signal
from agentwatch.core.records import ThreadKey
from agentwatch.core.stamp import iso_ms
from agentwatch.core.summary import Report, SessionSummary, SubagentSummary
from agentwatch.core.tokens import Tokens
from agentwatch.infra.scan import ScanStats

SCHEMA_VERSION = 1


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds (`2026-02-03T10:14:07.512Z`)."""
    return None if ts is None else iso_ms(ts)


def text_path(path: str) -> str:
    """A path as JSON can carry it: bytes of a name that is not UTF-8 (kept by Python as
    lone surrogates) are written as `\\xNN`."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def tokens(t: Tokens) -> dict[str, int]:
    """TOKENS."""
    return t.as_dict()


def costs(acc: Account) -> dict[str, Any]:
    """`cost_usd`, `cost_is_estimate`, `unpriced_models`."""
    return {
        "cost_usd": acc.cost_usd,
        "cost_is_estimate": acc.cost_is_estimate,
        "unpriced_models": acc.unpriced_models,
    }


def subagent(sub: SubagentSummary) -> dict[str, Any]:
    """SUBAGENT."""
    return {
        "agent_id": sub.agent_id,
        "agent_type": sub.agent_type,
        "description": sub.description,
        "models": sub.account.models,
        "tokens": tokens(sub.account.tokens),
        **costs(sub.account),
        "tool_use_id": sub.tool_use_id,
    }


def session(s: SessionSummary, sig: Signal | dict[str, Any] | None = None) -> dict[str, Any]:
    """SESSION; `signal` when loop detection ran over the session's activity."""
    c = costs(s.main)
    return {
        "agent": str(s.agent),
        "session_id": s.session_id,
        "project": s.project,
        "files": [text_path(f) for f in s.files],
        "started_at": iso(s.started_at),
        "last_activity_at": iso(s.last_activity_at),
        "status": str(s.status),
        "models": s.models,
        "tokens": tokens(s.main.tokens),
        "cost_usd": c["cost_usd"],
        # Flags cover the whole session: a sub-agent's unknown price taints its total too.
        "cost_is_estimate": s.total.cost_is_estimate,
        "unpriced_models": s.total.unpriced_models,
        "subagents": [subagent(x) for x in s.subagents],
        "total_tokens": tokens(s.total.tokens),
        "total_cost_usd": s.total.cost_usd,
        "output_is_lower_bound": s.output_lower_bound,
        "version": s.version,
        **(
            {"signal": sig if isinstance(sig, dict) else sig.to_contract(iso_required)}
            if sig is not None
            else {}
        ),
    }


def iso_required(ts: float) -> str:
    """`iso` for a time that is never missing."""
    out = iso(ts)
    assert out is not None
    return out


def report(
    rep: Report,
    stats: ScanStats,
    now: float,
    signals: Mapping[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
) -> dict[str, Any]:
    """The whole `report --json` document."""
    doc = head(rep, stats, now)
    doc["sessions"] = list(sessions(rep, signals))
    return doc


def sessions(
    rep: Report,
    signals: Mapping[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
) -> Iterator[dict[str, Any]]:
    """The document's SESSION entries, one at a time."""
    sig = signals or {}
    for s in rep.sessions:
        yield session(s, sig.get(ThreadKey(s.agent, s.session_id), (None, []))[0])


def head(rep: Report, stats: ScanStats, now: float) -> dict[str, Any]:
    """The document with an empty `sessions` list (in its place)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(now),
        "sessions": [],
        "totals": {"tokens": tokens(rep.totals.tokens), **costs(rep.totals)},
        "skipped": {
            "lines": stats.lines_skipped,
            "files": len(stats.skipped_files),
            "fields": stats.coerced_fields,
        },
    }
