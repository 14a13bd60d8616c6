"""`agentwatch leaderboard`: the plain-text board and its `--json` document (schema_version 1)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from agentwatch.core.activity import DEFAULT_WINDOW_S
from agentwatch.core.leaderboard import MIN_LINES, MIN_TOKENS, Board, By, Row, Title
from agentwatch.core.leaderboard_input import LOOP_KINDS
from agentwatch.infra.export.json_report import iso
from agentwatch.infra.export.table import AGENT_SHORT, short_model, short_project

SCHEMA_VERSION = 1
DEFAULT_LIMIT = 20
"""Rows the table shows unless `--limit` says otherwise (titles always look at every row)."""


# ---- cell text ---------------------------------------------------------------------------
def compact(n: float) -> str:
    """`4,585`, `45.9k`, `4.81M`: exact below ten thousand."""
    a = abs(n)
    if a < 10_000:
        return f"{n:,.0f}"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= div:
            return f"{n / div:.3g}{unit}" if a / div < 100 else f"{n / div:.0f}{unit}"
    return str(n)


def span(seconds: float | None) -> str:
    """`45s`, `12m`, `2h10m`, `3d4h`."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def pct(x: float | None) -> str:
    """`13%`; `n/a` when unknown."""
    return "n/a" if x is None else f"{x * 100:.0f}%"


def lines(r: Row) -> str:
    """`+835/-215`; `~` when split between models by token share."""
    text = f"+{_short(r.lines_added)}/-{_short(r.lines_removed)}"
    return ("~" if r.produced_estimated else "") + text


def _short(n: int) -> str:
    return str(n) if n < 10_000 else compact(n)


def per_line(r: Row) -> str:
    """Tokens per changed line, `-` when no line changed."""
    v = r.tokens_per_changed_line
    if v is None:
        return "-"
    return ("~" if r.produced_estimated else "") + compact(v)


def alerts(r: Row) -> str:
    """The count, and `loop` when an open or critical loop keeps the row from honest titles."""
    return f"{r.alerts} loop" if r.disqualified else str(r.alerts)


def label(r: Row, width: int = 24) -> str:
    """Who a row is, in about `width` characters."""
    if r.by is By.SESSION:
        return f"{r.key[:8]} {short_project(r.project, max(4, width - 9))}"
    if r.by is By.MODEL:
        return short_model(r.key)[:width]
    return short_project(r.key, width)


# ---- the table ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Col:
    """A column: its title, how to write a row's cell in a width, and how it fits."""

    title: str
    cell: Callable[[Row, int], str]
    right: bool
    priority: int  # lower survives longer on narrow terminals
    flex: bool = False


def columns(by: By) -> list[Col]:
    """The board's columns for a view, the row's key first."""
    key_title = {By.SESSION: "Session", By.PROJECT: "Project", By.MODEL: "Model"}[by]
    cols = [Col("#", lambda r, _w: str(r.rank), True, 0)]
    if by is By.SESSION:
        cols += [
            Col(key_title, lambda r, _w: r.key[:8], False, 0),
            Col("Agent", lambda r, _w: AGENT_SHORT.get(str(r.agent), str(r.agent)), False, 8),
            Col("Project", lambda r, w: short_project(r.project, w), False, 0, flex=True),
        ]
    elif by is By.PROJECT:
        cols.append(Col(key_title, lambda r, w: short_project(r.key, w), False, 0, flex=True))
    else:
        cols.append(Col(key_title, lambda r, w: short_model(r.key)[:w], False, 0, flex=True))
    cols.append(Col("Tokens", lambda r, _w: compact(r.tokens.total), True, 0))
    if by is not By.SESSION:
        cols.append(Col("Sess", lambda r, _w: str(r.sessions), True, 6))
    cols.append(
        Col(
            "Span" if by is By.SESSION else "Longest",
            lambda r, _w: span(r.longest_session_s),
            True,
            5,
        )
    )
    if by is not By.MODEL:
        cols.append(Col("Models", lambda r, _w: str(len(r.models)), True, 7))
    cols += [
        Col("Files", lambda r, _w: str(r.files_changed), True, 4),
        Col("Lines +/-", lambda r, _w: lines(r), True, 1),
        Col("Tok/line", lambda r, _w: per_line(r), True, 1),
        Col("Idle", lambda r, _w: pct(r.idle_burn_share), True, 2),
        Col("Cache", lambda r, _w: pct(r.cache_hit_ratio), True, 3),
        Col("Alerts", lambda r, _w: alerts(r), False, 1),
    ]
    return cols


