"""`agentwatch leaderboard` through the installed console script, over fixture trees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN_KEYS, Run
from tests.core.scenarios import normal  # (a module: its `testfix_*` are not tests here)
from tests.core.scenarios.agent import T0, Agent, iso
from tests.core.scenarios.loops import loop_poll_health
from tests.fixtures.claude import ClaudeTree

Agentwatch = Callable[..., Run]
LOOPER = "aaaaaaaa-1111-4111-8111-000000000001"
WORKER = "bbbbbbbb-2222-4222-8222-000000000002"
FIXER = "cccccccc-3333-4333-8333-000000000003"
TINY = "dddddddd-4444-4444-8444-000000000004"
ROW_KEYS = {
    "rank",
    "key",
    "by",
    "agent",
    "session_id",
    "project",
    "model",
    "sessions",
    "models",
    "tokens",
    "longest_session_s",
    "files_changed",
    "lines_added",
    "lines_removed",
    "lines_changed",
    "tokens_per_changed_line",
    "idle_burn_share",
    "cache_hit_ratio",
    "alerts",
    "open_alerts",
    "critical_alerts",
    "loop_disqualified",
    "produced_estimated",
}
TITLE_KEYS = {"title", "kind", "rule", "key", "value", "unit", "ties", "note"}


def agent(tree: ClaudeTree, sid: str, cwd: str, seed: str, **kw: Any) -> Agent:
    a = Agent(tree, tree.main(sid, cwd=cwd), seed, **kw)
    a.prefix = seed  # message ids of their own: no call is a copy of another session's
    return a


@pytest.fixture
def team(claude_tree: ClaudeTree) -> ClaudeTree:
    """A polling loop that burns the most tokens, two sessions that work, and a tiny one."""
    loop_poll_health(agent(claude_tree, LOOPER, "/home/dev/shop-api", "loop"))
    normal.normal_feature(agent(claude_tree, WORKER, "/home/dev/blog", "work"))
    normal.testfix_pytest(agent(claude_tree, FIXER, "/home/dev/shop-api", "fix"))
    tiny = agent(claude_tree, TINY, "/home/dev/notes", "tiny", context=2000)
    tiny.human("Write a README")
    tiny.write("/home/dev/notes/README.md", lines=60)
    return claude_tree


def board(agentwatch: Agentwatch, tree: ClaudeTree, *args: str) -> dict[str, Any]:
    res = agentwatch("leaderboard", "--json", "--claude-dir", str(tree.root), *args)
    assert res.code == 0, res.err
    assert "Traceback" not in res.err
    doc: dict[str, Any] = res.json()
    return doc


def check_shape(doc: dict[str, Any], by: str) -> None:
    assert doc["schema_version"] == 1
    assert doc["by"] == by
    assert doc["generated_at"].endswith("Z")
    assert set(doc["period"]) == {"since", "until"}
    assert doc["total_rows"] >= len(doc["rows"])
    for r in doc["rows"]:
        assert set(r) == ROW_KEYS, set(r) ^ ROW_KEYS
        assert r["by"] == by
        assert set(r["tokens"]) == set(TOKEN_KEYS)
        assert r["lines_changed"] == r["lines_added"] + r["lines_removed"]
    assert [r["rank"] for r in doc["rows"]] == sorted(r["rank"] for r in doc["rows"])
    totals = [r["tokens"]["total"] for r in doc["rows"]]
    assert totals == sorted(totals, reverse=True)
    assert [t["title"] for t in doc["titles"]] == [
        "Token Legend",
        "Session Immortal",
        "Model Connoisseur",
        "Cache Wizard",
        "Most lines per token",
        "Least idle burn",
        "Most lines changed",
    ]
    for t in doc["titles"]:
        assert set(t) == TITLE_KEYS
        assert t["kind"] in ("familiar", "honest")
        assert (t["key"] is None) == (t["note"] is not None)


def test_the_looping_session_tops_the_tokens_and_wins_no_honest_title(agentwatch, team):
    doc = board(agentwatch, team, "--all")
    check_shape(doc, "session")
    rows = {r["key"]: r for r in doc["rows"]}
    assert doc["rows"][0]["key"] == LOOPER
    loop = rows[LOOPER]
    assert loop["loop_disqualified"]
    assert loop["critical_alerts"] >= 1
    assert loop["idle_burn_share"] > 0.5
    assert loop["tokens_per_changed_line"] > 2 * rows[WORKER]["tokens_per_changed_line"]
    titles = {t["title"]: t for t in doc["titles"]}
    assert titles["Token Legend"]["key"] == LOOPER
    assert titles["Token Legend"]["value"] == loop["tokens"]["total"]
    honest = [t for t in doc["titles"] if t["kind"] == "honest"]
    assert {t["key"] for t in honest} <= {WORKER, FIXER}
    assert all(t["key"] is not None for t in honest)
    # the tiny session has the fewest tokens per line on paper, under the token floor
    assert rows[TINY]["tokens_per_changed_line"] < rows[WORKER]["tokens_per_changed_line"]
    assert titles["Most lines per token"]["key"] != TINY


def test_the_produced_columns_match_the_reports_signal(agentwatch, team, report_json):
    doc = board(agentwatch, team, "--all")
    rep = report_json(team.root)
    assert len(doc["rows"]) == len(rep["sessions"]) == 4
    rows = {r["key"]: r for r in doc["rows"]}
    for s in rep["sessions"]:
        r, sig = rows[s["session_id"]], s["signal"]
        assert r["tokens"] == s["total_tokens"]
        assert r["models"] == s["models"]
        for k in ("files_changed", "lines_added", "lines_removed"):
            assert r[k] == sig[k], (s["session_id"], k)
        assert r["idle_burn_share"] == pytest.approx(sig["idle_burn_share"])
        assert r["tokens_per_changed_line"] == pytest.approx(sig["tokens_per_changed_line"])
        assert r["alerts"] == len(sig["alerts"])


def test_the_default_period_is_the_last_seven_days(agentwatch, team):
    doc = board(agentwatch, team)  # the fixture's sessions are from 2026-02-03
    assert doc["rows"] == []
    assert doc["period"]["since"] is not None
    assert all(t["key"] is None and t["note"] == "no rows" for t in doc["titles"])
    res = agentwatch("leaderboard", "--claude-dir", str(team.root))
    assert res.code == 0
    assert "No sessions with API calls in this period." in res.out
    assert "--all" in res.out


def test_a_period_counts_only_the_calls_and_changes_inside_it(agentwatch, claude_tree, report_json):
    a = agent(claude_tree, WORKER, "/home/dev/blog", "split")
    a.human("First part")
    a.edit("/home/dev/blog/a.py", added=30, removed=5)
    a.wait(2 * 3600)
    a.mark("middle")
    a.human("Second part")
    a.edit("/home/dev/blog/b.py", added=12, removed=3)
    a.edit("/home/dev/blog/b.py", added=2, removed=1)
    since = iso(T0 + a.marks["middle"])
    doc = board(agentwatch, claude_tree, "--since", since)
    (row,) = doc["rows"]
    assert (row["files_changed"], row["lines_added"], row["lines_removed"]) == (1, 14, 4)
    rep = report_json(claude_tree.root, args=("--since", since))
    assert row["tokens"] == rep["totals"]["tokens"]
    whole = board(agentwatch, claude_tree, "--all")["rows"][0]
    assert (whole["files_changed"], whole["lines_added"]) == (2, 44)
    assert whole["tokens"]["total"] > row["tokens"]["total"]
    assert row["longest_session_s"] < 3600 < whole["longest_session_s"]


def test_by_project_and_by_model(agentwatch, team):
    doc = board(agentwatch, team, "--all", "--by", "project")
    check_shape(doc, "project")
    rows = {r["key"]: r for r in doc["rows"]}
    assert set(rows) == {"/home/dev/shop-api", "/home/dev/blog", "/home/dev/notes"}
    shop = rows["/home/dev/shop-api"]
    assert shop["sessions"] == 2
    assert shop["loop_disqualified"]  # the loop is one of its sessions
    sessions = {r["key"]: r for r in board(agentwatch, team, "--all")["rows"]}
    assert (
        shop["tokens"]["total"]
        == sessions[LOOPER]["tokens"]["total"] + sessions[FIXER]["tokens"]["total"]
    )
    assert (
        shop["lines_changed"]
        == sessions[LOOPER]["lines_changed"] + sessions[FIXER]["lines_changed"]
    )
    doc = board(agentwatch, team, "--all", "--by", "model")
    check_shape(doc, "model")
    (row,) = doc["rows"]  # every fixture session runs on one model
    assert row["model"] == "claude-sonnet-4-5-20250929"
    assert row["sessions"] == 4
    assert not row["produced_estimated"]
    assert row["tokens"]["total"] == sum(r["tokens"]["total"] for r in sessions.values())
    connoisseur = next(t for t in doc["titles"] if t["title"] == "Model Connoisseur")
    assert connoisseur["note"] == "not meaningful by model"


def test_filters_and_limit(agentwatch, team):
    doc = board(agentwatch, team, "--all", "--project", "shop-api")
    assert {r["key"] for r in doc["rows"]} == {LOOPER, FIXER}
    assert board(agentwatch, team, "--all", "--model", "haiku")["rows"] == []
    doc = board(agentwatch, team, "--all", "--limit", "2")
    assert [r["rank"] for r in doc["rows"]] == [1, 2]
    assert doc["total_rows"] == 4
    # titles still look at every row
    assert {t["title"]: t for t in doc["titles"]}["Most lines changed"]["key"] in (WORKER, FIXER)


@pytest.mark.parametrize("width", [80, 160])
def test_the_table_fits_the_terminal_and_names_the_loop(agentwatch, team, width):
    res = agentwatch(
        "leaderboard", "--all", "--claude-dir", str(team.root), env={"COLUMNS": str(width)}
    )
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert max(len(line) for line in lines) <= width
    table = lines[1 : 1 + 5]
    assert table[0].split()[:2] == ["#", "Session"]
    assert table[1].split()[1] == LOOPER[:8]
    assert table[1].rstrip().endswith("loop")
    for header in ("Tokens", "Lines", "Tok/line", "Idle", "Cache", "Alerts"):
        assert header in table[0]
    text = res.out
    assert "Familiar titles" in text
    assert "Honest titles" in text
    legend = next(line for line in lines if line.strip().startswith("Token Legend"))
    assert LOOPER[:8] in legend
    for name in ("Most lines per token", "Least idle burn", "Most lines changed"):
        line = next(line for line in lines if line.strip().startswith(name))
        assert LOOPER[:8] not in line
        assert WORKER[:8] in line or FIXER[:8] in line


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--all", "--since", "7d"], 2),
        (["--by", "day"], 2),
        (["--limit", "0"], 2),
        (["--since", "yesterday"], 2),
        (["--tz", "Mars/Olympus"], 2),
        (["--session", "abc"], 2),
        (["--session", "ffffffff"], 1),
    ],
)
def test_bad_usage_is_one_line(agentwatch, team, argv: list[str], code: int):
    res = agentwatch("leaderboard", "--claude-dir", str(team.root), *argv)
    assert res.code == code, (res.out, res.err)
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1, res.err


def test_a_missing_directory_is_a_usage_error(agentwatch, tmp_path: Path):
    res = agentwatch("leaderboard", "--claude-dir", str(tmp_path / "nope"))
    assert res.code == 2
    assert "no such directory" in res.err
