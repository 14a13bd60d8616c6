"""The human `report`: a plain-text table, sub-agents indented under their session."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentwatch.core.accounts import Account
from agentwatch.core.groups import Group
from agentwatch.core.records import ThreadKey
from agentwatch.core.summary import Report, SessionSummary


def fmt_int(n: int) -> str:
    """Exact count with thousands separators."""
    return f"{n:,}"


def fmt_cost(acc: Account) -> str:
    """`$1.23`, `~$1.23` when estimated, `unpriced` when nothing could be priced."""
    if acc.cost_usd is None:
        return "unpriced" if acc.calls else "-"
    return ("~" if acc.cost_is_estimate else "") + f"${acc.cost_usd:,.2f}"


def fmt_time(ts: float | None, tz_local: bool = True) -> str:
    """`2026-02-03 10:14` in local time."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts) if tz_local else time.gmtime(ts))


def short_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `sonnet-4-5`."""
    m = model.removeprefix("claude-")
    parts = m.split("-")
    if len(parts) > 1 and parts[-1].isdigit() and len(parts[-1]) == 8:
        parts = parts[:-1]
    return "-".join(parts)


def short_project(path: str | None, width: int) -> str:
    """The tail of a cwd that fits."""
    if not path:
        return "-"
    if len(path) <= width:
        return path
    return "…" + path[-(width - 1) :]


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    right: bool
    priority: int  # lower survives longer on narrow terminals


COLUMNS = (
    Column("Session", 14, False, 0),
    Column("Project", 18, False, 2),
    Column("Agent", 6, False, 8),
    Column("Models", 16, False, 4),
    Column("First", 16, False, 9),
    Column("Last", 16, False, 3),
    Column("Input", 9, True, 7),
    Column("Output", 10, True, 2),
    Column("Cache W", 11, True, 6),
    Column("Cache R", 13, True, 5),
    Column("Total", 13, True, 1),
    Column("Cost", 10, True, 0),
)
AGENT_SHORT = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}


def _cells(
    label: str, project: str, agent: str, acc: Account, first: float | None, last: float | None
) -> list[str]:
    t = acc.tokens
    return [
        label,
        project,
        AGENT_SHORT.get(agent, agent),
        ",".join(short_model(m) for m in acc.models) or "-",
        fmt_time(first),
        fmt_time(last),
        fmt_int(t.input),
        fmt_int(t.output),
        fmt_int(t.cache_write),
        fmt_int(t.cache_read),
        fmt_int(t.total),
        fmt_cost(acc),
    ]


def _rows(s: SessionSummary, proj_width: int) -> list[list[str]]:
    rows = [
        _cells(
            s.session_id[:8],
            short_project(s.project, proj_width),
            str(s.agent),
            s.total,
            s.started_at,
            s.last_activity_at,
        )
    ]
    if s.subagents:
        rows.append(_cells(" ├ main", "main thread", "", s.main, None, None))
    for i, sub in enumerate(s.subagents):
        branch = "└" if i == len(s.subagents) - 1 else "├"
        what = sub.agent_type or "sub-agent"
        if sub.description:
            what += f": {sub.description}"
        rows.append(
            _cells(f" {branch} {sub.agent_id}", what, "", sub.account, sub.first_ts, sub.last_ts)
        )
    return rows


def render(rep: Report, width: int, write: Callable[[str], object]) -> None:
    """Write the table, fitted to `width` columns by dropping low-priority columns."""
    cols = list(COLUMNS)
    while sum(c.width + 2 for c in cols) > width and len(cols) > 3:
        drop = max(cols, key=lambda c: (c.priority, COLUMNS.index(c)))
        cols.remove(drop)
    keep = [COLUMNS.index(c) for c in cols]
    proj_w = next((c.width for c in cols if c.title == "Project"), 28)
    rows: list[list[str]] = []
    for s in rep.sessions:
        rows.extend(_rows(s, proj_w))
    total_row = _cells("TOTAL", f"{len(rep.sessions)} sessions", "", rep.totals, None, None)

    def line(cells: Sequence[str]) -> str:
        out = []
        for i in keep:
            c = COLUMNS[i]
            text = cells[i][: c.width]
            out.append(text.rjust(c.width) if c.right else text.ljust(c.width))
        return "  ".join(out).rstrip()

    write(line([c.title for c in COLUMNS]) + "\n")
    write(line(["─" * c.width for c in COLUMNS]) + "\n")
    for r in rows:
        write(line(r) + "\n")
    write(line(["─" * c.width for c in COLUMNS]) + "\n")
    write(line(total_row) + "\n")
    if rep.totals.unpriced_models:
        write("unpriced: " + ", ".join(rep.totals.unpriced_models) + "\n")


def render_alerts(
    rep: Report,
    signals: Mapping[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]],
    write: Callable[[str], object],
    most: int = 10,
) -> None:
    """Loop alerts found in the sessions' history, newest first, after the table."""
    found: list[tuple[dict[str, Any], SessionSummary]] = []
    for s in rep.sessions:
        _, alerts = signals.get(ThreadKey(s.agent, s.session_id), ({}, []))
        found.extend((a, s) for a in alerts)
    if not found:
        return
    found.sort(key=lambda pair: str(pair[0]["started_at"]), reverse=True)
    write(f"\n{len(found)} loop alert(s) in this history:\n")
    for a, s in found[:most]:
        where = s.project or "-"
        when = str(a["started_at"])[:16].replace("T", " ")
        write(
            f"  {s.session_id[:8]}  {when}  {a['severity']:<8} {a['kind']:<12} {where}: "
            f"{a['reason']}\n"
        )
    if len(found) > most:
        write(f"  ... and {len(found) - most} more (see --json)\n")


def render_groups(groups: Sequence[Group], write: Callable[[str], object], title: str) -> None:
    """The `--by` table: one line per group, after the sessions."""
    if not groups:
        return
    by = str(groups[0].by)
    width = max(12, min(60, max(len(g.key) for g in groups)))
    write(f"\n{title}\n")
    head = ["Sessions", "Input", "Output", "Cache W", "Cache R", "Total", "Cost"]
    write(f"{by.capitalize():<{width}}  " + "  ".join(f"{h:>13}" for h in head) + "\n")
    for g in groups:
        t = g.tokens
        key = g.key if len(g.key) <= width else "…" + g.key[-(width - 1) :]
        cells = [
            fmt_int(g.sessions),
            fmt_int(t.input),
            fmt_int(t.output),
            fmt_int(t.cache_write),
            fmt_int(t.cache_read),
            fmt_int(t.total),
            fmt_cost(g.account),
        ]
        write(f"{key:<{width}}  " + "  ".join(f"{c:>13}" for c in cells) + "\n")
