"""Tokens over time in calendar buckets (hours or days in a zone), gaps included, for charts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

HOURLY_UP_TO = 72 * 3600
"""Spans up to three days are drawn per hour; longer ones per day."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of a chart."""

    start: float
    """Epoch seconds of the first minute with data in the bucket, or of its first hour."""
    label: str
    """`2026-02-03 10:00` (hourly) or `2026-02-03` (daily), in the chosen zone."""
    tokens: int
    """Total tokens of the calls in the bucket."""


def _label(ts: float, tz: tzinfo | None, hourly: bool) -> str:
    dt = datetime.fromtimestamp(ts, tz)
    return dt.strftime("%Y-%m-%d %H:00") if hourly else dt.strftime("%Y-%m-%d")


def timeline(
    per_minute: Iterable[Mapping[int, int]], tz: tzinfo | None = None
) -> tuple[str, list[Bucket]]:
    """Sum per-minute token series into hours or days, with empty buckets for the gaps.

    Args:
        per_minute: Series of total tokens by epoch minute (an Account's `per_minute`).
        tz: The zone buckets follow (None: the system's local time).

    Returns:
        `("hour" | "day", buckets)` in time order; no buckets without data.
    """
    merged: dict[int, int] = {}
    for series in per_minute:
        for m, n in series.items():
            merged[m] = merged.get(m, 0) + n
    if not merged:
        return "hour", []
    first, last = min(merged) * 60, max(merged) * 60
    hourly = last - first <= HOURLY_UP_TO
    sums: dict[str, int] = {}
    for m, n in merged.items():
        label = _label(m * 60, tz, hourly)
        sums[label] = sums.get(label, 0) + n
    # Step an hour at a time (zones and DST shift days by hours, never by minutes); labels
    # sort as text, so the last one bounds the walk.
    starts: dict[str, float] = {}
    t = float(first)
    while t < last + 3600:
        starts.setdefault(_label(t, tz, hourly), t)
        t += 3600.0
    end = _label(last, tz, hourly)
    buckets = [Bucket(t0, lb, sums.get(lb, 0)) for lb, t0 in starts.items() if lb <= end]
    return ("hour" if hourly else "day"), buckets
