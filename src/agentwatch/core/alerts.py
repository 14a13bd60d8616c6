"""What the loop detectors report: alerts and a session's signal (CLI_CONTRACT section 3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentwatch.core.records import ThreadKey

Iso = Callable[[float], str]
"""Formats epoch seconds as the contract's ISO 8601 text (the caller owns time zones)."""


class AlertKind(StrEnum):
    """What went wrong."""

    IDLE_BURN = "idle_burn"
    REPETITION = "repetition"
    ERROR_LOOP = "error_loop"
    REREAD_LOOP = "reread_loop"
    UNATTENDED = "unattended"


class Severity(StrEnum):
    """How loud to be."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """One episode of looping or idle burning in one thread."""

    alert_id: str
    """Stable for the episode across evaluations (derived from thread, kind, what repeats and
    the onset)."""
    thread: ThreadKey
    """The thread (main or sub-agent) it happened in."""
    kind: AlertKind
    """Which detector."""
    severity: Severity
    """How bad it is now (can rise while the episode lasts)."""
    started_at: float
    """Onset: the first call of the repeated run, the first idle call, and so on."""
    detected_at: float
    """When the evidence first met the thresholds."""
    ended_at: float | None
    """When progress resumed or the repetition stopped; None while active."""
    reason: str
    """One line for people."""
    tokens: int
    """Tokens the thread burned from the onset to the end (or now)."""
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Counts, the repeated call, first and last times (epoch seconds in `*_at` keys)."""

    @property
    def agent_id(self) -> str | None:
        """The sub-agent id, None on a session's main thread."""
        return self.thread.agent_id

    @property
    def active(self) -> bool:
        """True until the episode ends."""
        return self.ended_at is None

    def to_contract(self, iso: Iso) -> dict[str, Any]:
        """The ALERT object of CLI_CONTRACT section 3 (plus `evidence`)."""
        evidence = {
            k: iso(v) if k.endswith("_at") and isinstance(v, float) else v
            for k, v in self.evidence.items()
        }
        return {
            "alert_id": self.alert_id,
            "agent_id": self.agent_id,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "started_at": iso(self.started_at),
            "ended_at": None if self.ended_at is None else iso(self.ended_at),
            "reason": self.reason,
            "tokens": self.tokens,
            "evidence": evidence,
        }


@dataclass(frozen=True, slots=True)
class Signal:
    """A session's productivity signal (CLI_CONTRACT section 3 SIGNAL)."""

    files_changed: int
    """Distinct files changed, from the log and a filesystem watch."""
    lines_added: int
    """Lines added by edits and writes."""
    lines_removed: int
    """Lines removed by edits and writes."""
    tokens_per_changed_line: float | None
    """All tokens over lines added plus removed; None while no line changed."""
    idle_burn_share: float
    """Share of tokens spent in W-windows in which no file changed (0 with no tokens)."""
    alerts: tuple[Alert, ...] = ()
    """The session's alerts, sub-agents' included."""

    def to_contract(self, iso: Iso) -> dict[str, Any]:
        """The SIGNAL object of CLI_CONTRACT section 3."""
        return {
            "files_changed": self.files_changed,
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "tokens_per_changed_line": self.tokens_per_changed_line,
            "idle_burn_share": self.idle_burn_share,
            "alerts": [a.to_contract(iso) for a in self.alerts],
        }


def diff_alerts(
    before: Mapping[str, Alert], after: Iterable[Alert]
) -> tuple[list[Alert], list[Alert]]:
    """What changed between two evaluations: (raised or updated, cleared).

    `raised` holds alerts not in `before` and active ones whose severity changed (`alert`
    events); `cleared` holds alerts that ended or vanished since `before` (`alert_cleared`). An
    episode that began and ended between the two evaluations is in both.
    """
    raised: list[Alert] = []
    cleared: list[Alert] = []
    seen: set[str] = set()
    for a in after:
        seen.add(a.alert_id)
        old = before.get(a.alert_id)
        if old is None or (a.active and old.severity != a.severity):
            raised.append(a)
        if not a.active and (old is None or old.active):
            cleared.append(a)
    cleared += [a for k, a in before.items() if k not in seen and a.active]
    return raised, cleared


def fmt_tokens(n: int) -> str:
    """312k, 4.1M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{round(n / 1000)}k"
    return str(n)


def fmt_duration(s: float) -> str:
    """45 s, 9 min, 2 h 10 min."""
    if s < 120:
        return f"{round(s)} s"
    m = round(s / 60)
    return f"{m} min" if m < 120 else f"{m // 60} h {m % 60} min"
