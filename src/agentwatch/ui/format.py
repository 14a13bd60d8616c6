"""Cell text for the UI: compact numbers, costs with their honesty labels, times, glyphs."""

from __future__ import annotations

import time

from rich.text import Text

from agentwatch.core.accounts import Account
from agentwatch.core.status import SessionStatus

MARKERS = {
    SessionStatus.ACTIVE: ("●", "active"),
    SessionStatus.IDLE: ("○", "idle"),
    SessionStatus.LOOPING: ("◆", "looping"),
    SessionStatus.SUSPENDED: ("‖", "suspended"),
    SessionStatus.ENDED: ("■", "ended"),
}
BARS = " ▁▂▃▄▅▆▇█"


def compact(n: float) -> str:
    """`1234567` -> `1.23M`; exact below ten thousand."""
    a = abs(n)
    if a < 10_000:
        return f"{n:,.0f}"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= div:
            return f"{n / div:.3g}{unit}" if a / div < 100 else f"{n / div:.0f}{unit}"
    return str(n)


def cost(acc: Account) -> str:
    """`$1.23`; `~$1.23` when estimated; `unpriced` when nothing could be priced."""
    if acc.cost_usd is None:
        return "unpriced" if acc.calls else "-"
    return ("~" if acc.cost_is_estimate else "") + f"${acc.cost_usd:,.2f}"


def status(s: SessionStatus, styles: dict[SessionStatus, str]) -> Text:
    """A coloured marker plus the word: never colour alone."""
    marker, word = MARKERS[s]
    return Text.assemble((marker, styles.get(s, "")), " ", word)


def clock_time(ts: float | None, now: float) -> str:
    """`14:05` today, `Mon 14:05` this week, `Jan 05` this year, else `2025-11` (fits 9)."""
    if ts is None:
        return "-"
    lt = time.localtime(ts)
    if now - ts < 86400 and time.localtime(now).tm_yday == lt.tm_yday:
        return time.strftime("%H:%M", lt)
    if now - ts < 6 * 86400:
        return time.strftime("%a %H:%M", lt)
    if lt.tm_year == time.localtime(now).tm_year:
        return time.strftime("%b %d", lt)
    return time.strftime("%Y-%m", lt)


def sparkline(per_minute: dict[int, int], now: float, width: int = 8) -> str:
    """Tokens per minute over the last `width` minutes as bar glyphs."""
    last = int(now // 60)
    values = [per_minute.get(m, 0) for m in range(last - width + 1, last + 1)]
    top = max(values)
    if top <= 0:
        return "·" * width
    return "".join(BARS[min(8, round(v / top * 8))] if v else "·" for v in values)


def burn(per_minute: dict[int, int], now: float, window_minutes: int = 5) -> float:
    """Tokens per minute over the last few minutes."""
    last = int(now // 60)
    return sum(per_minute.get(m, 0) for m in range(last - window_minutes + 1, last + 1)) / max(
        1, window_minutes
    )
