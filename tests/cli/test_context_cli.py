"""`agentwatch context SESSION`: estimates from real logs, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.fixtures.claude import ClaudeTree, ts, usage
from tests.fixtures.codex import CODEX, Rollout
from tests.fixtures.codex import ts as cts

SID = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
CWD = "/home/dev/shop-api"
TID = "019a1b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b"
# The same `main` the console script runs, with the command's module imported explicitly.
ENTRY = "import agentwatch.cli_context; from agentwatch.cli import main; main()"

Context = Callable[..., Run]


@pytest.fixture
def context(cli_env: dict[str, str]) -> Context:
    def run(*args: str) -> Run:
        p = subprocess.run(
            [sys.executable, "-c", ENTRY, "context", *args],
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=120,
            check=False,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    return run


def claude_session(tree: ClaudeTree) -> None:
    m = tree.main(SID, CWD, version="2.1.90")
    m.user("fix the cart", ts(0))
    text = "\n".join(f"{i:>6}\tdef f{i}(x): return x * {i}" for i in range(300))
    for n in range(6):  # the same file, unchanged, six times: a re-read loop
        block = {
            "type": "tool_use",
            "id": f"t{n}",
            "name": "Read",
            "input": {"file_path": f"{CWD}/src/big.py"},
        }
        m.assistant(f"m{n}", f"r{n}", usage(3, 40, 0, 0, 1000 * n), ts(1, 5 * n), content=[block])
        file = {"filePath": f"{CWD}/src/big.py"}
        m.tool_result(f"t{n}", ts(1, 5 * n + 1), {"type": "text", "file": file}, text=text)
    m.assistant("live", "rl", usage(3, 8), ts(2), content=[{"type": "text", "text": "So " * 200}])


def test_text_names_the_top_consumers_as_estimates(
    claude_tree: ClaudeTree, context: Context
) -> None:
    claude_session(claude_tree)
    res = context(SID[:8], "--claude-dir", str(claude_tree.root))
    assert res.code == 0, res.err
    assert "Traceback" not in res.err
    out = res.out
    assert "All figures are estimates (tiktoken cl100k_base)" in out
    first = next(line for line in out.splitlines() if line.strip().startswith("1."))
    assert first.strip().startswith("1. Read src/big.py x6: ~")
    assert first.endswith("tokens est.")
    assert "7 responses without a final line log 248 output tokens (a lower bound)" in out
    assert "no final line yet" not in out  # an old session is not streaming any more
    assert "(~" in out
    assert "tokens est. re-read)" in out  # fed to the re-read alert


def test_a_live_sessions_streaming_response_is_estimated(
    claude_tree: ClaudeTree, context: Context
) -> None:
    claude_session(claude_tree)
    m = claude_tree.main(SID, CWD, version="2.1.90")
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    m.assistant("now", "rn", usage(3, 8), now, content=[{"type": "text", "text": "Hm " * 90}])
    res = context(SID, "--claude-dir", str(claude_tree.root))
    assert res.code == 0, res.err
    assert "latest response of the main thread has no final line yet: ~" in res.out
    assert "(the log says 8, a placeholder)" in res.out


def test_json_document(claude_tree: ClaudeTree, context: Context) -> None:
    claude_session(claude_tree)
    res = context(SID, "--claude-dir", str(claude_tree.root), "--json", "--top", "1")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["schema_version"] == 1
    assert (doc["agent"], doc["session_id"], doc["project"]) == ("claude-code", SID, CWD)
    assert doc["estimate"] is True
    assert doc["encoding"] == "cl100k_base"
    (top,) = doc["top"]
    assert (top["kind"], top["label"], top["count"]) == ("read", "Read src/big.py", 6)
    assert top["tokens_est"] > 6 * 1000  # 300 numbered lines of code, six times
    assert doc["by_kind_est"]["read"] == top["tokens_est"]
    (main,) = doc["threads"]
    assert main["agent_id"] is None
    assert main["output_tokens_logged"] == 6 * 40 + 8
    (live,) = doc["streaming"]
    assert (live["response_id"], live["output_logged"]) == ("live", 8)
    assert live["output_est"] >= 200
    (alert,) = doc["reread_alerts"]
    per_read = top["tokens_est"] / top["count"]
    assert alert["reread_tokens_est"] / per_read in {1.0, 2.0, 3.0, 4.0, 5.0}


def test_codex_reads_through_the_shell(tmp_path: Path, context: Context) -> None:
    home = tmp_path / "codex"
    r = Rollout(home / "sessions/2026/02/04" / f"rollout-2026-02-04T08-00-00-{TID}.jsonl", TID)
    r.meta(cts(0))
    r.turn(cts(0, 1), CODEX)
    r.item("message", cts(0, 2), role="user", content=[{"type": "input_text", "text": "fix it"}])
    r.shell(cts(1), "c1", ["bash", "-lc", "sed -n '1,200p' src/cart.py"])
    r.item("function_call_output", cts(1, 1), call_id="c1", output="qty = 0\n" * 100)
    res = context(TID, "--codex-dir", str(home), "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["encoding"] == "o200k_base"
    assert doc["top"][0]["label"] == "Read src/cart.py"
    assert doc["top"][0]["tokens_est"] > 100


@pytest.mark.parametrize(
    ("arg", "code", "says"),
    [("7c1e", 2, "at least 6 characters"), ("ffffffff", 1, "no session matches")],
)
def test_bad_session_is_one_line(
    claude_tree: ClaudeTree, context: Context, arg: str, code: int, says: str
) -> None:
    claude_session(claude_tree)
    res = context(arg, "--claude-dir", str(claude_tree.root))
    assert res.code == code
    assert res.out == ""
    assert len(res.err.strip().splitlines()) == 1, res.err
    assert says in res.err
    assert "Traceback" not in res.err


def test_the_console_script_has_the_command(agentwatch: Callable[..., Run]) -> None:
    # Needs `cli_context` in the import line at the bottom of agentwatch/cli.py.
    res = agentwatch("context", "--help")
    assert res.code == 0, res.err
    assert "--top" in res.out
    assert "SESSION" in res.out


def test_report_context_adds_labelled_estimates_and_leaves_totals_alone(
    claude_tree: ClaudeTree, agentwatch: Callable[..., Run]
) -> None:
    claude_session(claude_tree)
    root = ("--claude-dir", str(claude_tree.root))
    plain = agentwatch("report", "--json", *root)
    with_ctx = agentwatch("report", "--json", "--context", *root)
    assert plain.code == with_ctx.code == 0, with_ctx.err
    [a], [b] = plain.json()["sessions"], with_ctx.json()["sessions"]
    assert "context_est" not in a
    ctx = b.pop("context_est")
    assert a == b  # the exact figures do not move
    assert ctx["estimate"] is True
    top = ctx["top"][0]
    assert top["label"].endswith("src/big.py")
    assert top["count"] == 6
    assert top["tokens_est"] > 6 * 1000  # six copies of a 300-line file
    md = agentwatch("report", "--format", "md", "--context", *root)
    assert "### Context (est.)" in md.out
    assert "big.py x6" in md.out
    table = agentwatch("report", "--context", *root)
    assert "Context (est.)" in table.out
    assert "est." in table.out.split("Context (est.)")[1]


def test_log_strings_cannot_inject_markup_or_terminal_escapes(
    claude_tree: ClaudeTree, agentwatch: Callable[..., Run]
) -> None:
    cwd = "/tmp/<img src=x onerror=alert(1)>/\x1b]0;pwned\x07shop"
    m = claude_tree.main(SID, cwd, version="2.1.90")
    m.user("go", ts(0))
    block = {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": f"{cwd}/a.py"}}
    m.assistant("m1", "r1", usage(3, 40), ts(1), content=[block])
    m.tool_result("t1", ts(2), {"type": "text", "file": {"filePath": f"{cwd}/a.py"}}, text="x=1")
    root = ("--claude-dir", str(claude_tree.root))
    table = agentwatch("report", "--context", *root)
    assert table.code == 0, table.err
    assert "\x1b" not in table.out
    assert "\x07" not in table.out
    assert "pwned" in table.out  # the text stays, only the control characters go
    md = agentwatch("report", "--format", "md", "--context", *root).out
    context = md.split("### Context (est.)")[1]
    fenced = context.split("```")
    outside = fenced[0] + "".join(fenced[2::2])
    assert "\\<img" in outside  # escaped in the heading line...
    assert "<img" not in outside.replace("\\<img", "")
    assert "\x1b" not in md
    assert "Read a.py" in fenced[1]  # the estimates themselves sit in a plain-text fence
