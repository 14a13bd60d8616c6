"""Kill and suspend from the TUI act on a real child process, after a confirmation."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from agentwatch.core.procs import AgentProcess, Confidence, ProcStatus, SessionMatch
from agentwatch.core.records import Agent
from agentwatch.infra.feed import Processes
from agentwatch.ui.screens.confirm import Confirm
from tests.ui.test_app import NOW, loaded, make, summary


@pytest.fixture
def child():  # type: ignore[no-untyped-def]
    # a child that idles until the test ends it
    p = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait(120)"])
    yield p
    p.kill()
    p.wait(timeout=10)


def as_agent(p: subprocess.Popen[bytes], session_id: str) -> AgentProcess:
    ps = psutil.Process(p.pid)
    return AgentProcess(
        p.pid,
        Agent.CLAUDE_CODE,
        ps.name(),
        tuple(ps.cmdline()),
        ps.cwd(),
        ps.username(),
        ps.create_time(),
        0.0,
        0,
        (),
        ProcStatus.SLEEPING,
        None,
        False,
        SessionMatch(session_id, Confidence.EXACT, "argv"),
    )


async def until(pilot, cond, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await pilot.pause(0.05)


async def test_kill_asks_first_and_no_leaves_it_running(child):
    s = summary(0, last=NOW)
    app, feeds = make([s])
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        feeds[0].deliver(Processes((as_agent(child, s.session_id),)))
        await pilot.pause()
        app.flush()
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        assert str(child.pid) in app.screen.body
        await pilot.press("enter")  # the focused default button is No
        await pilot.pause()
        assert not isinstance(app.screen, Confirm)
        assert child.poll() is None


async def test_kill_confirmed_terminates_the_process(child):
    s = summary(0, last=NOW)
    app, feeds = make([s])
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        feeds[0].deliver(Processes((as_agent(child, s.session_id),)))
        await pilot.pause()
        await pilot.press("k", "y")
        await until(pilot, lambda: child.poll() is not None, "the child to exit")
        await until(
            pilot,
            lambda: any("Stopped pid" in n.message for n in app._notifications),
            "the result notification",
        )
    assert child.returncode == -15  # SIGTERM, not SIGKILL


async def test_suspend_then_resume(child):
    s = summary(0, last=NOW)
    app, feeds = make([s])
    proc = psutil.Process(child.pid)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        agent = as_agent(child, s.session_id)
        feeds[0].deliver(Processes((agent,)))
        await pilot.pause()
        await pilot.press("s")
        await until(pilot, lambda: proc.status() == psutil.STATUS_STOPPED, "SIGSTOP")
        stopped = AgentProcess(
            **{
                **{f: getattr(agent, f) for f in agent.__dataclass_fields__},
                "status": ProcStatus.SUSPENDED,
            }
        )
        feeds[0].deliver(Processes((stopped,)))
        await pilot.pause()
        app.flush()
        await pilot.pause()
        assert "suspended" in str(app.sessions_table().get_row_at(0)[0].text)
        await pilot.press("s")
        await until(pilot, lambda: proc.status() != psutil.STATUS_STOPPED, "SIGCONT")
