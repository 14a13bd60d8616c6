"""Theme files: the bundled four, user overrides, broken files, colour checks and the wheel."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from textual.app import App
from textual.color import Color
from textual.theme import Theme

from agentwatch.ui.themes import (
    APP_VARIABLES,
    DEFAULT_THEME,
    ThemeError,
    bundled_dir,
    load_all,
    load_theme,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLED = ("agentwatch-dark", "agentwatch-light", "high-contrast", "colorblind-safe")
STATUSES = ("aw-active", "aw-idle", "aw-looping", "aw-suspended", "aw-ended")
HEX = re.compile(r"#[0-9A-Fa-f]{6}")

GOOD = """\
name = "mine"
dark = true

[colors]
primary = "#112233"

[variables]
aw-active = "#00FF00"
"""


def bundled() -> dict[str, Theme]:
    themes, errors = load_all(None)
    assert errors == []
    return {t.name: t for t in themes}


# --- colour science for the checks below ---------------------------------------------------

# Machado, Oliveira & Fernandes (2009), full-severity dichromacy, applied in linear RGB.
CVD = {
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopia": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}


def linear(colour: str) -> tuple[float, float, float]:
    c = Color.parse(colour)

    def one(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return one(c.r), one(c.g), one(c.b)


def luminance(colour: str) -> float:
    r, g, b = linear(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIELAB (D65) from linear sRGB."""
    r, g, b = (min(1.0, max(0.0, v)) for v in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def seen_as(colour: str, vision: str) -> tuple[float, float, float]:
    rgb = linear(colour)
    if vision == "normal":
        return lab(rgb)
    r, g, b = (sum(k * v for k, v in zip(row, rgb, strict=True)) for row in CVD[vision])
    return lab((r, g, b))


def delta_e(a: str, b: str, vision: str) -> float:
    """CIE76 colour difference as a viewer with `vision` sees the two colours."""
    la, lb = seen_as(a, vision), seen_as(b, vision)
    return sum((p - q) ** 2 for p, q in zip(la, lb, strict=True)) ** 0.5


# CIE76 ~2.3 is a just-noticeable difference; 20 is "obviously a different colour" at a glance.
CVD_MIN_DELTA_E = 20.0


# --- bundled themes ------------------------------------------------------------------------


def test_bundled_themes_all_load_with_every_app_variable() -> None:
    themes = bundled()
    assert sorted(themes) == sorted(BUNDLED)
    app = App[None]()
    for theme in themes.values():
        assert set(theme.variables) == set(APP_VARIABLES), theme.name
        # Textual accepts it, and our variables reach the CSS as the theme says.
        app.register_theme(theme)
        app.theme = theme.name
        css = app.get_css_variables()
        assert {k: css[k] for k in APP_VARIABLES} == theme.variables


def test_bundled_files_use_hex_strings_only() -> None:
    for theme in bundled().values():
        colours = [
            getattr(theme, f)
            for f in ("primary", "secondary", "accent", "warning", "error", "success")
        ]
        colours += [theme.foreground, theme.background, theme.surface, theme.panel]
        colours += list(theme.variables.values())
        bad = [c for c in colours if not (isinstance(c, str) and HEX.fullmatch(c))]
        assert bad == [], theme.name


def test_default_theme_is_bundled_and_matches_the_app_defaults() -> None:
    themes = bundled()
    assert DEFAULT_THEME == "agentwatch-dark"
    assert themes[DEFAULT_THEME].dark
    assert not themes["agentwatch-light"].dark
    assert themes[DEFAULT_THEME].variables == APP_VARIABLES


@pytest.mark.parametrize("name", BUNDLED)
def test_status_colours_are_pairwise_distinct(name: str) -> None:
    variables = bundled()[name].variables
    normalised = [Color.parse(variables[s]).hex6 for s in STATUSES]
    assert len(set(normalised)) == len(STATUSES), dict(zip(STATUSES, normalised, strict=True))


@pytest.mark.parametrize("name", BUNDLED)
def test_status_colours_are_readable_on_the_background(name: str) -> None:
    theme = bundled()[name]
    assert theme.background is not None
    # WCAG AA for large text / UI components is 3:1; the high-contrast theme promises AAA (7:1).
    floor = 7.0 if name == "high-contrast" else 3.0
    ratios = {k: round(contrast(v, theme.background), 2) for k, v in theme.variables.items()}
    assert min(ratios.values()) >= floor, ratios
    assert theme.foreground is not None
    assert contrast(theme.foreground, theme.background) >= 7.0


@pytest.mark.parametrize("vision", ["normal", "protanopia", "deuteranopia", "tritanopia"])
def test_colorblind_safe_statuses_stay_apart_under_simulated_dichromacy(vision: str) -> None:
    theme = bundled()["colorblind-safe"]
    pairs = {
        (a, b): (theme.variables[a], theme.variables[b])
        for a, b in itertools.combinations(STATUSES, 2)
    }
    assert theme.success is not None
    assert theme.error is not None
    pairs["success", "error"] = (theme.success, theme.error)
    distances = {k: round(delta_e(x, y, vision), 1) for k, (x, y) in pairs.items()}
    assert min(distances.values()) >= CVD_MIN_DELTA_E, distances


@pytest.mark.parametrize(
    ("vision", "red", "green"),
    [("deuteranopia", "#D62728", "#2CA02C"), ("protanopia", "#E41A1C", "#406020")],
)
def test_the_dichromacy_check_rejects_a_red_green_pair(vision: str, red: str, green: str) -> None:
    # The check has teeth: a red/green pair far apart to normal eyes collapses under dichromacy.
    assert delta_e(red, green, "normal") > 3 * CVD_MIN_DELTA_E
    assert delta_e(red, green, vision) < CVD_MIN_DELTA_E / 2


# --- broken files --------------------------------------------------------------------------

BROKEN = {
    "bad colour": (
        GOOD.replace('"#112233"', '"not-a-colour"'),
        'colors.primary: "not-a-colour" is not a colour',
    ),
    "colour not a string": (GOOD.replace('"#112233"', "12"), "colors.primary: 12 is not a colour"),
    "bad app variable colour": (
        GOOD.replace('aw-active = "#00FF00"', 'aw-active = "greenish"'),
        'variables.aw-active: "greenish" is not a colour',
    ),
    "unknown top-level key": (f'colour = "x"\n{GOOD}', "colour: unknown key"),
    "unknown colour key": (
        GOOD.replace("[colors]\n", '[colors]\nprimry = "#000000"\n'),
        "colors.primry: unknown key",
    ),
    "misspelt app variable": (
        GOOD.replace("aw-active", "aw-loop"),
        "variables.aw-loop: unknown variable",
    ),
    "missing name": (GOOD.replace('name = "mine"\n', ""), "name: missing"),
    "empty name": (GOOD.replace('"mine"', '""'), 'name: "" is not a non-empty string'),
    "dark not a bool": (GOOD.replace("dark = true", 'dark = "yes"'), 'dark: "yes" is not true'),
    "missing primary": (GOOD.replace('primary = "#112233"', 'accent = "#112233"'), "primary"),
    "colors not a table": ('name = "x"\ncolors = "red"\n', 'colors: "red" is not a table'),
    "not TOML": ("this is { not toml\n", "not valid TOML"),
}


@pytest.mark.parametrize(("content", "expected"), BROKEN.values(), ids=list(BROKEN))
def test_broken_theme_names_file_and_field(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ThemeError) as info:
        load_theme(path)
    message = str(info.value)
    assert message.startswith("broken.toml: ")
    assert expected in message


@pytest.mark.parametrize(("content", "expected"), BROKEN.values(), ids=list(BROKEN))
def test_a_broken_user_file_is_reported_and_the_rest_still_load(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "broken.toml").write_text(content, encoding="utf-8")
    (tmp_path / "mine.toml").write_text(GOOD, encoding="utf-8")
    themes, errors = load_all(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith("broken.toml: ")
    assert expected in errors[0]
    assert [t.name for t in themes] == [*sorted(BUNDLED), "mine"]


def test_binary_garbage_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "garbage.toml").write_bytes(b"\xff\xfe\x00\x81 name = 1")
    themes, errors = load_all(tmp_path)
    assert errors == ["garbage.toml: not valid TOML: not UTF-8 text"]
    assert len(themes) == len(BUNDLED)


def test_an_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "folder.toml").mkdir()  # matches the glob but cannot be read as a file
    themes, errors = load_all(tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith("folder.toml: cannot read the file")
    assert len(themes) == len(BUNDLED)


# --- user themes ---------------------------------------------------------------------------


def test_user_theme_overrides_bundled_theme_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "my-dark.toml").write_text(
        GOOD.replace('"mine"', f'"{DEFAULT_THEME}"'), encoding="utf-8"
    )
    themes, errors = load_all(tmp_path)
    assert errors == []
    names = [t.name for t in themes]
    assert names.count(DEFAULT_THEME) == 1
    assert sorted(names) == sorted(BUNDLED)
    mine = next(t for t in themes if t.name == DEFAULT_THEME)
    assert mine.primary == "#112233"
    assert mine.variables == {"aw-active": "#00FF00"}


