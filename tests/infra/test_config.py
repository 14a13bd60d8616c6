"""config.load: defaults, valid settings, and bad input reported and ignored, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentwatch.core.tokens import Tokens
from agentwatch.infra.config import (
    DEFAULT_IDLE_AFTER,
    DEFAULT_THEME,
    Settings,
    load,
    save_theme,
)
from agentwatch.infra.prices import Override, PriceBook

VALID = """\
theme = "solarized-light"
export_dir = "/tmp/exports"

[thresholds]
idle_after_s = 120
repeat_calls = 4

[prices."claude-sonnet-4-5-20250929"]
input = 2.5
output = 12
cache_read = 0.25

[prices."local/llama-3.3-70b"]
input = 0
output = 0.5
cache_write_5m = 0.1
cache_write_1h = 0.2
cache_read = 0.01
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    s = load(tmp_path / "config.toml")
    assert s == Settings()
    assert s.theme == DEFAULT_THEME == "agentwatch-dark"
    assert s.idle_after == DEFAULT_IDLE_AFTER == 300.0
    assert s.prices == {}
    assert s.warnings == ()
    assert s.source is None


def test_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    s = load(path)
    assert s.warnings == ()
    assert s.source == str(path)
    assert s.theme == "solarized-light"
    assert s.idle_after == 120.0
    assert s.thresholds == {"idle_after_s": 120, "repeat_calls": 4}
    assert s.export_dir == "/tmp/exports"
    assert s.prices == {
        "claude-sonnet-4-5-20250929": Override(input=2.5, output=12.0, cache_read=0.25),
        "local/llama-3.3-70b": Override(0.0, 0.5, 0.1, 0.2, 0.01),
    }


def test_price_overrides_reach_the_price_book(tmp_path: Path) -> None:
    book = PriceBook(load(write(tmp_path, VALID)).prices)
    rates = book("claude-sonnet-4-5-20250929", 1_770_112_800.0)
    assert rates is not None
    assert rates.source == "config.toml"
    t = Tokens(input=1000, output=100, cache_write=100, cache_read=1000)
    assert rates.cost(t) == pytest.approx((2500 + 1200 + 100 * 2.5 * 1.25 + 250) / 1e6)


def test_empty_file_gives_defaults_without_warnings(tmp_path: Path) -> None:
    s = load(write(tmp_path, ""))
    assert (s.theme, s.idle_after, s.prices, s.warnings) == (DEFAULT_THEME, 300.0, {}, ())


@pytest.mark.parametrize(
    "text",
    [
        'theme = "unterminated\n',
        "[thresholds\nidle_after_s = 5\n",
        "theme = 'a'\ntheme = 'b'\n",
        "= 3\n",
    ],
)
def test_broken_toml_gives_defaults_and_a_warning_naming_the_file(
    tmp_path: Path, text: str
) -> None:
    path = write(tmp_path, text)
    s = load(path)
    assert (s.theme, s.idle_after, s.prices, s.thresholds) == (DEFAULT_THEME, 300.0, {}, {})
    assert len(s.warnings) == 1
    assert str(path) in s.warnings[0]
    assert "using defaults" in s.warnings[0]


def test_unreadable_path_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()
    s = load(path)
    assert s.theme == DEFAULT_THEME
    assert len(s.warnings) == 1
    assert str(path) in s.warnings[0]


def test_non_utf8_file_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, b'theme = "\xff\xfe"\n')
    s = load(path)
    assert s.theme == DEFAULT_THEME
    assert len(s.warnings) == 1
    assert str(path) in s.warnings[0]


def test_string_price_is_reported_and_the_model_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[prices."gpt-5"]\ninput = "1.25"\noutput = 10\n\n[prices."m2"]\ninput = 1\noutput = 2\n',
    )
    s = load(path)
    assert list(s.prices) == ["m2"]
    assert s.warnings == (f'{path}: [prices."gpt-5"] needs numbers for input and output',)