def fit(
    cols: list[Col], rows: list[Row], width: int, flex_max: int
) -> tuple[list[Col], list[int], int]:
    """Columns that fit, their widths (fixed ones sized to their widest cell) and the flex width."""
    widths = [max([len(c.title)] + [len(c.cell(r, 40)) for r in rows]) for c in cols]
    flex_min = 10
    keep = list(range(len(cols)))

    def need() -> int:
        return sum(widths[i] + 2 for i in keep if not cols[i].flex) + flex_min

    while need() > width and len(keep) > 4:
        drop = max(keep, key=lambda i: (cols[i].priority, i))
        if cols[drop].priority == 0:
            break
        keep.remove(drop)
    flex = max(flex_min, min(flex_max, width - need() + flex_min))
    return [cols[i] for i in keep], [widths[i] for i in keep], flex


def render(
    b: Board,
    width: int,
    write: Callable[[str], object],
    limit: int | None = DEFAULT_LIMIT,
    tz: tzinfo | None = None,
    window_s: float = DEFAULT_WINDOW_S,
) -> None:
    """Write the board, its titles and a legend, fitted to `width` columns.

    `window_s` is the detectors' W (idle burn is counted in W-wide windows).
    """
    shown = list(b.rows[:limit] if limit is not None else b.rows)
    write(_heading(b, len(shown), tz) + "\n")
    if not b.rows:
        write("No sessions with API calls in this period.\n")
        return
    cols, widths, flex = fit(columns(b.by), shown, width, 28 if b.by is By.MODEL else 40)

    def line(cells: list[str]) -> str:
        out = []
        for c, fixed, text in zip(cols, widths, cells, strict=True):
            w = flex if c.flex else fixed
            out.append(text[:w].rjust(w) if c.right else text[:w].ljust(w))
        return "  ".join(out).rstrip()

    write(line([c.title for c in cols]) + "\n")
    for r in shown:
        write(line([c.cell(r, flex) for c in cols]) + "\n")
    write("\n")
    _titles(b.titles, width, write)
    write("\n")
    for para in _legend(b, window_s):
        write(textwrap.fill(para, width=max(40, width - 1), subsequent_indent="  ") + "\n")


