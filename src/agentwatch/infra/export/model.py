"""What every export renders: the report, its signals, groups and text, and shared wording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from agentwatch.core.accounts import Account
from agentwatch.core.groups import Group
from agentwatch.core.records import ThreadKey
from agentwatch.core.summary import Report, SessionSummary
from agentwatch.infra.scan import ScanStats

if TYPE_CHECKING:
    from agentwatch.infra.context import ContextReport
    from agentwatch.infra.export.text import SessionText

Signals = Mapping[ThreadKey, tuple[dict[str, Any], list[dict[str, Any]]]]
"""Each session's SIGNAL and alerts in contract form (as `Workspace.signals` returns them)."""

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Export:
    """Everything an exporter needs, gathered once by the command (or the TUI)."""

    report: Report
    """Sessions and totals under the filter."""
    now: float
    """When the export was made."""
    signals: Signals
    """Loop-detection signals and alerts by session."""
    stats: ScanStats | None = None
    """Lines and files skipped while reading."""
    groups: Sequence[Group] | None = None
    """With `--by`: the grouped figures."""
    texts: Mapping[ThreadKey, SessionText] | None = None
    """With `--include-text`: each session's text."""
    contexts: Mapping[ThreadKey, ContextReport] | None = None
    """With `--context`: each session's context estimates (all `est.`)."""
    redacted: bool = True
    """False when `--no-redact` was given."""
    tz: tzinfo | None = None
    """The zone for human times and day keys (None: local)."""
    scope: str = ""
    """The filters in words (`since 2026-02-01, project shop`), empty for everything."""
    title: str = "agentwatch report"
    """The document's title."""


@dataclass(frozen=True, slots=True)
class Produced:
    """What a set of sessions produced for its tokens (the honest signal, summed)."""

    files_changed: int
    lines_added: int
    lines_removed: int
    tokens_per_changed_line: float | None
    idle_burn_share: float | None
    alerts: int


def key_of(s: SessionSummary) -> ThreadKey:
    """A session's main-thread key."""
    return ThreadKey(s.agent, s.session_id)


def signal_of(doc: Export, s: SessionSummary) -> dict[str, Any]:
    """The session's SIGNAL; from its summary when loop detection did not run for it.

    `idle_burn_share` is None then (only the detectors measure it).
    """
    sig = doc.signals.get(key_of(s))
    if sig is not None and sig[0]:
        return sig[0]
    changed = s.lines_added + s.lines_removed
    return {
        "files_changed": s.files_changed,
        "lines_added": s.lines_added,
        "lines_removed": s.lines_removed,
        "tokens_per_changed_line": s.total.tokens.total / changed if changed else None,
        "idle_burn_share": None,
        "alerts": [],
    }


def alerts_of(doc: Export, s: SessionSummary) -> list[dict[str, Any]]:
    """The session's alerts (contract ALERT objects)."""
    sig = doc.signals.get(key_of(s))
    if sig is None:
        return []
    return sig[1] or list(sig[0].get("alerts", []))


def produced(doc: Export, sessions: Sequence[SessionSummary] | None = None) -> Produced:
    """The signal over several sessions; idle-burn share weighted by each session's tokens."""
    chosen = doc.report.sessions if sessions is None else sessions
    files = added = removed = alerts = 0
    weighted = weight = 0.0
    for s in chosen:
        sig = signal_of(doc, s)
        files += int(sig.get("files_changed") or 0)
        added += int(sig.get("lines_added") or 0)
        removed += int(sig.get("lines_removed") or 0)
        alerts += len(alerts_of(doc, s))
        share = sig.get("idle_burn_share")
        if isinstance(share, int | float):
            weighted += float(share) * s.total.tokens.total
            weight += s.total.tokens.total
    tokens = sum(s.total.tokens.total for s in chosen)
    return Produced(
        files,
        added,
        removed,
        tokens / (added + removed) if added + removed else None,
        weighted / weight if weight else None,
        alerts,
    )


def top_alerts(doc: Export, most: int = 10) -> list[tuple[dict[str, Any], SessionSummary]]:
    """The loudest alerts: critical first, then by tokens burned."""
    found = [(a, s) for s in doc.report.sessions for a in alerts_of(doc, s)]
    found.sort(
        key=lambda p: (SEVERITY_RANK.get(str(p[0].get("severity")), 3), -int(p[0]["tokens"]))
    )
    return found[:most]


# ---- wording shared by the human formats --------------------------------------------------
def fmt_int(n: int) -> str:
    """Exact count with thousands separators."""
    return f"{n:,}"


def fmt_cost(acc: Account) -> str:
    """`$1.23`; `~$1.23` when estimated; `unpriced` when no call had a price."""
    if acc.cost_usd is None:
        return "unpriced" if acc.calls else "-"
    return ("~" if acc.cost_is_estimate else "") + f"${acc.cost_usd:,.2f}"


def fmt_share(x: float | None) -> str:
    """`37%`, or `-`."""
    return "-" if x is None else f"{x:.0%}"


def fmt_ratio(x: float | None) -> str:
    """Tokens per changed line: `1,234`, or `-` with no changed line."""
    return "-" if x is None else f"{x:,.0f}"


def local(ts: float | None, tz: tzinfo | None, seconds: bool = False) -> str:
    """`2026-02-03 10:14` (or `10:14:07` with `seconds`) in the export's zone."""
    if ts is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ts, tz).astimezone(tz).strftime(fmt)


def zone_name(tz: tzinfo | None, now: float) -> str:
    """The zone's name for a note (`UTC`, `Europe/Paris`, or the local abbreviation)."""
    if tz is not None:
        return str(getattr(tz, "key", None) or datetime.fromtimestamp(now, tz).tzname() or tz)
    return datetime.fromtimestamp(now).astimezone().tzname() or "local time"


def short_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `sonnet-4-5`."""
    m = model.removeprefix("claude-")
    parts = m.split("-")
    if len(parts) > 1 and parts[-1].isdigit() and len(parts[-1]) == 8:
        parts = parts[:-1]
    return "-".join(parts)


def what(agent_type: str | None, description: str | None) -> str:
    """`Explore: find the refunds`."""
    out = agent_type or "sub-agent"
    return f"{out}: {description}" if description else out


COST_NOTE = (
    "Token counts are exact, read from the agents' logs. A cost starting with ~ is an "
    "estimate; unpriced is a model without a known price (never counted as $0)."
)


def plural(n: int, word: str) -> str:
    """`1 session`, `3 sessions`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
