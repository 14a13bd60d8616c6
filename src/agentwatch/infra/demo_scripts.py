"""What the demo's simulated agents do: one script per session, most of them endless."""

from __future__ import annotations

from typing import Any

from agentwatch.infra.demo_agents import COMPACT_AT, Claude, Codex, Steps

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-5-20251101"
HAIKU = "claude-haiku-4-5-20251001"
GPT = "gpt-5-codex"

LOOP_COMMAND = "python -m pytest tests/test_invoice.py -q"
LOOP_ERROR = (
    "Exit code 1\n"
    "F...........                                                    [100%]\n"
    "FAILED tests/test_invoice.py::test_total_rounds_half_even - "
    "AssertionError: assert Decimal('10.01') == Decimal('10.00')\n"
    "1 failed, 11 passed in 0.41s"
)


def numbered(path: str, n: int) -> str:
    """A Read result: numbered lines, as Claude Code shows them."""
    stem = path.rsplit("/", 1)[-1].split(".", maxsplit=1)[0]
    body = [
        f"def {stem}_{i}(value):" if i % 6 == 1 else f"    step_{i} = value  # {stem}"
        for i in range(1, n + 1)
    ]
    return "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(body, 1))


def read(c: Claude, cwd: str, rel: str, say: str | None = None) -> Steps:
    """Claude reads a file."""
    n = c.stage.rng.randint(30, 120)
    path = f"{cwd}/{rel}"
    text = numbered(path, n)
    extra = {
        "type": "text",
        "file": {"filePath": path, "content": text, "numLines": n, "startLine": 1, "totalLines": n},
    }
    yield from c.tool("Read", {"file_path": path}, text, extra, say=say, took=0.3)


def edit(c: Claude, cwd: str, rel: str, old: str, new: str, say: str | None = None) -> Steps:
    """Claude edits a file, successfully."""
    path = f"{cwd}/{rel}"
    start = c.stage.rng.randint(10, 120)
    patch = [
        {
            "oldStart": start,
            "oldLines": 2,
            "newStart": start,
            "newLines": 3,
            "lines": [f"     {old}", f"-    {old}", f"+    {new}", f"+    # {rel}"],
        }
    ]
    extra = {
        "filePath": path,
        "oldString": old,
        "newString": new,
        "originalFile": None,
        "structuredPatch": patch,
        "userModified": False,
        "replaceAll": False,
    }
    text = f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet."
    yield from c.tool(
        "Edit",
        {"file_path": path, "old_string": old, "new_string": new},
        text,
        extra,
        say=say,
        took=0.4,
    )


def write(c: Claude, cwd: str, rel: str, lines: int, say: str | None = None) -> Steps:
    """Claude creates a file."""
    path = f"{cwd}/{rel}"
    content = "\n".join(f"// {rel} line {i}" for i in range(lines))
    extra: dict[str, Any] = {
        "type": "create",
        "filePath": path,
        "content": content,
        "structuredPatch": [],
        "originalFile": None,
    }
    yield from c.tool(
        "Write",
        {"file_path": path, "content": content},
        f"File created successfully at: {path}",
        extra,
        say=say,
        took=0.3,
    )


def bash(c: Claude, command: str, out: str, say: str | None = None, took: float = 2.0) -> Steps:
    """Claude runs a command that succeeds."""
    extra = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
    yield from c.tool(
        "Bash", {"command": command, "description": command[:40]}, out, extra, say=say, took=took
    )


def bash_fails(c: Claude, command: str, error: str, say: str | None = None) -> Steps:
    """Claude runs a command that fails (the result is marked as an error)."""
    yield from c.tool(
        "Bash",
        {"command": command, "description": "Run the invoice tests"},
        error,
        f"Error: {error}",
        say=say,
        error=True,
        took=1.2,
        out=c.stage.rng.randint(60, 160),
    )


def delegate(
    c: Claude, agent_type: str, description: str, prompt: str, work: Any, owner: str
) -> Steps:
    """The main thread spawns a sub-agent with Task, waits for it, and gets its report."""
    st = c.stage
    sub, block = c.subagent(agent_type, description, prompt, HAIKU)
    yield from c.respond(
        [{"type": "text", "text": f"I'll have an agent {description.lower()}."}, block],
        st.rng.randint(150, 400),
    )
    sub.log.prompt(st.t, prompt, parentUuid=None)
    started = st.t
    task = st.spawn(work(sub), owner, st.t + 1.0)
    yield from st.wait(task)
    last = sub.last
    report = "Summary: the relevant code paths are listed above, with line numbers."
    extra: dict[str, Any] = {
        "status": "completed",
        "prompt": prompt,
        "agentId": sub.log.agent_id,
        "agentType": agent_type,
        "content": [{"type": "text", "text": report}],
        "totalDurationMs": int((st.t - started) * 1000),
        "totalTokens": last.cache_read + last.cache_write + last.inp + last.out if last else 0,
        "totalToolUseCount": sub.calls,
        "usage": last.usage() if last else {},
    }
    tid = block["id"]
    c.log.result(st.t, tid, report, extra)
    c.fresh += 600
    yield 1.5


