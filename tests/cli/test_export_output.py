"""`report --output`: atomic, mode 0600, never over an existing file without `--force`; and
the privacy rules of `--include-text` / `--no-redact` (CLI_CONTRACT sections 1 and 6)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.fixtures.exports import SECRET_ENV, SECRET_PROMPT_KEY, SHOP, ExportTree, build

Agentwatch = Callable[..., Run]


@pytest.fixture
def tree(tmp_path: Path) -> ExportTree:
    return build(tmp_path / "logs")


def one_line_error(res: Run, code: int, says: str) -> None:
    assert res.code == code, (res.out, res.err)
    assert "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("agentwatch"), lines[0]
    assert says in lines[0], lines[0]


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "html", "table"])
def test_output_file_has_the_stdout_content_and_mode_0600(
    agentwatch: Agentwatch, tree: ExportTree, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "exports" / f"report.{fmt}"
    out.parent.mkdir()
    os.umask(0o022)  # a permissive umask must not leak into the file's mode
    res = agentwatch("report", "--format", fmt, "--output", str(out), *tree.args())
    assert res.code == 0, res.err
    assert res.out == ""  # the document went to the file
    assert str(out) in res.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left behind
    data = out.read_text()
    if fmt == "json":
        assert json.loads(data)["sessions"][0]["session_id"] == SHOP
    else:
        assert SHOP[:8] in data


def test_existing_file_is_refused_without_force(
    agentwatch: Agentwatch, tree: ExportTree, tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    out.write_text("precious notes\n")
    out.chmod(0o644)
    res = agentwatch("report", "--format", "md", "-o", str(out), *tree.args())
    one_line_error(res, 1, "exists")
    assert "--force" in res.err
    assert out.read_text() == "precious notes\n"  # untouched
    assert res.out == ""

    res = agentwatch("report", "--format", "md", "-o", str(out), "--force", *tree.args())
    assert res.code == 0, res.err
    assert out.read_text().startswith("## agentwatch report")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a new file, not the old one rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "logs", "report.md"]  # no temp


def test_a_symlink_in_the_way_is_refused_and_left_alone(
    agentwatch: Agentwatch, tree: ExportTree, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "report.csv"
    link.symlink_to(target)
    res = agentwatch("report", "--format", "csv", "-o", str(link), *tree.args())
    one_line_error(res, 1, "exists")
    assert target.read_text() == "keep me"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere")
    res = agentwatch("report", "--format", "csv", "-o", str(dangling), *tree.args())
    one_line_error(res, 1, "exists")
    assert not (tmp_path / "nowhere").exists()


def test_unwritable_output_is_one_line_exit_1(
    agentwatch: Agentwatch, tree: ExportTree, tmp_path: Path
) -> None:
    res = agentwatch(
        "report", "--format", "csv", "-o", str(tmp_path / "no" / "x.csv"), *tree.args()
    )
    one_line_error(res, 1, "no such directory")
    res = agentwatch("report", "--format", "csv", "-o", str(tmp_path), "--force", *tree.args())
    one_line_error(res, 1, "is a directory")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--no-redact"], "--no-redact only applies with --include-text"),
        (["--format", "md", "--no-redact"], "--no-redact only applies"),
        (["--format", "csv", "--include-text"], "--include-text needs"),
        (["--include-text"], "--include-text needs"),  # the table has no room for text
        (["--json", "--format", "csv"], "disagree"),
        (["--format", "pdf"], "pdf"),
        (["--by", "week"], "week"),
    ],
)
def test_flag_mistakes_are_usage_errors(
    agentwatch: Agentwatch, tree: ExportTree, argv: list[str], says: str
) -> None:
    res = agentwatch("report", *argv, *tree.args())
    one_line_error(res, 2, says)
    assert res.out == ""


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "html", "table"])
def test_no_text_is_exported_by_default(agentwatch: Agentwatch, tree: ExportTree, fmt: str) -> None:
    res = agentwatch("report", "--format", fmt, *tree.args())
    assert res.code == 0, res.err
    for said in ("Fix the refund rounding", "Speed up the loader", "3 passed", SECRET_PROMPT_KEY):
        assert said not in res.out, (fmt, said)


def test_include_text_redacts_secrets(agentwatch: Agentwatch, tree: ExportTree) -> None:
    res = agentwatch("report", "--json", "--include-text", *tree.args())
    assert res.code == 0, res.err
    assert "redacted 2 secret" in res.err
    doc = res.json()
    assert doc["text"] == {"included": True, "redacted": True, "secrets_redacted": 2}
    shop = next(s for s in doc["sessions"] if s["session_id"] == SHOP)
    kinds = [(t["kind"], t["agent_id"], t["tool"]) for t in shop["text"]]
    assert kinds == [
        ("prompt", None, None),
        ("tool_call", None, "Task"),
        ("prompt", "a1b2c3d", None),  # the sub-agent's task, under its id
        ("reply", "a1b2c3d", None),
        ("reply", None, None),
        ("tool_call", None, "Edit"),
        ("tool_result", None, "Edit"),
    ]
    prompt = shop["text"][0]["text"]
    assert prompt == "Fix the refund rounding. My key is [REDACTED:anthropic-key]"
    assert shop["text"][-1]["text"] == "The file was updated. STRIPE_SECRET=[REDACTED:assignment]"
    assert "new_string:\n  b\n  c" in shop["text"][5]["text"]  # tool input, readable
    codex = next(s for s in doc["sessions"] if s["agent"] == "codex")
    assert [(t["kind"], t["text"]) for t in codex["text"]][::3] == [
        ("prompt", "Speed up the loader."),
        ("reply", "Done: the loader is faster."),
    ]
    everything = res.out
    assert SECRET_PROMPT_KEY not in everything
    assert SECRET_ENV not in everything


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_include_text_in_documents(agentwatch: Agentwatch, tree: ExportTree, fmt: str) -> None:
    res = agentwatch("report", "--format", fmt, "--include-text", *tree.args())
    assert res.code == 0, res.err
    assert "Fix the refund rounding" in res.out
    assert "Speed up the loader." in res.out
    assert "[REDACTED:anthropic-key]" in res.out
    assert SECRET_PROMPT_KEY not in res.out
    assert "were redacted" in res.out


def test_no_redact_must_be_explicit_and_says_so(agentwatch: Agentwatch, tree: ExportTree) -> None:
    res = agentwatch("report", "--format", "md", "--include-text", "--no-redact", *tree.args())
    assert res.code == 0, res.err
    assert SECRET_PROMPT_KEY in res.out
    assert SECRET_ENV in res.out
    assert "Not redacted" in res.out
    res = agentwatch("report", "--json", "--include-text", "--no-redact", *tree.args())
    assert res.json()["text"]["redacted"] is False
