"""The main screen's alert panel: every open loop alert, worst and longest-running first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from agentwatch.core.alerts import Alert, Severity
from agentwatch.ui import format as fmt

MAX_ROWS = 5
_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
_MARK = {Severity.CRITICAL: "▲▲", Severity.WARNING: "▲ ", Severity.INFO: "· "}


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One open alert and where it belongs."""

    where: str
    """The session's project (or short id)."""
    alert: Alert


def _age(seconds: float) -> str:
    m = int(max(0.0, seconds) // 60)
    return f"{m}m" if m < 120 else f"{m // 60}h"


class AlertsPanel(Static):
    """Open alerts, one line each (severity word and marker, never colour alone); hidden when
    there are none or the user turned it off (`a`)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.enabled = True
        self._shown: tuple[tuple[str, str, str, int], ...] | None = None
        self.count = 0

    def show(self, rows: Iterable[AlertRow], now: float) -> None:
        """Render the open alerts in `rows` (repaints only when something visible changed)."""
        open_rows = sorted(
            (r for r in rows if r.alert.active),
            key=lambda r: (_ORDER[r.alert.severity], r.alert.started_at, r.alert.alert_id),
        )
        self.count = len(open_rows)
        key = tuple(
            (
                r.alert.alert_id,
                str(r.alert.severity),
                _age(now - r.alert.started_at),
                r.alert.tokens,
            )
            for r in open_rows
        )
        self.display = self.enabled and bool(open_rows)
        key = ((str(self.app.size.width), "", "", 0), *key)
        if key == self._shown:
            return
        self._shown = key
        text = Text(no_wrap=True, overflow="ellipsis")
        n = len(open_rows)
        text.append(f"Alerts ({n})", style="bold")
        text.append("  enter on a session shows the evidence · a hides this panel\n", style="dim")
        wide = self.app.size.width >= 120  # the panel spans the screen (it may not be laid out yet)
        for i, r in enumerate(open_rows[:MAX_ROWS]):
            a = r.alert
            sev = "bold" if a.severity is Severity.CRITICAL else ""
            sub = f" [{a.agent_id[:10]}]" if a.agent_id else ""
            age = _age(now - a.started_at)
            if wide:
                text.append(f"{_MARK[a.severity]} {a.severity.value:<8} ", style=sev)
                text.append(f"{r.where[:24]:<24} ", style="bold")
                text.append(f"{a.kind.value:<11} {age:>4} {fmt.compact(a.tokens):>6} tok{sub}  ")
            else:  # 80 columns: the reason matters most; it names the kind already
                text.append(f"{_MARK[a.severity]}{a.severity.value[:4]} ", style=sev)
                text.append(f"{r.where[:12]:<12} ", style="bold")
                text.append(f"{age:>3} {fmt.compact(a.tokens):>5}{sub} ")
            text.append(a.reason)
            if i < min(n, MAX_ROWS) - 1:
                text.append("\n")
        if n > MAX_ROWS:
            text.append(f"\n  … {n - MAX_ROWS} more (sort by status to see them)", style="dim")
        self.update(text)


__all__ = ["AlertRow", "AlertsPanel"]