def explore(files: list[str], cwd: str, pattern: str) -> Any:
    """A read-only Explore sub-agent: glob, grep, read a few files, report."""

    def work(sub: Claude) -> Steps:
        rng = sub.stage.rng
        names = [f"{cwd}/{f}" for f in files]
        glob = {
            "filenames": names,
            "numFiles": len(names),
            "durationMs": rng.randint(5, 40),
            "truncated": False,
        }
        yield from sub.tool("Glob", {"pattern": "**/*.py"}, "\n".join(names), glob, took=0.2)
        grep = {"mode": "files_with_matches", "filenames": names[:2], "numFiles": 2}
        yield from sub.tool(
            "Grep", {"pattern": pattern, "path": cwd}, "\n".join(names[:2]), grep, took=0.3
        )
        for f in rng.sample(files, k=min(3, len(files))):
            yield from read(sub, cwd, f)
        yield from sub.say(
            f"Found {pattern} in {len(files)} files; the entry points are listed above."
        )

    return work


def shop_api(c: Claude, owner: str) -> Steps:
    """A productive session: explore, read, edit, test, with a sub-agent now and then."""
    rng, cwd = c.stage.rng, c.log.cwd
    files = [
        "src/shop/api/orders.py",
        "src/shop/db/queries.py",
        "src/shop/api/pagination.py",
        "src/shop/models.py",
    ]
    asks = [
        "Add cursor pagination to GET /orders and cover it with tests",
        "Now make the page size configurable, max 200",
        "Return a next_cursor of null on the last page",
        "Add an index for the orders query you wrote",
    ]
    k = 0
    while True:
        yield from c.human(asks[k % len(asks)])
        if k % 2 == 0:
            work = explore(files, cwd, "def list_orders")
            yield from delegate(
                c,
                "Explore",
                "Find the order listing code",
                "Find where orders are listed and paginated.",
                work,
                owner,
            )
        for rel in rng.sample(files, k=2):
            yield from read(c, cwd, rel, say=f"Let me look at {rel.rsplit('/', 1)[-1]}.")
            yield from edit(c, cwd, rel, f"limit = {k + 50}", f"limit = page_size({k})")
        if k == 0:
            yield from write(
                c, cwd, "tests/test_pagination.py", 48, say="Adding tests for the cursor."
            )
        passed = 41 + 3 * k + rng.randint(0, 2)
        yield from bash(
            c,
            "python -m pytest -q",
            f"{passed} passed in {rng.uniform(1.2, 3.9):.2f}s",
            say="Running the suite.",
        )
        yield from c.say(f"Done: step {k + 1} is in place and all {passed} tests pass.")
        if c.context > COMPACT_AT:
            yield from c.compact("Summary: pagination work on the orders endpoint; tests pass.")
        yield rng.uniform(40.0, 80.0)  # the person reads the diff
        k += 1


def web_ui(c: Claude, owner: str) -> Steps:
    """A front-end session: new components, builds, a reviewing sub-agent."""
    rng, cwd = c.stage.rng, c.log.cwd
    pages = ["Settings", "Billing", "Team", "Tokens", "Audit"]
    k = 0
    while True:
        page = pages[k % len(pages)]
        yield from c.human(f"Build the {page} page with the same layout as Profile")
        yield from read(c, cwd, "src/pages/Profile.tsx", say="Reading the Profile page first.")
        yield from write(
            c,
            cwd,
            f"src/pages/{page}{k or ''}.tsx",
            rng.randint(60, 140),
            say=f"Creating the {page} page.",
        )
        yield from edit(
            c, cwd, "src/routes.tsx", "const routes = [", f"const routes = [{page.lower()}Route,"
        )
        out = (
            f"vite v5.4.2 building for production...\n✓ {310 + 7 * k} modules transformed.\n"
            f"✓ built in {rng.uniform(2, 6):.2f}s"
        )
        yield from bash(c, "npm run build", out, say="Building.", took=4.0)
        if k % 3 == 1:
            work = explore(
                [f"src/pages/{page}{k or ''}.tsx", "src/components/Form.tsx", "src/routes.tsx"],
                cwd,
                "aria-",
            )
            yield from delegate(
                c,
                "general-purpose",
                "Review the form for accessibility",
                "Check labels and focus order.",
                work,
                owner,
            )
        yield from c.say(f"The {page} page is built and wired into the router.")
        if c.context > COMPACT_AT:
            yield from c.compact("Summary: pages built so far, all routed; the build passes.")
        yield rng.uniform(45.0, 90.0)
        k += 1


