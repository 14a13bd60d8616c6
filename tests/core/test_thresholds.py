"""`[thresholds]` from config.toml: values, warnings, never an exception."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from agentwatch.core.thresholds import Thresholds

DOC = Path(__file__).parents[2] / "docs" / "loop-detection.md"


def test_an_empty_table_gives_the_defaults_with_unattended_off() -> None:
    th, warnings = Thresholds.from_config({})
    assert (th, warnings) == (Thresholds(), [])
    assert th.unattended is False


def test_good_values_are_taken() -> None:
    th, warnings = Thresholds.from_config(
        {"repeat_count": 5, "window_s": 300, "quiet_s": 90.5, "unattended": True}
    )
    assert warnings == []
    assert (th.repeat_count, th.window_s, th.quiet_s, th.unattended) == (5, 300.0, 90.5, True)
    assert isinstance(th.window_s, float)


def test_keys_other_parts_of_agentwatch_read_are_not_unknown() -> None:
    assert Thresholds.from_config({"idle_after_s": 120}) == (Thresholds(), [])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("repeat_count", "3"),
        ("repeat_count", True),
        ("repeat_count", 0),
        ("repeat_count", 2.5),
        ("idle_tokens", -1),
        ("window_s", 0),
        ("window_s", float("nan")),
        ("window_s", float("inf")),
        ("quiet_s", "5m"),
        ("unattended", "yes"),
        ("unattended", 1),
        ("critical_after_s", [900]),
    ],
)
def test_a_mistyped_value_warns_and_keeps_the_default(key: str, value: Any) -> None:
    th, warnings = Thresholds.from_config({key: value, "error_count": 4})
    assert getattr(th, key) == getattr(Thresholds(), key)
    assert th.error_count == 4  # the good key next to it still counts
    (warning,) = warnings
    assert warning.startswith(f"thresholds.{key} must be ")
    assert repr(getattr(Thresholds(), key)) in warning


def test_unknown_keys_warn() -> None:
    th, warnings = Thresholds.from_config({"repeat_cnt": 2, "idle_burn": {"x": 1}})
    assert th == Thresholds()
    assert warnings == [
        "thresholds.repeat_cnt: unknown setting, ignored",
        "thresholds.idle_burn: unknown setting, ignored",
    ]


@pytest.mark.parametrize("table", [3, "x", None, [1, 2]])
def test_a_table_that_is_not_a_table_warns(table: Any) -> None:
    th, warnings = Thresholds.from_config(table)
    assert th == Thresholds()
    assert warnings == ["[thresholds] must be a table; using the defaults"]


def test_the_documented_config_is_the_defaults_and_names_every_setting() -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    table = tomllib.loads(block)["thresholds"]
    assert Thresholds.from_config(table) == (Thresholds(), [])
    assert set(table) - {"idle_after_s"} == {f.name for f in fields(Thresholds)}
