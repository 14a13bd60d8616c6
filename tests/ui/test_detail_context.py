"""The detail screen's "Context (est.)" section: filled by a worker, refreshed while live."""

from __future__ import annotations

import contextlib
import dataclasses
import time

from textual.worker import WorkerFailed

from agentwatch.core.alerts import Alert, AlertKind, Severity
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary, SubagentSummary
from agentwatch.infra.context import ContextTracker, LogFile
from agentwatch.infra.feed import SessionExtras
from agentwatch.infra.tokenizer import CL100K, Tokenizer, TokenizerError
from agentwatch.ui.screens.detail import DetailScreen
from tests.fixtures.claude import ClaudeTree, Transcript, ts, usage
from tests.ui.test_app import NOW, account, loaded, make, summary

SID = "7c1e2a90-5b3d-4f6e-9a18-2d4c6b8e0f13"
CWD = "/home/dev/shop-api"


def words(text: str) -> int:
    return len(text.split())


def write_session(tree: ClaudeTree) -> tuple[Transcript, Transcript]:
    main = tree.main(SID, CWD, version="2.1.90")
    main.user("fix the cart", ts(0))
    for n in range(3):
        block = {
            "type": "tool_use",
            "id": f"t{n}",
            "name": "Read",
            "input": {"file_path": f"{CWD}/src/big.py"},
        }
        main.assistant(f"m{n}", f"r{n}", usage(1, 5), ts(1, n), content=[block])
        result = {"type": "text", "file": {"filePath": f"{CWD}/src/big.py"}}
        main.tool_result(f"t{n}", ts(1, n + 1), result, text="word " * 4000)
    sub = tree.subagent(main, "b4e91d2")
    sub.user("find refunds", ts(2))
    for n in range(2):
        text = {"type": "text", "text": "found " * 250}
        sub.assistant(f"s{n}", f"q{n}", usage(1, 3), ts(2, n), content=[text])
    return main, sub


def session_of(main: Transcript, sub: Transcript, status: SessionStatus) -> SessionSummary:
    base = summary(0, last=NOW, status=status, project=CWD)
    sub_summary = SubagentSummary("b4e91d2", "Explore", "find", None, account(10, 0.1), None, None)
    return dataclasses.replace(
        base,
        session_id=SID,
        files=(str(main.path), str(sub.path)),
        subagents=(sub_summary,),
    )


def counted(s: SessionSummary) -> ContextTracker:
    logs = [LogFile(s.files[0], None), LogFile(s.files[1], "b4e91d2")]
    return ContextTracker(Agent.CLAUDE_CODE, logs, count=words)


async def settle(pilot, screen: DetailScreen, want: str) -> str:  # type: ignore[no-untyped-def]
    """The section's text once it shows `want` (an upper bound of 15 s on a loaded machine;
    the caller asserts what it needs)."""
    text = ""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(WorkerFailed):  # the screen shows a failure; tests read it
            await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.02)
        text = str(screen.query_one("#context").render())
        if want in text:
            break
    return text


async def test_the_section_ranks_consumers_and_shows_placeholder_estimates(
    claude_tree: ClaudeTree,
) -> None:
    main, sub = write_session(claude_tree)
    s = session_of(main, sub, SessionStatus.IDLE)
    app, _ = make([s])
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        reread = Alert(
            "reread_loop-1",
            ThreadKey(Agent.CLAUDE_CODE, SID),
            AlertKind.REREAD_LOOP,
            Severity.WARNING,
            NOW - 60,
            NOW - 30,
            None,
            "re-read `big.py` 2 times in 1 min with no edit in between; 9k tokens",
            9000,
            {"rereads": 2, "files": {f"{CWD}/src/big.py": 2}},
        )
        screen = DetailScreen(s, NOW, SessionExtras((), (), (reread,)), context=counted)
        await app.push_screen(screen)
        text = await settle(pilot, screen, "Top context consumers")
        assert "Read src/big.py x3: ~12k tokens est." in text
        alerts = str(screen.query_one("#alerts").render())
        assert "the re-reads put ~8k tokens est. into the context" in alerts
        assert "sub-agent b4e91d2" in text
        assert "never part of the exact totals" in text
        cell = screen.query_one("#subagents").get_cell("b4e91d2", "output")  # type: ignore[attr-defined]
        assert cell == "5 (~500 est.)"  # the logged number, and beside it the estimate


async def test_a_live_session_refreshes_and_the_final_line_replaces_the_estimate(
    claude_tree: ClaudeTree,
) -> None:
    main, sub = write_session(claude_tree)
    s = session_of(main, sub, SessionStatus.ACTIVE)
    app, _ = make([s])
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        screen = DetailScreen(s, NOW, None, context=counted)
        screen.context_refresh = 0.05
        await app.push_screen(screen)
        await settle(pilot, screen, "Top context consumers")
        main.assistant(
            "live", "rl", usage(4, 8), ts(5), content=[{"type": "text", "text": "so " * 300}]
        )
        screen.refresh_context()  # what its timer does every `context_refresh` seconds
        text = await settle(pilot, screen, "main thread has no final line yet")
        assert "~300 output tokens est. so far (the log says 8, a placeholder)" in text
        final = main.assistant("live", "rl", usage(4, 377), ts(5, 9), content=[])
        final["message"]["stop_reason"] = "end_turn"
        main.put({**final, "uuid": "final"})
        screen.refresh_context()
        text = await settle(pilot, screen, "(logged 392)")
        assert "main thread has no final line" not in text
        assert "(logged 392)" in text  # 3 x 5 + 377: the exact figure


async def test_the_real_tokenizer_fills_the_section_from_the_app(claude_tree: ClaudeTree) -> None:
    main, sub = write_session(claude_tree)
    s = session_of(main, sub, SessionStatus.IDLE)
    app, _ = make([s])
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        text = await settle(pilot, screen, "Top context consumers")
        assert "Read src/big.py x3: ~" in text
        assert "Counted with tiktoken cl100k_base" in text


async def test_nothing_to_read_and_unsupported_agents_say_so() -> None:
    app, _ = make([summary(0, last=NOW)])  # its log file does not exist
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        gone = DetailScreen(summary(0, last=NOW), NOW)
        await app.push_screen(gone)
        await pilot.pause()
        assert "No log file of this session is left" in str(gone.query_one("#context").render())
        other = dataclasses.replace(summary(1, last=NOW), agent=Agent.GEMINI)
        screen = DetailScreen(other, NOW)
        await app.push_screen(screen)
        await pilot.pause()
        assert "not available for gemini" in str(screen.query_one("#context").render())


async def test_a_tokenizer_that_cannot_load_says_why(claude_tree: ClaudeTree) -> None:
    main, sub = write_session(claude_tree)
    s = session_of(main, sub, SessionStatus.IDLE)

    def broken(name: str):  # type: ignore[no-untyped-def]
        raise TokenizerError(f"the {name} vocabulary does not match tiktoken's published hash")

    def tracker(s: SessionSummary) -> ContextTracker:
        tok = Tokenizer(CL100K, loader=broken)
        return ContextTracker(Agent.CLAUDE_CODE, [LogFile(s.files[0], None)], tokenizer=tok)

    app, _ = make([s])
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        screen = DetailScreen(s, NOW, None, context=tracker)
        await app.push_screen(screen)
        text = await settle(pilot, screen, "No estimates")
        assert "No estimates: the cl100k_base vocabulary does not match" in text
