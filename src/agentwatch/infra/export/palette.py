"""The user's theme colours for the HTML export, read from the theme TOML files (no Textual).

Only plain CSS colours (`#rgb`, `#rrggbb`, `#rrggbbaa`) are taken, so nothing from a theme file
can break out of the style sheet; anything else keeps the default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours an HTML export uses (agentwatch-dark's by default)."""

    name: str = "agentwatch-dark"
    dark: bool = True
    primary: str = "#5EA1FF"
    secondary: str = "#A48CF2"
    accent: str = "#F0A35E"
    warning: str = "#E5C07B"
    error: str = "#F26D6D"
    success: str = "#7EC87E"
    foreground: str = "#D8DEE9"
    background: str = "#0F1419"
    surface: str = "#161B22"
    panel: str = "#1F2630"
    aw_active: str = "#7EC87E"
    aw_idle: str = "#A7B0BF"
    aw_looping: str = "#F5A524"
    aw_suspended: str = "#A48CF2"
    aw_ended: str = "#5C6370"
    aw_estimate: str = "#56B6C2"

    def css_variables(self) -> str:
        """`--primary: #5EA1FF; ...` for a `:root` rule."""
        return " ".join(
            f"--{f.name.replace('_', '-')}: {getattr(self, f.name)};"
            for f in fields(self)
            if f.name not in ("name", "dark")
        )


LIGHT = Palette(
    name="agentwatch-light",
    dark=False,
    primary="#0969DA",
    secondary="#6F42C1",
    accent="#BC4C00",
    warning="#9A6700",
    error="#CF222E",
    success="#1A7F37",
    foreground="#24292F",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E6EAEF",
)
"""Defaults for a light theme that leaves colours out."""


def bundled_themes_dir() -> Path:
    """The themes shipped with agentwatch (`agentwatch/_themes` in a wheel, `themes/` in a
    source checkout)."""
    package = Path(str(resources.files("agentwatch")))
    installed = package / "_themes"
    return installed if installed.is_dir() else package.parents[1] / "themes"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return raw if isinstance(raw.get("name"), str) else None


def _from(raw: dict[str, Any]) -> Palette:
    dark = raw.get("dark", True) is not False
    base = Palette() if dark else LIGHT
    names = {f.name for f in fields(Palette)}
    changes: dict[str, Any] = {"name": raw["name"], "dark": dark}
    for table in ("colors", "variables"):
        values = raw.get(table)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            attr = key.replace("-", "_")
            ok = attr in names and attr not in ("name", "dark") and isinstance(value, str)
            if ok and _HEX.match(value.strip()):
                changes[attr] = value.strip()
    return replace(base, **changes)


def load_palette(name: str, user_dir: Path | None) -> Palette:
    """The colours of theme `name`: the user's file wins over a bundled one of that name.

    An unknown name or a broken file gives the default palette (an export never fails on a
    theme).
    """
    found: Palette | None = None
    for folder in (bundled_themes_dir(), user_dir):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            raw = _read(path)
            if raw is not None and raw["name"] == name:
                found = _from(raw)
                break
    return found or Palette()
