"""Settings from `<config dir>/config.toml`; a bad value is reported and ignored, never fatal."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentwatch.infra.prices import Override

DEFAULT_IDLE_AFTER = 300.0
DEFAULT_THEME = "agentwatch-dark"


ON_LOOP = ("notify", "suspend", "kill")
"""The `on_loop` guard's actions."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective settings."""

    theme: str = DEFAULT_THEME
    """TUI theme name."""
    idle_after: float = DEFAULT_IDLE_AFTER
    """Seconds without new lines after which a session is `idle`."""
    thresholds: dict[str, Any] = field(default_factory=dict)
    """Loop-detector thresholds, as written in `[thresholds]`."""
    prices: dict[str, Override] = field(default_factory=dict)
    """Price overrides by model id."""
    export_dir: str | None = None
    """Where the TUI writes exports."""
    bell: bool = False
    """Ring the terminal bell when a loop alert starts (TUI)."""
    watch_trees: int = 32
    """Live sessions' working trees watched for file changes at once (0: none)."""
    on_loop: str = "notify"
    """What the TUI and `watch` do when a session starts looping: notify, suspend or kill."""
    on_loop_grace_s: float = 60.0
    """How long a loop alert must stay open before `on_loop` suspends or kills."""
    source: str | None = None
    """The file the settings came from, if any."""
    warnings: tuple[str, ...] = ()
    """Problems found in the file (each ignored)."""


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 else None


def load(path: Path) -> Settings:
    """Read the config file; a missing file gives the defaults."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return Settings(warnings=(f"{path}: {exc}; using defaults",))
    warnings: list[str] = []
    theme = raw.get("theme", DEFAULT_THEME)
    if not isinstance(theme, str):
        warnings.append(f"{path}: theme must be a string")
        theme = DEFAULT_THEME
    thresholds = raw.get("thresholds", {})
    if not isinstance(thresholds, dict):
        warnings.append(f"{path}: [thresholds] must be a table")
        thresholds = {}
    idle = _num(thresholds.get("idle_after_s", DEFAULT_IDLE_AFTER))
    if idle is None:
        warnings.append(f"{path}: thresholds.idle_after_s must be a number >= 0")
        idle = DEFAULT_IDLE_AFTER
        thresholds = {k: v for k, v in thresholds.items() if k != "idle_after_s"}
    prices: dict[str, Override] = {}
    table = raw.get("prices", {})
    if not isinstance(table, dict):
        warnings.append(f"{path}: [prices] must be a table")
        table = {}
    for model, p in table.items():
        fields = {k: _num(p.get(k)) for k in Override.__slots__} if isinstance(p, dict) else {}
        if not fields or fields["input"] is None or fields["output"] is None:
            warnings.append(f'{path}: [prices."{model}"] needs numbers for input and output')
            continue
        bad = [k for k in p if k not in Override.__slots__ or fields.get(k) is None]
        if bad:
            warnings.append(f'{path}: [prices."{model}"]: ignored {", ".join(sorted(bad))}')
        prices[model] = Override(**{k: v for k, v in fields.items() if v is not None})
    export_dir = raw.get("export_dir")
    if export_dir is not None and not isinstance(export_dir, str):
        warnings.append(f"{path}: export_dir must be a string")
    bell = raw.get("bell", False)
    if not isinstance(bell, bool):
        warnings.append(f"{path}: bell must be true or false")
        bell = False
    trees = raw.get("watch_trees", 32)
    if type(trees) is not int or trees < 0:
        warnings.append(f"{path}: watch_trees must be an integer >= 0")
        trees = 32
    on_loop = raw.get("on_loop", "notify")
    if on_loop not in ON_LOOP:
        warnings.append(f"{path}: on_loop must be one of {', '.join(ON_LOOP)}")
        on_loop = "notify"
    grace = _num(raw.get("on_loop_grace_s", 60.0))
    if grace is None:
        warnings.append(f"{path}: on_loop_grace_s must be a number >= 0")
        grace = 60.0
    return Settings(
        theme=theme,
        bell=bell,
        watch_trees=trees,
        on_loop=on_loop,
        on_loop_grace_s=grace,
        idle_after=idle,
        thresholds=thresholds,
        prices=prices,
        export_dir=export_dir if isinstance(export_dir, str) else None,
        source=str(path),
        warnings=tuple(warnings),
    )


_THEME_LINE = re.compile(r"^theme\s*=.*$", re.MULTILINE)


def save_theme(path: Path, name: str) -> None:
    """Set `theme` in the config file, keeping everything else as the user wrote it."""
    line = f"theme = {json.dumps(name)}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    head, sep, rest = text.partition("\n[")  # top-level keys come before the first table
    if _THEME_LINE.search(head):
        text = _THEME_LINE.sub(line, head, count=1) + sep + rest
    else:
        text = line + "\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
