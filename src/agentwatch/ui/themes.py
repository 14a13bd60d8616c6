"""Themes as TOML data files: bundled with the package, or the user's in `<config dir>/themes`."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from agentwatch.infra.config import DEFAULT_THEME
from agentwatch.infra.export.palette import bundled_themes_dir

__all__ = [
    "APP_VARIABLES",
    "COLOR_FIELDS",
    "DEFAULT_THEME",
    "ThemeError",
    "bundled_dir",
    "load_all",
    "load_theme",
]

APP_VARIABLES: dict[str, str] = {
    "aw-active": "#7EC87E",
    "aw-idle": "#A7B0BF",
    "aw-looping": "#F5A524",
    "aw-suspended": "#A48CF2",
    "aw-ended": "#5C6370",
    "aw-estimate": "#56B6C2",
}
"""Defaults for the app's own CSS variables (session statuses, estimate labels)."""

COLOR_FIELDS: tuple[str, ...] = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
"""Keys allowed in a theme's `[colors]` table; only `primary` is required."""

_TOP_LEVEL = ("name", "dark", "colors", "variables")


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file and the field."""


def bundled_dir() -> Path:
    """Return the folder holding the themes that ship with agentwatch.

    An installed wheel carries them as `agentwatch/_themes`; an editable install (a source
    checkout) has no such folder, so the repository's top-level `themes/` is used.

    Returns:
        The folder path; it may not exist if the installation is broken.
    """
    return bundled_themes_dir()  # one rule, in infra (the HTML export reads themes too)


def load_theme(path: Path) -> Theme:
    """Read and validate one theme file.

    Args:
        path: A TOML file with `name`, optional `dark`, a `[colors]` table and an optional
            `[variables]` table.

    Returns:
        The theme, ready for `App.register_theme`.

    Raises:
        ThemeError: If the file is unreadable, not TOML, or has a missing, unknown or bad field.
    """
    where = path.name
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ThemeError(f"{where}: cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ThemeError(f"{where}: not valid TOML: not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{where}: not valid TOML: {exc}") from exc

    for key in raw:
        if key not in _TOP_LEVEL:
            expected = ", ".join(_TOP_LEVEL)
            raise ThemeError(f"{where}: {key}: unknown key (expected one of {expected})")

    name = raw.get("name")
    if name is None:
        raise ThemeError(f"{where}: name: missing")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{where}: name: {_show(name)} is not a non-empty string")

    dark = raw.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{where}: dark: {_show(dark)} is not true or false")

    colors = _table(raw, "colors", where, required=True)
    for key, value in colors.items():
        if key not in COLOR_FIELDS:
            raise ThemeError(
                f"{where}: colors.{key}: unknown key (expected one of {', '.join(COLOR_FIELDS)})"
            )
        _check_colour(value, f"{where}: colors.{key}")
    if "primary" not in colors:
        raise ThemeError(f"{where}: colors.primary: missing")

    variables = _table(raw, "variables", where, required=False)
    known = _textual_variables()
    for key, value in variables.items():
        field = f"{where}: variables.{key}"
        if key in APP_VARIABLES:
            _check_colour(value, field)
        elif key in known:
            # Textual's own variables include text styles ("bold"), so only the type is checked.
            if not isinstance(value, str):
                raise ThemeError(f"{field}: {_show(value)} is not a string")
        else:
            expected = ", ".join(APP_VARIABLES)
            raise ThemeError(f"{field}: unknown variable (app variables: {expected})")

    return Theme(name=name, dark=dark, variables=dict(variables), **colors)


def load_all(user_dir: Path | None) -> tuple[list[Theme], list[str]]:
    """Load the bundled themes, then the user's; never raises for a broken file.

    A user theme with the same name as a bundled one replaces it. Within one folder, files are
    read in name order and a second file claiming a taken name is reported and skipped.

    Args:
        user_dir: The user's themes folder (`<config dir>/themes`), or None. A missing folder is
            not an error.

    Returns:
        The usable themes (bundled order first) and one message per file that could not be used.
    """
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    bundled = bundled_dir()
    if not bundled.is_dir():
        errors.append(f"bundled themes not found at {bundled}")
    for folder in (bundled, user_dir):
        if folder is None or not folder.is_dir():
            continue
        claimed: dict[str, str] = {}
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ThemeError as exc:
                errors.append(str(exc))
                continue
            if theme.name in claimed:
                errors.append(
                    f"{path.name}: name: {_show(theme.name)} is already used by "
                    f"{claimed[theme.name]}; file ignored"
                )
                continue
            claimed[theme.name] = path.name
            themes[theme.name] = theme
    return list(themes.values()), errors


def _table(raw: dict[str, Any], key: str, where: str, *, required: bool) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise ThemeError(f"{where}: {key}: missing table")
        return {}
    if not isinstance(value, dict):
        raise ThemeError(f"{where}: {key}: {_show(value)} is not a table")
    return value


def _check_colour(value: object, field: str) -> None:
    if not isinstance(value, str):
        raise ThemeError(f"{field}: {_show(value)} is not a colour string")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeError(f"{field}: {_show(value)} is not a colour") from exc


def _show(value: object) -> str:
    """A value as it would be written in TOML, for messages."""
    if isinstance(value, str | bool | int | float):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


@cache
def _textual_variables() -> frozenset[str]:
    """Names of the CSS variables Textual derives from a theme (which a theme may override)."""
    probe = Theme(name="probe", primary="#000000").to_color_system()
    return frozenset(probe.generate())
