"""The `report` command line: CLI_CONTRACT sections 1-3 (options, exit codes, JSON shape)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentwatch import __version__
from tests.conftest import TOKEN_KEYS, Run
from tests.fixtures.claude import HAIKU, SONNET, ClaudeTree, task_block, toks, ts, usage

Report = Callable[..., dict[str, Any]]
Agentwatch = Callable[..., Run]
UNKNOWN = "claude-imaginary-9"


def one_line_error(res: Run, code: int) -> None:
    assert res.code == code, (res.out, res.err)
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert res.err.startswith("agentwatch")


# ---- version, help ------------------------------------------------------------------------
def test_version(agentwatch: Agentwatch, cli_env: dict[str, str]) -> None:
    res = agentwatch("--version")
    assert res.code == 0
    assert res.out.strip() == f"agentwatch, version {__version__}"
    p = subprocess.run(
        [sys.executable, "-m", "agentwatch", "--version"],
        capture_output=True,
        text=True,
        env=cli_env,
        check=False,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == res.out


def test_help(agentwatch: Agentwatch) -> None:
    res = agentwatch("--help")
    assert res.code == 0
    assert "report" in res.out
    res = agentwatch("report", "--help")
    assert res.code == 0
    for opt in ("--claude-dir", "--json", "--since", "--until", "--project", "--session"):
        assert opt in res.out


# ---- usage errors and empty results -----------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--claude-dir", "{tmp}/nope"],
        ["--claude-dir", "{tmp}/nope", "report", "--json"],
        ["report", "--claude-dir", "{tmp}/a-file"],
        ["report", "--json", "--since", "last tuesday"],
        ["report", "--frobnicate"],
        ["report", "--json", "--tz", "Mars/Olympus_Mons"],
    ],
    ids=["missing-dir", "missing-dir-before-cmd", "file-as-dir", "bad-since", "bad-flag", "bad-tz"],
)
def test_usage_errors_exit_2_with_one_line(
    agentwatch: Agentwatch, tmp_path: Path, argv: list[str]
) -> None:
    (tmp_path / "a-file").write_text("x")
    res = agentwatch(*[a.format(tmp=tmp_path) for a in argv])
    one_line_error(res, 2)
    assert res.out == ""


def test_empty_home_is_an_empty_success(
    agentwatch: Agentwatch, report_json: Report, cli_env: dict[str, str]
) -> None:
    doc = report_json()
    assert doc["sessions"] == []
    assert doc["totals"]["tokens"] == toks()
    assert doc["totals"]["cost_usd"] is None
    assert doc["totals"]["unpriced_models"] == []
    assert (doc["skipped"]["lines"], doc["skipped"]["files"]) == (0, 0)
    res = agentwatch("report")
    assert res.code == 0
    assert "Traceback" not in res.err
    # A default root that does not exist is skipped; so is a root without projects/.
    assert report_json(env={"CLAUDE_CONFIG_DIR": "/nonexistent/claude"})["sessions"] == []
    assert report_json(Path(cli_env["HOME"]))["sessions"] == []


def test_default_roots_are_merged(cli_env: dict[str, str], report_json: Report) -> None:
    home = Path(cli_env["HOME"])
    dot, xdg = ClaudeTree(home / ".claude"), ClaudeTree(home / ".config" / "claude")
    for tree in (dot, xdg):  # the same session in both (1.0.28-1.0.30 wrote to XDG)
        t = tree.main("aaaaaaaa-0000-4000-8000-000000000001")
        t.assistant("msg_1", "req_1", usage(1, 10), ts(1))
    xdg.main("bbbbbbbb-0000-4000-8000-000000000002").assistant(
        "msg_2", "req_2", usage(2, 20), ts(2)
    )

    doc = report_json()
    assert [s["session_id"][:8] for s in doc["sessions"]] == ["aaaaaaaa", "bbbbbbbb"]
    assert doc["totals"]["tokens"] == toks(3, 30)


# ---- filters ------------------------------------------------------------------------------
def test_session_selection(claude_tree: ClaudeTree, agentwatch: Agentwatch) -> None:
    ids = [
        "3f2a9c1e-aaaa-4000-8000-000000000001",
        "3f2a9c1e-bbbb-4000-8000-000000000002",
        "7b0d41e2-cccc-4000-8000-000000000003",
    ]
    for i, sid in enumerate(ids):
        t = claude_tree.main(sid)
        t.assistant(f"msg_{i}", f"req_{i}", usage(1, 10 * (i + 1)), ts(i + 1))

    def select(arg: str) -> Run:
        return agentwatch(
            "report", "--json", "--claude-dir", str(claude_tree.root), "--session", arg
        )

    for arg, want, out in (
        (ids[1], ids[1], 20),
        ("7b0d41", ids[2], 30),
        ("3f2a9c1e-aaaa", ids[0], 10),
    ):
        res = select(arg)
        assert res.code == 0, res.err
        doc = res.json()
        assert [s["session_id"] for s in doc["sessions"]] == [want]
        assert doc["totals"]["tokens"] == toks(1, out)
    for arg, code in (("3f2a9c", 1), ("999999", 1), ("3f2", 2)):  # ambiguous, none, too short
        res = select(arg)
        one_line_error(res, code)
        assert res.out == ""


def test_since_until_select_calls_by_their_own_time(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    day = "2026-02-03T"
    a = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    a.user("go", f"{day}09:50:00.000Z")
    a.assistant("msg_a1", "req_a1", usage(1, 10), f"{day}09:55:00.000Z")
    a.assistant(
        "msg_a2",
        "req_a2",
        usage(2, 20),
        f"{day}10:10:00.000Z",
        content=[task_block("toolu_1", "Look.", "Explore", "look")],
    )
    sub = claude_tree.subagent(a, "a1b2c3d")
    sub.user("Look.", f"{day}10:11:00.000Z", parentUuid=None)
    sub.assistant("msg_s1", "req_s1", usage(3, 30), f"{day}10:20:00.000Z")
    sub.assistant("msg_s2", "req_s2", usage(4, 40), f"{day}10:35:00.000Z")
    a.assistant("msg_a3", "req_a3", usage(5, 50), f"{day}10:40:00.000Z")
    b = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002")
    b.assistant("msg_b1", "req_b1", usage(6, 60), f"{day}08:00:00.000Z")

    window = ("--since", f"{day}10:00:00Z", "--until", f"{day}10:30:00Z")
    doc = report_json(claude_tree.root, args=window)
    (s,) = doc["sessions"]
    assert s["session_id"].startswith("aaaaaaaa")
    assert s["tokens"] == toks(2, 20)
    assert [(x["agent_id"], x["tokens"]) for x in s["subagents"]] == [("a1b2c3d", toks(3, 30))]
    assert doc["totals"]["tokens"] == toks(2 + 3, 20 + 30)

    doc = report_json(claude_tree.root, args=("--since", "2026-02-03", "--until", "2026-02-04"))
    assert doc["totals"]["tokens"] == toks(21, 210)
    assert report_json(claude_tree.root, args=("--since", "2026-02-04"))["sessions"] == []
    assert report_json(claude_tree.root, args=("--until", "2026-02-03"))["sessions"] == []


def test_project_substring(claude_tree: ClaudeTree, report_json: Report) -> None:
    shop = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001", cwd="/home/dev/shop-api")
    shop.assistant("msg_1", "req_1", usage(1, 10), ts(1))
    blog = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002", cwd="/srv/www/blog")
    blog.assistant("msg_2", "req_2", usage(2, 20), ts(2))

    doc = report_json(claude_tree.root, args=("--project", "shop"))
    assert [s["project"] for s in doc["sessions"]] == ["/home/dev/shop-api"]
    assert doc["totals"]["tokens"] == toks(1, 10)
    doc = report_json(claude_tree.root, args=("--project", "www/bl"))
    assert [s["project"] for s in doc["sessions"]] == ["/srv/www/blog"]


# ---- the JSON document ----------------------------------------------------------------------
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SESSION_KEYS = {
    "agent",
    "session_id",
    "project",
    "files",
    "started_at",
    "last_activity_at",
    "status",
    "models",
    "tokens",
    "cost_usd",
    "cost_is_estimate",
    "unpriced_models",
    "subagents",
    "total_tokens",
    "total_cost_usd",
}
SUBAGENT_KEYS = {
    "agent_id",
    "agent_type",
    "description",
    "models",
    "tokens",
    "cost_usd",
    "cost_is_estimate",
    "unpriced_models",
}
STATUSES = {"active", "idle", "looping", "suspended", "ended"}


def test_json_shape(claude_tree: ClaudeTree, report_json: Report) -> None:
    m = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    m.user("go", ts(0))
    m.task("msg_1", "req_1", usage(1, 10), ts(1), "toolu_1", "Look.", "Explore", "look")
    sub = claude_tree.subagent(m, "a1b2c3d")
    sub.assistant("msg_2", "req_2", usage(2, 20), ts(2), model=HAIKU)

    doc = report_json(claude_tree.root)
    assert set(doc) >= {"schema_version", "generated_at", "sessions", "totals", "skipped"}
    assert "groups" not in doc  # only with --by
    assert doc["schema_version"] == 1
    assert ISO.match(doc["generated_at"])
    assert set(doc["totals"]) >= {"tokens", "cost_usd", "cost_is_estimate", "unpriced_models"}
    assert set(doc["totals"]["tokens"]) == set(TOKEN_KEYS)
    assert isinstance(doc["totals"]["cost_usd"], float)
    assert doc["totals"]["cost_is_estimate"] is False
    assert all(type(doc["skipped"][k]) is int for k in ("lines", "files"))
    (s,) = doc["sessions"]
    assert set(s) >= SESSION_KEYS
    assert s["agent"] == "claude-code"
    assert s["session_id"] == "aaaaaaaa-0000-4000-8000-000000000001"
    assert s["project"] == "/home/dev/shop-api"
    assert s["files"] == sorted([str(m.path), str(sub.path)])
    assert all(Path(f).is_absolute() for f in s["files"])
    assert s["started_at"] == "2026-02-03T10:00:00.000Z"
    assert s["last_activity_at"] == "2026-02-03T10:02:00.000Z"
    assert s["status"] in STATUSES
    assert s["models"] == sorted([HAIKU, SONNET])
    assert isinstance(s["total_cost_usd"], float)
    (a,) = s["subagents"]
    assert set(a) >= SUBAGENT_KEYS
    assert (a["agent_id"], a["agent_type"], a["description"]) == ("a1b2c3d", None, None)
    assert a["models"] == [HAIKU]


# ---- costs ----------------------------------------------------------------------------------
def test_known_model_has_a_positive_exact_cost(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    m = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    m.assistant("msg_1", "req_1", usage(1000, 2000, 4000, 1000, 10000), ts(1))
    m.assistant("msg_2", "req_2", usage(5, 100, 0, 0, 250000), ts(2))  # over 200k: long context

    doc = report_json(claude_tree.root)
    (s,) = doc["sessions"]
    # Sonnet 4.5 per million: 3 in, 15 out, 3.75 5m write, 6 1h write, 0.3 read; a call whose
    # context is over 200k tokens pays 6 / 22.5 / 7.5 / 12 / 0.6 for all of it.
    short = 1000 * 3 + 2000 * 15 + 4000 * 3.75 + 1000 * 6 + 10000 * 0.3
    long = 5 * 6 + 100 * 22.5 + 250000 * 0.6
    assert s["cost_usd"] == pytest.approx((short + long) / 1e6, rel=1e-9)
    assert s["cost_usd"] > 0
    assert s["cost_is_estimate"] is False
    assert s["unpriced_models"] == []
    assert doc["totals"]["cost_usd"] == pytest.approx((short + long) / 1e6, rel=1e-9)


def test_unknown_model_is_listed_never_a_silent_zero(
    claude_tree: ClaudeTree, report_json: Report
) -> None:
    only = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    only.assistant("msg_1", "req_1", usage(100, 200), ts(1), model=UNKNOWN)
    mixed = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002")
    mixed.assistant("msg_2", "req_2", usage(1000, 2000), ts(2), model=SONNET)
    mixed.task("msg_3", "req_3", usage(1, 1), ts(3), "toolu_1", "Look.", "Explore", "look")
    sub = claude_tree.subagent(mixed, "a1b2c3d")
    sub.assistant("msg_4", "req_4", usage(10, 20), ts(4), model=UNKNOWN)

    doc = report_json(claude_tree.root)
    a, b = doc["sessions"]
    assert a["tokens"] == toks(100, 200)
    assert a["cost_usd"] is None
    assert a["total_cost_usd"] is None
    assert a["cost_is_estimate"] is True
    assert a["unpriced_models"] == [UNKNOWN]

    sonnet = (1000 * 3 + 2000 * 15 + 1 * 3 + 1 * 15) / 1e6
    assert b["cost_usd"] == pytest.approx(sonnet, rel=1e-9)
    assert b["total_cost_usd"] == pytest.approx(sonnet, rel=1e-9)
    assert b["cost_is_estimate"] is True
    assert b["unpriced_models"] == [UNKNOWN]
    (s,) = b["subagents"]
    assert (s["cost_usd"], s["cost_is_estimate"], s["unpriced_models"]) == (None, True, [UNKNOWN])

    totals = doc["totals"]
    assert totals["cost_usd"] == pytest.approx(sonnet, rel=1e-9)
    assert totals["cost_is_estimate"] is True
    assert totals["unpriced_models"] == [UNKNOWN]


# ---- option placement -----------------------------------------------------------------------
def test_common_options_before_or_after_the_command(
    claude_tree: ClaudeTree, agentwatch: Agentwatch
) -> None:
    m = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    m.assistant("msg_1", "req_1", usage(1, 10, 100, 0, 1000), ts(1))
    root = str(claude_tree.root)
    docs = []
    for argv in (
        ["--claude-dir", root, "report", "--json"],
        ["report", "--claude-dir", root, "--json"],
    ):
        res = agentwatch(*argv)
        assert res.code == 0, res.err
        doc = res.json()
        del doc["generated_at"]
        docs.append(doc)
    assert docs[0] == docs[1]
    assert docs[0]["totals"]["tokens"] == toks(1, 10, 100, 0, 1000)


def test_files_are_absolute_with_a_relative_claude_dir(
    claude_tree: ClaudeTree, agentwatch: Agentwatch
) -> None:
    m = claude_tree.main("aaaaaaaa-0000-4000-8000-000000000001")
    m.assistant("msg_1", "req_1", usage(1, 10), ts(1))
    res = agentwatch(
        "report", "--json", "--claude-dir", claude_tree.root.name, cwd=claude_tree.root.parent
    )
    assert res.code == 0, res.err
    (s,) = res.json()["sessions"]
    assert s["files"] == [str(m.path)]  # CLI_CONTRACT 3: "files": [absolute path]


def test_a_project_folder_whose_name_is_not_utf8_is_reported_not_fatal(
    claude_tree: ClaudeTree, agentwatch: Agentwatch, tmp_path: Path
) -> None:
    folder = os.fsencode(claude_tree.root / "projects") + b"/-home-dev-caf\xe9"
    os.makedirs(folder)
    line = {
        "type": "assistant",
        "sessionId": "aaaaaaaa-0000-4000-8000-000000000001",
        "timestamp": ts(1),
        "requestId": "req_1",
        "message": {"id": "msg_1", "model": SONNET, "usage": usage(5, 7)},
    }
    with open(folder + b"/aaaaaaaa-0000-4000-8000-000000000001.jsonl", "w") as fh:
        fh.write(json.dumps(line) + "\n")
    env = {"AGENTWATCH_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # the index cannot hold the name: each run reads it again, and says so
        res = agentwatch("report", "--json", "--claude-dir", str(claude_tree.root), env=env)
        assert res.code == 0, res.err
        assert "Traceback" not in res.err
        assert "internal error" not in res.err
        assert "not valid UTF-8" in res.err
        (s,) = res.json()["sessions"]
        assert s["files"][0].endswith(
            "-home-dev-caf\\xe9/aaaaaaaa-0000-4000-8000-000000000001.jsonl"
        )
        assert s["total_tokens"]["total"] == 12
