"""`report --format csv|md|html` parsed back and held against `report --json` (CLI_CONTRACT
sections 3 and 6); `--by` groups; days across midnight in two zones."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN_KEYS, Run, check_report_invariants
from tests.fixtures.exports import (
    CODEX_ID,
    HOSTILE_CWD,
    HOSTILE_DESC,
    LATE,
    SECRET_PROMPT_KEY,
    SHOP,
    UNPRICED,
    ExportTree,
    build,
)

Agentwatch = Callable[..., Run]


@pytest.fixture
def tree(tmp_path: Path) -> ExportTree:
    return build(tmp_path / "logs")


@pytest.fixture
def export(agentwatch: Agentwatch, tree: ExportTree) -> Callable[..., str]:
    """`agentwatch report --format FMT ...` over the tree: exit 0, stdout."""

    def run(fmt: str, *args: str) -> str:
        res = agentwatch("report", "--format", fmt, *tree.args(), *args)
        assert res.code == 0, res.err
        assert "Traceback" not in res.err
        return res.out

    return run


@pytest.fixture
def doc(agentwatch: Agentwatch, tree: ExportTree) -> dict[str, Any]:
    res = agentwatch("report", "--json", *tree.args())
    assert res.code == 0, res.err
    d: dict[str, Any] = res.json()
    check_report_invariants(d)
    assert len(d["sessions"]) == 4
    return d


def cost_close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


# ---- CSV ----------------------------------------------------------------------------------
CSV_HEAD = [
    "agent",
    "session_id",
    "parent_session",
    "agent_id",
    "project",
    "started_at",
    "last_activity_at",
    "models",
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "reasoning",
    "total",
    "cost_usd",
]


def test_csv_rows_follow_the_contract(export: Callable[..., str], doc: dict[str, Any]) -> None:
    text = export("csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][: len(CSV_HEAD)] == CSV_HEAD  # the contract's columns, in its order
    records = list(csv.DictReader(io.StringIO(text)))
    sessions = [r for r in records if not r["agent_id"]]
    subs = [r for r in records if r["agent_id"]]
    assert [r["session_id"] for r in sessions] == [s["session_id"] for s in doc["sessions"]]
    by_id = {s["session_id"]: s for s in doc["sessions"]}
    for r in sessions:
        s = by_id[r["session_id"]]
        assert r["parent_session"] == ""
        assert r["agent"] == s["agent"]
        assert r["project"] == (s["project"] or "")
        assert r["started_at"] == s["started_at"]
        assert r["last_activity_at"] == s["last_activity_at"]
        assert r["models"] == ";".join(s["models"])
        assert {k: int(r[k]) for k in TOKEN_KEYS} == s["total_tokens"]  # sub-agents included
        want = s["total_cost_usd"]
        assert cost_close(float(r["cost_usd"]) if r["cost_usd"] else None, want)
    (sub,) = subs
    parent = by_id[SHOP]
    (want_sub,) = parent["subagents"]
    assert (sub["session_id"], sub["parent_session"], sub["agent_id"]) == (SHOP, SHOP, "a1b2c3d")
    assert {k: int(sub[k]) for k in TOKEN_KEYS} == want_sub["tokens"]
    assert sub["description"] == HOSTILE_DESC  # exact text: CSV quoting, not escaping
    # Null is an empty cell; the grand total adds up to --json's.
    odd = next(r for r in sessions if r["models"] == UNPRICED)
    assert odd["cost_usd"] == ""
    assert odd["cost_is_estimate"] == "true"
    assert odd["project"] == HOSTILE_CWD
    grand = {k: sum(int(r[k]) for r in sessions) for k in TOKEN_KEYS}
    assert grand == doc["totals"]["tokens"]
    # Numbers are unformatted: no thousands separators, ISO times.
    assert all(re.fullmatch(r"\d+", r["total"]) for r in records)
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["started_at"]) for r in records
    )


def test_csv_by_day_is_one_row_per_group(export: Callable[..., str], doc: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(export("csv", "--by", "day", "--tz", "UTC"))))
    assert [r["key"] for r in rows] == ["2026-02-03", "2026-02-04"]
    assert {r["by"] for r in rows} == {"day"}
    grand = {k: sum(int(r[k]) for r in rows) for k in TOKEN_KEYS}
    assert grand == doc["totals"]["tokens"]
    assert [int(r["sessions"]) for r in rows] == [2, 3]  # the late session is on both days


# ---- JSON groups and time zones -------------------------------------------------------------
def test_json_groups_only_with_by(export: Callable[..., str], agentwatch: Agentwatch) -> None:
    import json  # noqa: PLC0415

    plain = json.loads(export("json"))
    assert "groups" not in plain
    for by in ("session", "project", "day", "model"):
        d = json.loads(export("json", "--by", by))
        check_report_invariants(d)
        groups = d["groups"]
        assert groups
        assert {g["by"] for g in groups} == {by}
        for g in groups:
            assert set(g) >= {"key", "by", "tokens", "cost_usd", "sessions"}
            assert isinstance(g["key"], str)
            assert isinstance(g["sessions"], int)
        summed = {k: sum(g["tokens"][k] for g in groups) for k in TOKEN_KEYS}
        assert summed == d["totals"]["tokens"], by
    by_model = json.loads(export("json", "--by", "model"))["groups"]
    unpriced = next(g for g in by_model if g["key"] == UNPRICED)
    assert unpriced["cost_usd"] is None


def test_day_groups_across_midnight_depend_on_the_zone(export: Callable[..., str]) -> None:
    import json  # noqa: PLC0415

    def days(tz: str) -> dict[str, int]:
        d = json.loads(export("json", "--by", "day", "--tz", tz, "--session", LATE))
        return {g["key"]: g["tokens"]["total"] for g in d["groups"]}

    # The late session: 7,077 tokens at 23:30 UTC on the 3rd, 9,099 at 00:30 UTC on the 4th.
    assert days("UTC") == {"2026-02-03": 7077, "2026-02-04": 9099}
    assert days("America/New_York") == {"2026-02-03": 7077 + 9099}  # 18:30 and 19:30
    assert days("Asia/Tokyo") == {"2026-02-04": 7077 + 9099}  # 08:30 and 09:30


def test_local_time_is_the_default_zone(agentwatch: Agentwatch, tree: ExportTree) -> None:
    res = agentwatch(
        "report", "--json", "--by", "day", "--session", LATE, *tree.args(), env={"TZ": "Asia/Tokyo"}
    )
    assert res.code == 0, res.err
    assert [g["key"] for g in res.json()["groups"]] == ["2026-02-04"]


# ---- Markdown -----------------------------------------------------------------------------
def md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every pipe table under its `###` heading, as rows of unescaped cells."""
    out: dict[str, list[dict[str, str]]] = {}
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if (
            line.startswith("| ")
            and i + 1 < len(lines)
            and re.match(r"^\|(-+:?\|)+$", lines[i + 1])
        ):
            head = split_row(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                cells = split_row(lines[i])
                assert len(cells) == len(head), lines[i]  # an escaped | never splits a cell
                rows.append(dict(zip(head, cells, strict=True)))
                i += 1
            out.setdefault(heading, rows)
            continue
        i += 1
    return out


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", c.strip()) for c in cells]


def num(cell: str) -> int:
    return int(cell.replace(",", "").lstrip("+-"))


def test_markdown_tables_match_the_json(export: Callable[..., str], doc: dict[str, Any]) -> None:
    text = export("md", "--by", "model")
    tables = md_tables(text)
    totals = doc["totals"]["tokens"]
    (top,) = next(iter(tables.values()))  # the first table: the totals
    assert num(top["Total"]) == totals["total"]
    sessions = tables["Sessions"]
    rows, total_row = sessions[:-1], sessions[-1]
    assert total_row["Session"] == "**Total**"
    assert [r["Session"].strip("`") for r in rows] == [s["session_id"][:8] for s in doc["sessions"]]
    for col, key in (("Input", "input"), ("Output", "output"), ("Cache write", "cache_write")):
        assert sum(num(r[col]) for r in rows) == totals[key]
        assert num(total_row[col]) == totals[key]
    assert sum(num(r["Total"]) for r in rows) == totals["total"]
    odd = next(r for r in rows if r["Session"] == "`cccccccc`")
    assert odd["Project"] == HOSTILE_CWD  # escaped in the source, intact once unescaped
    assert odd["Cost"] == "unpriced"
    assert total_row["Cost"].startswith("~$")  # an unpriced model makes the total an estimate
    assert "Unpriced models: claude-imaginary-9" in text
    (sub,) = tables["Sub-agents"]
    assert sub["What"] == f"Explore: {HOSTILE_DESC}"
    assert num(sub["Total"]) == doc["sessions"][0]["subagents"][0]["tokens"]["total"]
    produced = tables["What each session produced"]
    shop = next(r for r in produced if r["Session"] == "`aaaaaaaa`")
    assert (shop["Files changed"], shop["Lines added"], shop["Lines removed"]) == ("1", "+2", "-1")
    models = tables["By model"]
    assert sum(num(r["Total"]) for r in models) == totals["total"]
    # Nothing from the logs became markup: every `<` from them is escaped.
    assert not re.search(r"(?<!\\)<(script|img)", text)
    assert "\\<img" in text


def test_markdown_of_nothing_says_so(export: Callable[..., str]) -> None:
    text = export("md", "--project", "no-such-project")
    assert "No sessions matched." in text


# ---- HTML ---------------------------------------------------------------------------------
class Page(HTMLParser):
    """Collects tags, attributes, tables (cells with their data-v) and script bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self.heads: dict[str, list[str]] = {}
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._cell_v: str | None = None
        self._in: str | None = None
        self._row: list[tuple[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id") or f"t{len(self.tables)}"
            self.tables[self._table] = []
            self.heads[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th"):
            self._cell, self._cell_v = [], a.get("data-v")
        elif tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            text = "".join(self._cell).strip()
            if tag == "th":
                self.heads[self._table].append(text)
            elif self._row is not None:
                self._row.append((text, self._cell_v))
            self._cell = None
        elif tag == "tr" and self._table and self._row:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag in ("script", "style"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)

    def column(self, table: str, title: str) -> list[tuple[str, str | None]]:
        i = self.heads[table].index(title)
        return [row[i] for row in self.tables[table]]


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    p.close()
    return p


EXTERNAL = re.compile(r"^\s*(https?:|//|ftp:|file:)", re.IGNORECASE)


def assert_self_contained(text: str, page: Page) -> None:
    for tag, attrs in page.tags:
        for name in (
            "src",
            "href",
            "action",
            "srcset",
            "xlink:href",
            "data",
            "poster",
            "background",
        ):
            v = attrs.get(name)
            assert v is None or not EXTERNAL.match(v), (tag, name, v)
        assert tag not in ("link", "iframe", "object", "embed", "img", "base"), tag
    lowered = text.lower()
    assert "@import" not in lowered
    assert "url(" not in lowered
    assert "http://" not in lowered
    assert "https://" not in lowered


def test_html_is_self_contained_and_matches_the_json(
    export: Callable[..., str], doc: dict[str, Any]
) -> None:
    text = export("html", "--by", "project")
    assert text.startswith("<!DOCTYPE html>")
    page = parse(text)
    assert_self_contained(text, page)
    # Exactly our one script and one style sheet: nothing from the logs became a tag.
    assert sum(1 for t, _ in page.tags if t == "script") == 1
    assert sum(1 for t, _ in page.tags if t == "style") == 1
    assert not any(t == "img" for t, _ in page.tags)
    assert "addEventListener('click'" in "".join(page.scripts)  # the sortable table
    assert "--primary: #5EA1FF;" in "".join(page.styles)  # the default theme's colours

    totals = doc["totals"]["tokens"]
    rows = page.tables["sessions"]
    assert len(rows) == len(doc["sessions"]) + 1  # sessions and the total row
    total_col = page.column("sessions", "Total")
    assert sum(int(v or 0) for _, v in total_col[:-1]) == totals["total"]
    assert int(total_col[-1][1] or 0) == totals["total"]
    costs = [float(v) for _, v in page.column("sessions", "Cost")[:-1] if v]
    assert abs(sum(costs) - doc["totals"]["cost_usd"]) < 1e-9
    projects = [t for t, _ in page.column("sessions", "Project")]
    assert HOSTILE_CWD in projects  # shown as text, intact
    sessions = [v for _, v in page.column("sessions", "Session")[:-1]]
    assert sessions == [s["session_id"] for s in doc["sessions"]]
    (sub,) = page.tables["subagents"]
    assert sub[2][0] == f"Explore: {HOSTILE_DESC}"
    kinds = page.tables["totals"][0]
    assert [int(v or 0) for _, v in kinds[:7]] == [
        totals[k]
        for k in (
            "input",
            "output",
            "cache_write",
            "cache_write_1h",
            "cache_read",
            "reasoning",
            "total",
        )
    ]
    groups = page.column("groups", "Total")
    assert sum(int(v or 0) for _, v in groups) == totals["total"]
    assert '<svg viewBox="0 0 1000 200"' in text  # the chart, inline
    assert "Tokens per hour" in text or "Tokens per day" in text
    assert SECRET_PROMPT_KEY not in text
    assert "Fix the refund rounding" not in text


def test_html_uses_the_users_theme(
    agentwatch: Agentwatch, tree: ExportTree, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config"
    (config / "themes").mkdir(parents=True)
    (config / "config.toml").write_text('theme = "mine"\n')
    (config / "themes" / "mine.toml").write_text(
        'name = "mine"\ndark = false\n[colors]\nprimary = "#123456"\n'
        'background = "red; } body { background: url(//evil)"\n'
    )
    res = agentwatch("report", "--format", "html", "--config-dir", str(config), *tree.args())
    assert res.code == 0, res.err
    page = parse(res.out)
    style = "".join(page.styles)
    assert "--primary: #123456;" in style
    assert "--background: #F6F8FA;" in style  # a light theme's default, not the bad value
    assert_self_contained(res.out, page)


# ---- table --by -------------------------------------------------------------------------
def test_table_shows_the_groups(export: Callable[..., str]) -> None:
    out = export("table", "--by", "day", "--tz", "UTC")
    assert "By day (UTC)" in out
    assert re.search(r"^2026-02-03\s+2\s", out, re.MULTILINE)
    assert re.search(r"^2026-02-04\s+3\s", out, re.MULTILINE)
    assert CODEX_ID[:8] in out


def test_csv_cells_from_logs_never_start_a_formula(claude_tree, agentwatch) -> None:  # type: ignore[no-untyped-def]
    import csv as csv_mod  # noqa: PLC0415
    import io  # noqa: PLC0415

    from tests.fixtures.claude import ts, usage  # noqa: PLC0415

    t = claude_tree.main("5d0c9a1e-3b7f-4c2a-9e81-0a6b2c4d8f10", cwd="=cmd|' /C calc'!A0")
    t.assistant("m1", "r1", usage(1, 2), ts(1), model='=HYPERLINK("http://evil")')
    for extra in ((), ("--by", "model")):
        res = agentwatch("report", "--format", "csv", "--claude-dir", str(claude_tree.root), *extra)
        assert res.code == 0, res.err
        for row in csv_mod.reader(io.StringIO(res.out)):
            assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row), row
