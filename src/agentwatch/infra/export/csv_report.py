"""`report --format csv`: CLI_CONTRACT section 6 (session rows, sub-agent rows, or groups)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from agentwatch.core.accounts import Account
from agentwatch.core.groups import Group
from agentwatch.core.summary import SessionSummary, SubagentSummary
from agentwatch.core.tokens import Tokens
from agentwatch.infra.export.json_report import iso
from agentwatch.infra.export.model import Export

TOKEN_COLUMNS = (
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "reasoning",
    "total",
)
HEADER = (
    "agent",
    "session_id",
    "parent_session",
    "agent_id",
    "project",
    "started_at",
    "last_activity_at",
    "models",
    *TOKEN_COLUMNS,
    "cost_usd",
    # Beyond the contract's minimum, after it:
    "cost_is_estimate",
    "unpriced_models",
    "status",
    "agent_type",
    "description",
)
"""Session and sub-agent rows."""
GROUP_HEADER = (
    "by",
    "key",
    "sessions",
    *TOKEN_COLUMNS,
    "cost_usd",
    "cost_is_estimate",
    "unpriced_models",
)
"""Rows with `--by`: one per group."""


def _cell(v: Any) -> Any:
    """Null as an empty cell, booleans as `true`/`false`, numbers unformatted."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _text(v: str | None) -> str | None:
    """Free text from logs (project, agent type, description): a leading `=`, `+`, `-` or `@`
    gets a `'` so a spreadsheet shows it instead of evaluating it as a formula."""
    if v and v[0] in "=+-@\t\r":
        return "'" + v
    return v


def _tokens(t: Tokens) -> list[int]:
    d = t.as_dict()
    return [d[k] for k in TOKEN_COLUMNS]


def _money(acc: Account) -> list[Any]:
    # Sums of float prices pick up noise (0.0659 as 0.06589999999999999): 1e-10 USD is plenty.
    cost = None if acc.cost_usd is None else round(acc.cost_usd, 10)
    return [cost, acc.cost_is_estimate, _text(";".join(acc.unpriced_models))]


def session_row(s: SessionSummary) -> list[Any]:
    """A session: its `total_tokens` (sub-agents included) and total cost."""
    return [
        str(s.agent),
        s.session_id,
        None,
        None,
        _text(s.project),
        iso(s.started_at),
        iso(s.last_activity_at),
        _text(";".join(s.models)),
        *_tokens(s.total.tokens),
        *_money(s.total),
        str(s.status),
        None,
        None,
    ]


def subagent_row(s: SessionSummary, sub: SubagentSummary) -> list[Any]:
    """A sub-agent: under its parent's session id, with its own tokens and cost."""
    return [
        str(s.agent),
        s.session_id,
        s.session_id,
        sub.agent_id,
        _text(s.project),
        iso(sub.first_ts),
        iso(sub.last_ts),
        _text(";".join(sub.account.models)),
        *_tokens(sub.account.tokens),
        *_money(sub.account),
        None,
        _text(sub.agent_type),
        _text(sub.description),
    ]


def group_row(g: Group) -> list[Any]:
    """One group."""
    return [str(g.by), _text(g.key), g.sessions, *_tokens(g.tokens), *_money(g.account)]


def _write(header: Sequence[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([[_cell(v) for v in r] for r in rows])
    return buf.getvalue()


def render(doc: Export) -> str:
    """The CSV text: sessions with their sub-agents after each, or one row per group."""
    if doc.groups is not None:
        return _write(GROUP_HEADER, [group_row(g) for g in doc.groups])
    rows: list[list[Any]] = []
    for s in doc.report.sessions:
        rows.append(session_row(s))
        rows.extend(subagent_row(s, sub) for sub in s.subagents)
    return _write(HEADER, rows)