def test_user_theme_may_set_textual_variables_and_named_colours(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        GOOD.replace('"#112233"', '"ansi_blue"') + 'block-cursor-text-style = "bold"\n',
        encoding="utf-8",
    )
    theme = load_theme(path)
    assert theme.primary == "ansi_blue"
    assert theme.variables["block-cursor-text-style"] == "bold"


def test_two_user_files_claiming_one_name_keep_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(GOOD.replace("#112233", "#445566"), encoding="utf-8")
    themes, errors = load_all(tmp_path)
    assert errors == ['b.toml: name: "mine" is already used by a.toml; file ignored']
    assert next(t for t in themes if t.name == "mine").primary == "#112233"


def test_missing_user_dir_is_not_an_error(tmp_path: Path) -> None:
    themes, errors = load_all(tmp_path / "nope")
    assert errors == []
    assert len(themes) == len(BUNDLED)


def test_editable_install_finds_the_repository_themes() -> None:
    # This checkout is installed editable, so there is no agentwatch/_themes next to the code.
    assert bundled_dir() == REPO / "themes"


# --- the wheel -----------------------------------------------------------------------------

PROBE = """
import json, agentwatch.ui.themes as t
themes, errors = t.load_all(None)
print(json.dumps({"module": t.__file__, "dir": str(t.bundled_dir()),
                  "names": [x.name for x in themes], "errors": errors}))
"""


def test_wheel_carries_the_bundled_themes_and_finds_them_when_installed(tmp_path: Path) -> None:
    # Without hatchling in this venv, pip builds in isolation from its configured indexes.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, "-w", out, REPO],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("agentwatch-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        inside = {n for n in zf.namelist() if n.startswith("agentwatch/_themes/")}
        assert {f"agentwatch/_themes/{n}.toml" for n in BUNDLED} <= inside
        site = tmp_path / "site"
        zf.extractall(site)  # a pure-Python wheel unpacked is an installed package

    # Import from the unpacked wheel (PYTHONPATH precedes the editable install's path entry).
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, env=env
    )
    probe = json.loads(done.stdout)
    assert Path(probe["module"]).is_relative_to(site)
    assert Path(probe["dir"]) == site / "agentwatch" / "_themes"
    assert sorted(probe["names"]) == sorted(BUNDLED)
    assert probe["errors"] == []