@pytest.mark.parametrize("value", ["-1", "-0.5", '"soon"', "true", "nan", "-inf"])
def test_bad_idle_time_is_reported_and_ignored(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f'theme = "x"\n[thresholds]\nidle_after_s = {value}\n')
    s = load(path)
    assert s.idle_after == DEFAULT_IDLE_AFTER
    assert s.theme == "x"
    assert len(s.warnings) == 1
    assert str(path) in s.warnings[0]
    assert "idle_after_s" in s.warnings[0]


def test_zero_idle_time_is_allowed(tmp_path: Path) -> None:
    s = load(write(tmp_path, "[thresholds]\nidle_after_s = 0\n"))
    assert s.idle_after == 0.0
    assert s.warnings == ()


def test_bad_optional_price_fields_are_dropped_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[prices."m"]\ninput = 2\noutput = 8\ncache_read = "cheap"\n'
        "cache_write_1h = -3\ncolour = 1\n",
    )
    s = load(path)
    assert s.prices == {"m": Override(input=2.0, output=8.0)}
    assert s.warnings == (f'{path}: [prices."m"]: ignored cache_read, cache_write_1h, colour',)
    rates = PriceBook(s.prices)("m", None)
    assert rates is not None
    assert (rates.cache_read.base, rates.cache_write_1h.base) == (0.2, 4.0)


def test_negative_and_boolean_prices_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[prices."neg"]\ninput = -1\noutput = 2\n[prices."b"]\ninput = true\noutput = 2\n'
    )
    s = load(path)
    assert s.prices == {}
    assert len(s.warnings) == 2
    assert all(str(path) in w for w in s.warnings)


def test_wrong_types_for_tables_and_theme(tmp_path: Path) -> None:
    path = write(tmp_path, 'theme = 7\nthresholds = 3\n[prices]\n"m" = 4\n')
    s = load(path)
    assert (s.theme, s.idle_after, s.thresholds, s.prices) == (DEFAULT_THEME, 300.0, {}, {})
    assert len(s.warnings) == 3
    assert all(w.startswith(f"{path}: ") for w in s.warnings)


def test_prices_not_a_table_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "prices = 4\n")
    s = load(path)
    assert s.prices == {}
    assert len(s.warnings) == 1
    assert "prices" in s.warnings[0]


def test_save_theme_keeps_the_rest_of_the_file(tmp_path):
    path = tmp_path / "config.toml"
    save_theme(path, "agentwatch-light")
    assert load(path).theme == "agentwatch-light"
    path.write_text(
        '# mine\ntheme = "x"\n[thresholds]\nidle_after_s = 60\n[prices."m"]\n'
        "input = 1\noutput = 2\n"
    )
    save_theme(path, "high-contrast")
    s = load(path)
    assert (s.theme, s.idle_after, s.warnings) == ("high-contrast", 60.0, ())
    assert "m" in s.prices
    assert path.read_text().startswith("# mine\n")


def test_guard_watch_and_bell_settings(tmp_path: Path) -> None:
    s = load(
        write(tmp_path, 'bell = true\nwatch_trees = 4\non_loop = "suspend"\non_loop_grace_s = 30\n')
    )
    assert s.warnings == ()
    assert (s.bell, s.watch_trees, s.on_loop, s.on_loop_grace_s) == (True, 4, "suspend", 30.0)
    d = Settings()
    assert (d.bell, d.watch_trees, d.on_loop, d.on_loop_grace_s) == (False, 32, "notify", 60.0)


def test_bad_guard_watch_and_bell_settings_are_reported_and_ignored(tmp_path: Path) -> None:
    s = load(
        write(tmp_path, 'bell = "yes"\nwatch_trees = -1\non_loop = "nuke"\non_loop_grace_s = "x"\n')
    )
    assert (s.bell, s.watch_trees, s.on_loop, s.on_loop_grace_s) == (False, 32, "notify", 60.0)
    text = "\n".join(s.warnings)
    for key in ("bell", "watch_trees", "on_loop must be one of notify, suspend, kill", "grace"):
        assert key in text
    assert len(s.warnings) == 4