def _when(ts: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def _heading(b: Board, shown: int, tz: tzinfo | None) -> str:
    since = _when(b.since, tz) if b.since is not None else "the beginning"
    until = _when(b.until, tz) if b.until is not None else "now"
    n = len(b.rows)
    what = {By.SESSION: "session", By.PROJECT: "project", By.MODEL: "model"}[b.by]
    count = f"{n} {what}{'s' if n != 1 else ''}" + (f", top {shown} shown" if shown < n else "")
    return f"Leaderboard by {what}, ranked by tokens: {since} to {until} · {count}"


def figure(t: Title) -> str:
    """A title's figure for people: `10.2M tokens`, `97.3% cache hits (2 tied)`."""
    v = t.value
    if v is None:
        return ""
    name = t.rule.name
    text = {
        "Token Legend": lambda: f"{compact(v)} tokens",
        "Session Immortal": lambda: span(v),
        "Model Connoisseur": lambda: f"{v:.0f} model{'' if v == 1 else 's'}",
        "Cache Wizard": lambda: f"{v * 100:.1f}% cache hits",
        "Most lines per token": lambda: f"{compact(v)} tokens/line",
        "Least idle burn": lambda: f"{v * 100:.0f}% idle burn",
        "Most lines changed": lambda: f"{v:,.0f} lines",
    }.get(name, lambda: f"{v:g}")()
    return text + (f" ({t.ties} tied)" if t.ties else "")


def _titles(titles: tuple[Title, ...], width: int, write: Callable[[str], object]) -> None:
    name_w = max(len(t.rule.name) for t in titles)
    who_w = max(16, min(34, width - name_w - 36))
    for honest, head in (
        (False, "Familiar titles (what token boards reward):"),
        (True, "Honest titles (what the tokens produced):"),
    ):
        write(head + "\n")
        for t in (t for t in titles if t.rule.honest is honest):
            if t.winner is None:
                who = f"nobody: {t.note}"
                write(f"  {t.rule.name:<{name_w}}  {who}"[: width - 1].rstrip() + "\n")
                continue
            who = label(t.winner, who_w)
            write(f"  {t.rule.name:<{name_w}}  {who:<{who_w}}  {figure(t)}"[: width - 1] + "\n")


def _legend(b: Board, window_s: float) -> list[str]:
    out = [
        (
            "Tok/line: tokens per changed line. Idle: share of tokens burned in "
            f"{window_s / 60:g}-minute windows with no file change. "
            "Cache: cache_read / (input + cache_read + cache_write)."
        ),
        (
            f"Honest titles need {MIN_LINES}+ changed lines and no open or critical loop "
            f"alert ('loop' in Alerts); ratio titles need {MIN_TOKENS:,}+ tokens."
        ),
    ]
    if any(r.produced_estimated for r in b.rows):
        out.append("~: lines split between models by each thread's token share (est.).")
    if any(r.idle_tokens is None for r in b.rows):
        out.append("Idle n/a: not known for this view.")
    return out


# ---- --json ------------------------------------------------------------------------------
def row_doc(r: Row) -> dict[str, Any]:
    """One ROW of the document."""
    return {
        "rank": r.rank,
        "key": r.key,
        "by": str(r.by),
        "agent": None if r.agent is None else str(r.agent),
        "session_id": r.key if r.by is By.SESSION else None,
        "project": r.project if r.by is not By.MODEL else None,
        "model": r.key if r.by is By.MODEL else None,
        "sessions": r.sessions,
        "models": list(r.models),
        "tokens": r.tokens.as_dict(),
        "longest_session_s": r.longest_session_s,
        "files_changed": r.files_changed,
        "lines_added": r.lines_added,
        "lines_removed": r.lines_removed,
        "lines_changed": r.lines_changed,
        "tokens_per_changed_line": r.tokens_per_changed_line,
        "idle_burn_share": r.idle_burn_share,
        "cache_hit_ratio": r.cache_hit_ratio,
        "alerts": r.alerts,
        "open_alerts": r.open_alerts,
        "critical_alerts": r.critical_alerts,
        "loop_disqualified": r.disqualified,
        "produced_estimated": r.produced_estimated,
    }


def title_doc(t: Title) -> dict[str, Any]:
    """One TITLE of the document."""
    return {
        "title": t.rule.name,
        "kind": "honest" if t.rule.honest else "familiar",
        "rule": t.rule.rule,
        "key": None if t.winner is None else t.winner.key,
        "value": t.value,
        "unit": t.rule.unit,
        "ties": t.ties,
        "note": t.note,
    }


def document(b: Board, now: float, limit: int | None = None) -> dict[str, Any]:
    """The whole `leaderboard --json` document."""
    rows = b.rows[:limit] if limit is not None else b.rows
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(now),
        "by": str(b.by),
        "period": {"since": iso(b.since), "until": iso(b.until)},
        "floors": {
            "min_tokens": MIN_TOKENS,
            "min_lines_changed": MIN_LINES,
            "disqualifying_alert_kinds": sorted(LOOP_KINDS),
        },
        "total_rows": len(b.rows),
        "rows": [row_doc(r) for r in rows],
        "titles": [title_doc(t) for t in b.titles],
    }
