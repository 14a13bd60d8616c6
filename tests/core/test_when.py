"""parse_when: dates in a time zone, ISO datetimes, relative spans, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentwatch.core.when import day_of, parse_when

NOW = datetime(2026, 2, 3, 10, 14, 9, tzinfo=UTC).timestamp()
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-02-03", UTC, utc(2026, 2, 3)),
        ("2026-02-03", NEW_YORK, utc(2026, 2, 3, 5)),  # EST is UTC-5 in February
        ("2026-02-03", TOKYO, utc(2026, 2, 2, 15)),  # JST is UTC+9
        ("2026-07-06", ZoneInfo("Europe/Paris"), utc(2026, 7, 5, 22)),  # CEST is UTC+2
    ],
)
def test_date_is_midnight_in_the_zone(text: str, tz: ZoneInfo, expected: float) -> None:
    assert parse_when(text, NOW, tz) == expected


def test_date_midnight_follows_daylight_saving() -> None:
    # New York: EST (UTC-5) before 2026-03-08, EDT (UTC-4) after.
    assert parse_when("2026-03-07", NOW, NEW_YORK) == utc(2026, 3, 7, 5)
    assert parse_when("2026-03-09", NOW, NEW_YORK) == utc(2026, 3, 9, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-03T10:00:00+02:00", utc(2026, 2, 3, 8)),
        ("2026-02-03T10:00:00-05:30", utc(2026, 2, 3, 15, 30)),
        ("2026-02-03T10:14:09Z", utc(2026, 2, 3, 10, 14, 9)),
        ("2026-02-03T10:14:09.500+00:00", utc(2026, 2, 3, 10, 14, 9) + 0.5),
    ],
)
def test_iso_datetime_with_offset_ignores_the_zone(text: str, expected: float) -> None:
    assert parse_when(text, NOW, TOKYO) == expected
    assert parse_when(text, NOW, NEW_YORK) == expected


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-02-03T10:00:00", UTC, utc(2026, 2, 3, 10)),
        ("2026-02-03T10:00:00", NEW_YORK, utc(2026, 2, 3, 15)),
        ("2026-02-03T10:00", TOKYO, utc(2026, 2, 3, 1)),
        ("2026-02-03 23:30:00", TOKYO, utc(2026, 2, 3, 14, 30)),
    ],
)
def test_naive_iso_datetime_is_read_in_the_zone(text: str, tz: ZoneInfo, expected: float) -> None:
    assert parse_when(text, NOW, tz) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("90s", 90),
        ("2w", 1209600),
        (" 12h ", 43200),
        ("0m", 0),
    ],
)
def test_relative_spans_count_back_from_now(text: str, seconds: int) -> None:
    assert parse_when(text, NOW, UTC) == NOW - seconds
    assert parse_when(text, 1000.0, TOKYO) == 1000.0 - seconds


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "7x", "-5m", "12 hours", "2026-13-01", "2026-02-30", "03/02/2026", "m30"],
)
def test_junk_raises_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read time .*YYYY-MM-DD.*30m") as info:
        parse_when(text, NOW, UTC)
    assert repr(text) in str(info.value)


def test_huge_relative_span_raises_value_error() -> None:
    with pytest.raises(ValueError, match="cannot read time"):
        parse_when("9" * 400 + "d", NOW, UTC)


def test_day_of_uses_the_zone() -> None:
    ts = utc(2026, 2, 3, 20)
    assert day_of(ts, UTC) == "2026-02-03"
    assert day_of(ts, TOKYO) == "2026-02-04"
    assert day_of(utc(2026, 2, 3, 3), NEW_YORK) == "2026-02-02"
