"""`report --json` on unchanged logs is answered from its memo, and only then."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentwatch.infra import memo
from tests.conftest import BIN, Run
from tests.fixtures.claude import SONNET, ClaudeTree, ts, usage

SID = "aaaaaaaa-0000-4000-8000-000000000001"


@pytest.fixture
def setup(
    claude_tree: ClaudeTree, tmp_path: Path, cli_env: dict[str, str], agentwatch: Callable[..., Run]
) -> Any:
    a = claude_tree.main(SID)
    a.assistant("m1", "r1", usage(inp=1, out=10), ts(1))
    env = {"AGENTWATCH_CACHE_DIR": str(tmp_path / "cache"), "AGENTWATCH_CONFIG_DIR": str(tmp_path)}
    argv = ["report", "--json", "--claude-dir", str(claude_tree.root)]

    def report(*extra: str, **more: str) -> dict[str, Any]:
        res = agentwatch(*argv, *extra, env={**env, **more})
        assert res.code == 0, res.err
        assert res.err == ""
        doc: dict[str, Any] = res.json()
        return doc

    def replay(now: float | None = None) -> bytes | None:
        return memo.replay(argv, {**cli_env, **env}, os.getcwd(), now or time.time())

    return a, tmp_path, report, replay


def _stable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "generated_at"}


def test_unchanged_logs_are_replayed_with_the_full_runs_answer(setup: Any) -> None:
    _, tmp_path, report, replay = setup
    first = report()
    assert len(list((tmp_path / "cache").glob("report-memo-*.bin"))) == 1
    kept = replay()
    assert kept is not None  # the console script keyed it as a replay will look it up
    assert _stable(json.loads(kept)) == _stable(first)
    again = report()
    full = report(AGENTWATCH_NO_MEMO="1")
    assert _stable(again) == _stable(full) == _stable(first)
    assert again["generated_at"] >= first["generated_at"]  # stamped now, not when kept


def test_an_appended_call_a_new_session_and_a_new_config_each_void_it(
    setup: Any, claude_tree: ClaudeTree
) -> None:
    a, tmp_path, report, replay = setup
    report()
    a.assistant("m2", "r2", usage(inp=2, out=20), ts(2))
    assert replay() is None
    assert report()["totals"]["tokens"]["output"] == 30
    assert replay() is not None
    b = claude_tree.main("bbbbbbbb-0000-4000-8000-000000000002", cwd="/home/dev/other")
    b.assistant("m3", "r3", usage(inp=3, out=300), ts(3))
    assert replay() is None
    assert len(report()["sessions"]) == 2
    cost = report()["totals"]["cost_usd"]
    (tmp_path / "config.toml").write_text(
        '[prices."claude-sonnet-4-5-20250929"]\ninput = 1000.0\noutput = 1000.0\n'
    )
    assert replay() is None
    assert report()["totals"]["cost_usd"] > cost
    b.path.unlink()
    assert replay() is None
    assert len(report()["sessions"]) == 2  # counted calls stay (the index keeps them)


def test_it_ends_when_an_active_session_would_turn_idle(setup: Any) -> None:
    a, _, report, replay = setup
    last = time.time()
    stamp = datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    a.assistant("m2", "r2", usage(inp=2, out=20), stamp)
    (session,) = report()["sessions"]
    assert session["status"] == "active"
    assert replay() is not None
    assert replay(last + 300 + 1) is None  # the default idle_after_s is 300


@pytest.mark.parametrize(
    "extra",
    [
        ("--since", "30d"),
        ("--format", "md"),
        ("--include-text",),
        ("--no-cache",),
        ("-o", "r.json"),
    ],
)
def test_only_a_plain_json_report_to_stdout_is_kept(
    setup: Any, claude_tree: ClaudeTree, agentwatch: Callable[..., Run], extra: tuple[str, ...]
) -> None:
    _, tmp_path, _, _ = setup
    env = {"AGENTWATCH_CACHE_DIR": str(tmp_path / "cache")}
    argv = ["report", "--claude-dir", str(claude_tree.root), *extra]
    if "--format" not in extra:
        argv.append("--json")
    res = agentwatch(*argv, env=env, cwd=tmp_path)
    assert res.code == 0, res.err
    assert list((tmp_path / "cache").glob("index-*.sqlite")) or "--no-cache" in extra
    assert not list((tmp_path / "cache").glob("report-memo-*.bin"))


def test_a_damaged_memo_falls_back_to_a_full_run(setup: Any) -> None:
    _, tmp_path, report, replay = setup
    first = report()
    (path,) = (tmp_path / "cache").glob("report-memo-*.bin")
    path.write_bytes(b"AWMEMO 1 garbage\n\x00\xff")
    assert _stable(report()) == _stable(first)
    assert replay() is not None  # written again by that run


def test_the_installed_code_and_price_data_are_probed() -> None:
    paths = memo.code_paths()
    assert memo.__file__ in paths  # an edit of agentwatch (or an upgrade) voids every memo
    assert any(f"{os.sep}genai_prices{os.sep}" in p for p in paths)  # so does new price data


def test_a_default_root_that_appears_later_voids_it(
    agentwatch: Callable[..., Run], cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {"AGENTWATCH_CACHE_DIR": str(tmp_path / "cache")}
    argv = ["report", "--json"]
    assert agentwatch(*argv, env=env).json()["sessions"] == []
    assert memo.replay(argv, {**cli_env, **env}, os.getcwd(), time.time()) is not None
    home = Path(cli_env["HOME"])
    tree = ClaudeTree(home / ".claude")
    tree.main(SID).assistant("m1", "r1", usage(inp=1, out=10), ts(1))
    assert memo.replay(argv, {**cli_env, **env}, os.getcwd(), time.time()) is None
    assert len(agentwatch(*argv, env=env).json()["sessions"]) == 1


def test_a_linked_project_folder_whose_target_appears_later_voids_it(
    setup: Any, claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    _, _, report, replay = setup
    target = tmp_path / "elsewhere"
    (claude_tree.root / "projects" / "-linked").symlink_to(target)
    assert len(report()["sessions"]) == 1
    assert replay() is not None
    target.mkdir()
    line = {
        "type": "assistant",
        "sessionId": "bbbbbbbb-0000-4000-8000-000000000002",
        "timestamp": ts(2),
        "requestId": "r2",
        "message": {"id": "m2", "model": SONNET, "usage": usage(inp=2, out=20)},
    }
    # written through the link's target: nothing under projects/ itself changes
    (target / "bbbbbbbb-0000-4000-8000-000000000002.jsonl").write_text(json.dumps(line) + "\n")
    assert replay() is None
    assert len(report()["sessions"]) == 2


def test_a_replay_that_cannot_write_says_so_in_one_line(
    setup: Any, cli_env: dict[str, str], tmp_path: Path, claude_tree: ClaudeTree
) -> None:
    _, _, report, replay = setup
    report()
    assert replay() is not None
    argv = ["report", "--json", "--claude-dir", str(claude_tree.root)]
    env = {
        **cli_env,
        "AGENTWATCH_CACHE_DIR": str(tmp_path / "cache"),
        "AGENTWATCH_CONFIG_DIR": str(tmp_path),
    }

    def to_full_disk(extra: dict[str, str]) -> tuple[int, str]:
        with open("/dev/full", "wb") as full:
            p = subprocess.run(
                [str(BIN), *argv],
                stdout=full,
                stderr=subprocess.PIPE,
                env={**env, **extra},
                check=False,
            )
        return p.returncode, p.stderr.decode()

    replayed, full_run = to_full_disk({}), to_full_disk({"AGENTWATCH_NO_MEMO": "1"})
    assert replayed == full_run  # the same exit code and the same one line
    code, err = replayed
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        "agentwatch: cannot write the report: [Errno 28] No space left on device"
    ]


def test_a_removed_working_directory_is_no_error(
    setup: Any, cli_env: dict[str, str], tmp_path: Path, claude_tree: ClaudeTree
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    run = f'exec "{BIN}" report --json --claude-dir "{claude_tree.root}"'
    cmd = f'cd "{gone}" && rmdir "{gone}" && {run}'
    env = {**cli_env, "AGENTWATCH_CACHE_DIR": str(tmp_path / "cache")}
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["sessions"]


def test_with_memos_turned_off_none_is_written(setup: Any, tmp_path: Path) -> None:
    _, _, report, _ = setup
    report(AGENTWATCH_NO_MEMO="1")
    assert not list((tmp_path / "cache").glob("report-memo-*.bin"))
