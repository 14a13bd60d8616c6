"""`report --format md`: a summary to paste into a pull request or an issue."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from agentwatch.core.accounts import Account
from agentwatch.core.summary import SessionSummary
from agentwatch.infra.export.json_report import iso
from agentwatch.infra.export.model import (
    COST_NOTE,
    Export,
    alerts_of,
    fmt_cost,
    fmt_int,
    fmt_ratio,
    fmt_share,
    key_of,
    local,
    plural,
    produced,
    short_model,
    signal_of,
    top_alerts,
    what,
    zone_name,
)
from agentwatch.infra.export.text import SessionText

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")
_SPACE = re.compile(r"\s+")


def esc(text: str | None) -> str:
    """Text from logs made inert in a Markdown table cell: one line, punctuation escaped."""
    if not text:
        return "-"
    return _SPECIAL.sub(r"\\\1", _SPACE.sub(" ", text).strip()) or "-"


def code(text: str) -> str:
    """An id in a code span (backticks cannot occur in ids, but are dropped to be sure)."""
    return "`" + text.replace("`", "") + "`"


def _table(header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> list[str]:
    """`align` has one letter per column: `l` or `r`."""
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return [*out, ""]


def _token_cells(acc: Account) -> list[str]:
    t = acc.tokens
    return [
        fmt_int(t.input),
        fmt_int(t.output),
        fmt_int(t.cache_write),
        fmt_int(t.cache_read),
        fmt_int(t.total),
        fmt_cost(acc),
    ]


TOKEN_HEADER = ("Input", "Output", "Cache write", "Cache read", "Total", "Cost")


def _sid(s: SessionSummary) -> str:
    return code(s.session_id[:8])


def _head(doc: Export) -> list[str]:
    rep = doc.report
    zone = zone_name(doc.tz, doc.now)
    starts = [s.started_at for s in rep.sessions if s.started_at is not None]
    ends = [s.last_activity_at for s in rep.sessions if s.last_activity_at is not None]
    span = f"{local(min(starts), doc.tz)} to {local(max(ends), doc.tz)} {zone}" if starts else ""
    facts = [f"**{plural(len(rep.sessions), 'session')}**"]
    if span:
        facts.append(span)
    if doc.scope:
        facts.append("filters: " + esc(doc.scope))
    facts.append(f"generated {iso(doc.now)}")
    return [f"## {esc(doc.title)}", "", " · ".join(facts), ""]


def _totals(doc: Export) -> list[str]:
    p = produced(doc)
    out = _table(TOKEN_HEADER, "rrrrrr", [_token_cells(doc.report.totals)])
    alerts = plural(p.alerts, "loop alert")
    out += [
        (
            f"**What the tokens produced:** {plural(p.files_changed, 'file')} changed, "
            f"+{fmt_int(p.lines_added)} / -{fmt_int(p.lines_removed)} lines, "
            f"{fmt_ratio(p.tokens_per_changed_line)} tokens per changed line, "
            f"{fmt_share(p.idle_burn_share)} idle burn, {alerts}."
        ),
        "",
    ]
    return out


def _sessions(doc: Export) -> list[str]:
    rows = [
        [
            _sid(s),
            str(s.agent),
            esc(s.project),
            local(s.started_at, doc.tz),
            esc(", ".join(short_model(m) for m in s.models)),
            *_token_cells(s.total),
        ]
        for s in doc.report.sessions
    ]
    n = plural(len(doc.report.sessions), "session")
    rows.append(["**Total**", "", n, "", "", *_token_cells(doc.report.totals)])
    header = ("Session", "Agent", "Project", "Started", "Models", *TOKEN_HEADER)
    return ["### Sessions", "", *_table(header, "lllllrrrrrr", rows)]


def _produced(doc: Export) -> list[str]:
    rows = []
    for s in doc.report.sessions:
        sig = signal_of(doc, s)
        rows.append(
            [
                _sid(s),
                fmt_int(int(sig.get("files_changed") or 0)),
                "+" + fmt_int(int(sig.get("lines_added") or 0)),
                "-" + fmt_int(int(sig.get("lines_removed") or 0)),
                fmt_ratio(sig.get("tokens_per_changed_line")),
                fmt_share(sig.get("idle_burn_share")),
                str(len(alerts_of(doc, s))),
            ]
        )
    header = (
        "Session",
        "Files changed",
        "Lines added",
        "Lines removed",
        "Tokens per changed line",
        "Idle-burn share",
        "Alerts",
    )
    return ["### What each session produced", "", *_table(header, "lrrrrrr", rows)]


def _subagents(doc: Export) -> list[str]:
    rows = [
        [
            _sid(s),
            code(sub.agent_id),
            esc(what(sub.agent_type, sub.description)),
            esc(", ".join(short_model(m) for m in sub.account.models)),
            fmt_int(sub.account.tokens.total),
            fmt_cost(sub.account),
        ]
        for s in doc.report.sessions
        for sub in s.subagents
    ]
    if not rows:
        return []
    header = ("Session", "Sub-agent", "What", "Models", "Total", "Cost")
    return ["### Sub-agents", "", *_table(header, "llllrr", rows)]


def _groups(doc: Export) -> list[str]:
    if doc.groups is None:
        return []
    by = doc.groups[0].by if doc.groups else None
    title = {"day": f"By day ({zone_name(doc.tz, doc.now)})"}.get(str(by), f"By {by}")
    rows = [
        [
            code(g.key) if str(g.by) == "session" else esc(g.key),
            fmt_int(g.sessions),
            *_token_cells(g.account),
        ]
        for g in doc.groups
    ]
    label = str(by).capitalize() if by else "Group"
    return [f"### {title}", "", *_table((label, "Sessions", *TOKEN_HEADER), "lrrrrrrr", rows)]


def _alerts(doc: Export) -> list[str]:
    found = top_alerts(doc)
    if not found:
        return []
    rows = [
        [
            _sid(s) + (f" / {code(a['agent_id'])}" if a.get("agent_id") else ""),
            esc(str(a["severity"])),
            esc(str(a["kind"])),
            esc(str(a["started_at"])[:16].replace("T", " ")),
            fmt_int(int(a["tokens"])),
            esc(str(a["reason"])),
        ]
        for a, s in found
    ]
    header = ("Session", "Severity", "Kind", "Started (UTC)", "Tokens", "Reason")
    return ["### Top alerts", "", *_table(header, "llllrl", rows)]


def fence(text: str) -> str:
    """A fenced code block that no backtick run inside `text` can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _transcript(doc: Export, s: SessionSummary, text: SessionText) -> list[str]:
    n = len(text.entries)
    # The summary is raw HTML (Markdown is not processed there): escape it as HTML.
    out = [
        f"<details><summary>{html.escape(s.session_id[:8])} {html.escape(s.project or '-')}: "
        f"{n} entries" + (f", {text.omitted} more left out" if text.omitted else "") + "</summary>",
        "",
    ]
    for e in text.entries:
        who = f" ({code(e.agent_id)})" if e.agent_id else ""
        tool = f" {code(e.tool)}" if e.tool else ""
        err = " **error**" if e.error else ""
        when = local(e.ts, doc.tz, seconds=True)
        out += [f"**{when} {e.kind.replace('_', ' ')}**{tool}{who}{err}", "", fence(e.text), ""]
    return [*out, "</details>", ""]


def _texts(doc: Export) -> list[str]:
    if doc.texts is None:
        return []
    note = (
        "Secrets (API keys, tokens, private keys, passwords) were redacted."
        if doc.redacted
        else "**Not redacted** (`--no-redact`): this text may hold secrets."
    )
    out = ["### Transcripts", "", note, ""]
    for s in doc.report.sessions:
        text = doc.texts.get(key_of(s))
        if text is not None and text.entries:
            out += _transcript(doc, s, text)
    return out


def render(doc: Export) -> str:
    """The Markdown document."""
    out = _head(doc)
    if not doc.report.sessions:
        out += ["No sessions matched.", ""]
        return "\n".join(out)
    out += _totals(doc)
    out += _sessions(doc)
    out += _produced(doc)
    out += _subagents(doc)
    out += _groups(doc)
    out += _alerts(doc)
    out += _texts(doc)
    unpriced = doc.report.totals.unpriced_models
    notes = [COST_NOTE]
    if unpriced:
        notes.append("Unpriced models: " + ", ".join(esc(m) for m in unpriced) + ".")
    notes.append(f"Times in {zone_name(doc.tz, doc.now)}. Made with agentwatch.")
    out += ["---", "", " ".join(notes), ""]
    return "\n".join(out)