def billing_loop(c: Claude, owner: str) -> Steps:  # noqa: ARG001 (same signature as the others)
    """The session that falls into a loop: the same failing test run, over and over, no edits."""
    rng, cwd = c.stage.rng, c.log.cwd
    yield from c.human(
        "The invoice total is off by a cent for some currencies. Fix it and make the tests pass."
    )
    yield from read(c, cwd, "src/billing/invoice.py", say="Let me read the invoice code.")
    yield from bash_fails(c, LOOP_COMMAND, LOOP_ERROR, say="First, the failing test.")
    err = "String to replace not found in file.\nString: return round(total, 2)"
    yield from c.tool(
        "Edit",
        {
            "file_path": f"{cwd}/src/billing/invoice.py",
            "old_string": "return round(total, 2)",
            "new_string": "return total.quantize(CENT, ROUND_HALF_EVEN)",
        },
        err,
        f"Error: {err}",
        say="Switching to banker's rounding.",
        error=True,
        took=0.3,
    )
    while True:
        yield from bash_fails(
            c, LOOP_COMMAND, LOOP_ERROR, say="Let me run the test again to see if it passes now."
        )
        yield rng.uniform(6.0, 10.0)
        if c.context > COMPACT_AT:
            yield from c.compact("Summary: the invoice rounding test fails; retrying it.")


def docs_site(c: Claude, owner: str) -> Steps:  # noqa: ARG001
    """An older Claude Code (placeholder output counts while streaming) with long pauses."""
    rng, cwd = c.stage.rng, c.log.cwd
    pages = ["docs/index.md", "docs/install.md", "docs/api.md", "docs/faq.md"]
    k = 0
    while True:
        page = pages[k % len(pages)]
        yield from c.human(f"Tighten the wording in {page}")
        yield from read(c, cwd, page)
        yield from edit(c, cwd, page, "In order to", "To")
        yield from bash(
            c,
            "mkdocs build --strict",
            f"INFO    -  Documentation built in {rng.uniform(0.6, 1.8):.2f} seconds",
            took=3.0,
        )
        yield from c.say(f"{page} is shorter and the site builds cleanly.")
        yield rng.uniform(90.0, 180.0)
        k += 1


def gateway_earlier(c: Claude, owner: str) -> Steps:  # noqa: ARG001
    """A session from earlier today that finished."""
    cwd = c.log.cwd
    yield from c.human("Add request ids to the gateway logs")
    yield from read(c, cwd, "gateway/middleware.go")
    yield from edit(
        c, cwd, "gateway/middleware.go", "log.Printf(", 'log.Printf("rid=%s ", rid); log.Printf('
    )
    yield from bash(c, "go test ./...", "ok  \tgateway\t0.812s", took=5.0)
    yield from c.say("Request ids are logged on every line; tests pass.")


def pipeline(x: Codex, owner: str, spawn_child: Any) -> Steps:
    """A Codex session: shell commands, patches, a collab sub-agent on its first task."""
    st = x.stage
    rng = st.rng
    tasks = [
        ("Make the CSV loader accept ISO week dates", "src/pipeline/load.py", "parse_date"),
        (
            "Stream the parquet export instead of building it in memory",
            "src/pipeline/export.py",
            "to_parquet",
        ),
        ("Retry the S3 upload on throttling", "src/pipeline/upload.py", "put_object"),
    ]
    k = 0
    while True:
        text, rel, symbol = tasks[k % len(tasks)]
        yield from x.task(text)
        yield from x.shell(
            f"rg -n {symbol} src", f"{rel}:{rng.randint(10, 90)}:def {symbol}(value):"
        )
        if k == 0:
            child = spawn_child(x)
            st.spawn(helper(child), owner, st.t + 1.5)
        yield from x.shell(
            f"sed -n '1,120p' {rel}", f"import csv\n\ndef {symbol}(value):\n    ...", took=0.4
        )
        diff = (
            f"@@ -{rng.randint(10, 80)},3 +{rng.randint(10, 80)},4 @@\n def {symbol}(value):\n"
            "-    return value\n+    value = value.strip()\n+    return value"
        )
        yield from x.patch(rel, diff)
        passed = 120 + k * 4 + rng.randint(0, 3)
        yield from x.shell("pytest -q", f"{passed} passed in {rng.uniform(3, 9):.2f}s", took=4.0)
        yield from x.finish(f"Done: {text.lower()}; {passed} tests pass.")
        yield rng.uniform(45.0, 90.0)
        k += 1


def helper(x: Codex) -> Steps:
    """The Codex sub-agent: looks around for a while, reports, ends."""
    rng = x.stage.rng
    yield from x.task("Map every caller of the date parser and report back.")
    for cmd in (
        "rg -n parse_date",
        "rg -n 'load_csv\\(' src tests",
        "sed -n '1,80p' src/pipeline/dates.py",
    ):
        yield from x.shell(cmd, f"src/pipeline/x.py:{rng.randint(1, 99)}: match", took=0.6)
    yield from x.finish(
        "Three callers: load.py, dates.py and the nightly job; none passes week dates yet."
    )
