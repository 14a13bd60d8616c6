"""Parsing the time bounds users type: dates, ISO datetimes and relative spans."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo

_REL = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, now: float, tz: tzinfo | None) -> float:
    """`2026-02-03` (midnight in `tz`), an ISO datetime (naive means `tz`), or `30m`/`12h`/`7d` ago.

    `tz` None means the system's local time.

    Raises ValueError with a message fit for the user.
    """
    s = text.strip()
    m = _REL.match(s)
    if m:
        try:
            return now - float(int(m.group(1)) * _UNIT[m.group(2)])
        except OverflowError:
            raise ValueError(f"cannot read time {text!r}: the span is too large") from None
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return _aware(datetime(d.year, d.month, d.day), tz)
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: use YYYY-MM-DD, an ISO datetime, or 30m / 12h / 7d"
        ) from None
    return _aware(dt, tz)


def _aware(dt: datetime, tz: tzinfo | None) -> float:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz) if tz is not None else dt.astimezone()
    return dt.timestamp()


def day_of(ts: float, tz: tzinfo | None) -> str:
    """The calendar day (`YYYY-MM-DD`) holding `ts` in `tz` (None: local time)."""
    return datetime.fromtimestamp(ts, tz).date().isoformat()
