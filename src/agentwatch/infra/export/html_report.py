"""`report --format html`: one self-contained page (inline CSS, SVG and script; no network).

Every string that comes from a log (paths, descriptions, models, reasons, text) is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from agentwatch import __version__
from agentwatch.core.accounts import Account
from agentwatch.core.alerts import fmt_tokens
from agentwatch.core.timeline import timeline
from agentwatch.infra.export.html_assets import CSP, CSS, SCRIPT
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
from agentwatch.infra.export.palette import Palette
from agentwatch.infra.export.table import AGENT_SHORT


def e(text: object) -> str:
    """HTML-escape anything (quotes included, for attributes)."""
    return html.escape(str(text), quote=True)


def _cost(acc: Account) -> str:
    text = e(fmt_cost(acc))
    v = "" if acc.cost_usd is None else f' data-v="{acc.cost_usd!r}"'
    if acc.cost_usd is None and acc.calls:
        return f'<td class="num unpriced"{v}>{text}</td>'
    cls = "num est" if acc.cost_is_estimate else "num"
    return f'<td class="{cls}"{v}>{text}</td>'


def _num(n: int | float | None, text: str | None = None) -> str:
    shown = text if text is not None else ("-" if n is None else fmt_int(int(n)))
    v = "" if n is None else f' data-v="{n!r}"'
    return f'<td class="num"{v}>{e(shown)}</td>'


def _th(cols: Sequence[tuple[str, str]]) -> str:
    """Header cells from `(title, key)`; a key starting with `#` is a numeric column."""
    cells = "".join(
        f'<th class="num" data-col="{k[1:]}">{e(t)}</th>'
        if k.startswith("#")
        else f'<th data-col="{k}">{e(t)}</th>'
        for t, k in cols
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _table(table_id: str, cols: Sequence[tuple[str, str]], rows: list[str], sortable: bool) -> str:
    cls = ' class="sortable"' if sortable else ""
    return (
        f'<div class="wrap"><table id="{table_id}"{cls}>{_th(cols)}'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


TOKEN_COLS = (
    ("Input", "#input"),
    ("Output", "#output"),
    ("Cache write", "#cache_write"),
    ("Cache read", "#cache_read"),
    ("Total", "#total"),
    ("Cost", "#cost_usd"),
)


def _tokens(acc: Account) -> str:
    t = acc.tokens
    return (
        _num(t.input) + _num(t.output) + _num(t.cache_write) + _num(t.cache_read) + _num(t.total)
    ) + _cost(acc)


def _brief(acc: Account) -> str:
    """Output, cache read, total (its title lists every kind) and cost: a row that fits."""
    t = acc.tokens
    kinds = (
        f"input {fmt_int(t.input)} · output {fmt_int(t.output)} · cache write "
        f"{fmt_int(t.cache_write)} · cache read {fmt_int(t.cache_read)}"
    )
    total = f'<td class="num" data-v="{t.total!r}" title="{e(kinds)}">{e(fmt_int(t.total))}</td>'
    return _num(t.output) + _num(t.cache_read) + total + _cost(acc)


def _header(doc: Export) -> str:
    rep = doc.report
    zone = zone_name(doc.tz, doc.now)
    starts = [s.started_at for s in rep.sessions if s.started_at is not None]
    ends = [s.last_activity_at for s in rep.sessions if s.last_activity_at is not None]
    facts = [plural(len(rep.sessions), "session")]
    if starts:
        facts.append(f"{local(min(starts), doc.tz)} to {local(max(ends), doc.tz)} {zone}")
    if doc.scope:
        facts.append("filters: " + doc.scope)
    facts.append("generated " + (iso(doc.now) or ""))
    return f'<header><h1>{e(doc.title)}</h1><p class="muted">{e(" · ".join(facts))}</p></header>'


def _cards(doc: Export) -> str:
    t = doc.report.totals
    p = produced(doc)
    cards = [
        ("Total tokens", fmt_int(t.tokens.total), False),
        ("Cost", fmt_cost(t), False),
        ("Sessions", fmt_int(len(doc.report.sessions)), False),
        ("Files changed", fmt_int(p.files_changed), False),
        ("Lines changed", f"+{fmt_int(p.lines_added)} -{fmt_int(p.lines_removed)}", False),
        ("Tokens per changed line", fmt_ratio(p.tokens_per_changed_line), False),
        ("Idle-burn share", fmt_share(p.idle_burn_share), (p.idle_burn_share or 0) >= 0.5),
        ("Loop alerts", fmt_int(p.alerts), p.alerts > 0),
    ]
    body = "".join(
        f'<div class="card{" bad" if bad else ""}"><div class="v">{e(v)}</div>'
        f'<div class="k">{e(k)}</div></div>'
        for k, v, bad in cards
    )
    tk = t.tokens
    breakdown = _table(
        "totals",
        [
            *TOKEN_COLS[:3],
            ("of which 1 h", "#cache_write_1h"),
            TOKEN_COLS[3],
            ("Reasoning", "#reasoning"),
            *TOKEN_COLS[4:],
        ],
        [
            "<tr>"
            + _num(tk.input)
            + _num(tk.output)
            + _num(tk.cache_write)
            + _num(tk.cache_write_1h)
            + _num(tk.cache_read)
            + _num(tk.reasoning)
            + _num(tk.total)
            + _cost(t)
            + "</tr>"
        ],
        sortable=False,
    )
    return f'<section class="cards">{body}</section><h2>Tokens by kind</h2>{breakdown}'


def _chart(doc: Export) -> str:
    unit, buckets = timeline((s.total.per_minute for s in doc.report.sessions), doc.tz)
    if not buckets:
        return ""
    w, h, left, bottom, top = 1000, 200, 56, 30, 10
    peak = max(b.tokens for b in buckets) or 1
    plot_w, plot_h = w - left - 8, h - bottom - top
    step = plot_w / len(buckets)
    parts = [f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="tokens per {unit}">']
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{w - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{e(fmt_tokens(round(peak * i / 4)))}</text>"
        )
    every = max(1, round(len(buckets) / 10))
    for i, b in enumerate(buckets):
        x = left + i * step
        bh = plot_h * b.tokens / peak
        parts.append(
            f'<rect class="bar" x="{x + step * 0.1:.1f}" y="{top + plot_h - bh:.1f}" '
            f'width="{max(step * 0.8, 1):.1f}" height="{bh:.1f}">'
            f"<title>{e(b.label)}: {e(fmt_int(b.tokens))} tokens</title></rect>"
        )
        if i % every == 0:
            label = b.label[5:] if unit == "day" else b.label[5:16]
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{h - 10}" text-anchor="middle">{e(label)}</text>'
            )
    parts.append("</svg>")
    title = f"Tokens per {unit} ({zone_name(doc.tz, doc.now)})"
    return f'<h2>{e(title)}</h2><div class="chart">{"".join(parts)}</div>'


def _sessions(doc: Export) -> str:
    rows = []
    for s in doc.report.sessions:
        sig = signal_of(doc, s)
        added, removed = int(sig.get("lines_added") or 0), int(sig.get("lines_removed") or 0)
        share = sig.get("idle_burn_share")
        rows.append(
            "<tr>"
            f'<td class="mono" title="{e(s.session_id)}" data-v="{e(s.session_id)}">'
            f"{e(s.session_id[:8])}</td>"
            f'<td title="{e(s.agent)}">{e(AGENT_SHORT.get(str(s.agent), s.agent))}</td>'
            f'<td class="clip" title="{e(s.project or "")}">{e(s.project or "-")}</td>'
            f'<td class="st-{e(s.status)}">{e(s.status)}</td>'
            f'<td data-v="{s.started_at or 0!r}">{e(local(s.started_at, doc.tz))}</td>'
            f'<td class="clip short">{e(", ".join(short_model(m) for m in s.models) or "-")}</td>'
            + _brief(s.total)
            + _num(int(sig.get("files_changed") or 0))
            + _num(added + removed, f"+{fmt_int(added)} / -{fmt_int(removed)}")
            + _num(
                sig.get("tokens_per_changed_line"), fmt_ratio(sig.get("tokens_per_changed_line"))
            )
            + _num(share, fmt_share(share))
            + _num(len(alerts_of(doc, s)))
            + "</tr>"
        )
    n = plural(len(doc.report.sessions), "session")
    rows.append(
        '<tr class="total"><td>Total</td><td></td><td>'
        f"{n}</td><td></td><td></td><td></td>"
        + _brief(doc.report.totals)
        + "<td></td>" * 5
        + "</tr>"
    )
    cols = [
        ("Session", "session"),
        ("Agent", "agent"),
        ("Project", "project"),
        ("Status", "status"),
        ("Started", "started_at"),
        ("Models", "models"),
        ("Output", "#output"),
        ("Cache read", "#cache_read"),
        ("Total", "#total"),
        ("Cost", "#cost_usd"),
        ("Files", "#files_changed"),
        ("Lines", "#lines"),
        ("Tok/line", "#tokens_per_changed_line"),
        ("Idle burn", "#idle_burn_share"),
        ("Alerts", "#alerts"),
    ]
    return (
        '<h2>Sessions</h2><p class="hint">Click a column title to sort; hover a total for '
        "all token kinds.</p>" + _table("sessions", cols, rows, sortable=True)
    )


def _subagents(doc: Export) -> str:
    rows = []
    for s in doc.report.sessions:
        whole = s.total.tokens.total or 1
        for sub in s.subagents:
            share = sub.account.tokens.total / whole
            rows.append(
                "<tr>"
                f'<td class="mono" title="{e(s.session_id)}">{e(s.session_id[:8])}</td>'
                f'<td class="mono">{e(sub.agent_id)}</td>'
                f'<td class="wrapok">{e(what(sub.agent_type, sub.description))}</td>'
                f"<td>{e(', '.join(short_model(m) for m in sub.account.models) or '-')}</td>"
                + _num(sub.account.tokens.total)
                + f'<td data-v="{share!r}"><span class="share"><span style="width:'
                f'{min(100.0, share * 100):.1f}%"></span></span>{e(fmt_share(share))}</td>'
                + _cost(sub.account)
                + "</tr>"
            )
    if not rows:
        return ""
    cols = [
        ("Session", "session"),
        ("Sub-agent", "agent_id"),
        ("What", "what"),
        ("Models", "models"),
        ("Total", "#total"),
        ("Share of session", "#share"),
        ("Cost", "#cost_usd"),
    ]
    return "<h2>Sub-agents</h2>" + _table("subagents", cols, rows, sortable=True)


def _groups(doc: Export) -> str:
    if doc.groups is None:
        return ""
    by = str(doc.groups[0].by) if doc.groups else "group"
    rows = [
        f'<tr><td class="{"mono" if by == "session" else ""}">{e(g.key)}</td>'
        + _num(g.sessions)
        + _tokens(g.account)
        + "</tr>"
        for g in doc.groups
    ]
    title = f"By day ({zone_name(doc.tz, doc.now)})" if by == "day" else f"By {by}"
    cols = [(by.capitalize(), "key"), ("Sessions", "#sessions"), *TOKEN_COLS]
    return f"<h2>{e(title)}</h2>" + _table("groups", cols, rows, sortable=True)


def _alerts(doc: Export) -> str:
    found = top_alerts(doc)
    if not found:
        return ""
    rows = [
        "<tr>"
        f'<td class="mono">{e(s.session_id[:8])}'
        + (f" / {e(a['agent_id'])}" if a.get("agent_id") else "")
        + "</td>"
        f'<td class="sev-{e(a["severity"])}">{e(a["severity"])}</td>'
        f"<td>{e(a['kind'])}</td>"
        f"<td>{e(str(a['started_at'])[:16].replace('T', ' '))}</td>"
        + _num(int(a["tokens"]))
        + f'<td class="wrapok">{e(a["reason"])}</td></tr>'
        for a, s in found
    ]
    cols = [
        ("Session", "session"),
        ("Severity", "severity"),
        ("Kind", "kind"),
        ("Started (UTC)", "started_at"),
        ("Tokens", "#tokens"),
        ("Reason", "reason"),
    ]
    return "<h2>Top alerts</h2>" + _table("alerts", cols, rows, sortable=True)


def _texts(doc: Export) -> str:
    if doc.texts is None:
        return ""
    note = (
        '<p class="muted">Secrets (API keys, tokens, private keys, passwords) were redacted.</p>'
        if doc.redacted
        else '<p class="warn">Not redacted (--no-redact): this text may hold secrets.</p>'
    )
    out = ["<h2>Transcripts</h2>", note]
    for s in doc.report.sessions:
        text = doc.texts.get(key_of(s))
        if text is None or not text.entries:
            continue
        more = f", {text.omitted} more left out" if text.omitted else ""
        out.append(
            f"<details><summary>{e(s.session_id[:8])} {e(s.project or '-')}: "
            f"{len(text.entries)} entries{e(more)}</summary>"
        )
        for t in text.entries:
            cls = f"entry {e(t.kind)}" + (" error" if t.error else "")
            who = " ".join(
                x
                for x in (
                    local(t.ts, doc.tz, seconds=True),
                    t.kind.replace("_", " "),
                    t.tool or "",
                    f"({t.agent_id})" if t.agent_id else "",
                    "error" if t.error else "",
                )
                if x
            )
            out.append(
                f'<div class="{cls}"><div class="who">{e(who)}</div><pre>{e(t.text)}</pre></div>'
            )
        out.append("</details>")
    return "".join(out)


def render(doc: Export, palette: Palette | None = None) -> str:
    """The whole page."""
    pal = palette or Palette()
    body = [_header(doc)]
    if doc.report.sessions:
        body += [
            _cards(doc),
            _chart(doc),
            _sessions(doc),
            _subagents(doc),
            _groups(doc),
            _alerts(doc),
            _texts(doc),
        ]
    else:
        body.append("<p>No sessions matched.</p>")
    notes = [COST_NOTE]
    if doc.report.totals.unpriced_models:
        notes.append("Unpriced models: " + ", ".join(doc.report.totals.unpriced_models) + ".")
    notes.append(f"Times in {zone_name(doc.tz, doc.now)}. Made with agentwatch {__version__}.")
    body.append(f"<footer>{e(' '.join(notes))}</footer>")
    scheme = "dark" if pal.dark else "light"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="agentwatch {e(__version__)}">'
        f'<meta name="color-scheme" content="{scheme}">'
        f"<title>{e(doc.title)}</title>"
        f"<style>:root {{ {pal.css_variables()} }}{CSS}</style></head>\n"
        f"<body>{''.join(body)}<script>{SCRIPT}</script></body></html>\n"
    )
