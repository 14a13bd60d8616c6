"""`agentwatch demo`: the app over the simulator (pilot), the empty state's offer, and the
installed console script in a real terminal (a pty)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from agentwatch.core.status import SessionStatus
from agentwatch.infra.demo import PREFIX, Demo
from agentwatch.infra.feed import Feed
from agentwatch.ui.app import make_app
from agentwatch.ui.screens.confirm import Confirm
from agentwatch.ui.widgets.sessions import SessionsTable, session_key
from tests.conftest import BIN, Run
from tests.ui.test_app import NOW as FIXED_NOW
from tests.ui.test_app import loaded, make, summary


async def until(pilot, cond: Callable[[], bool], what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


# ---- the demo app, piloted --------------------------------------------------------------------
async def test_demo_app_shows_the_sessions_and_kills_the_dummy_agent(tmp_path: Path) -> None:
    # 90 s of simulated history: the loop alert is already up when the view opens
    with Demo.create(parent=tmp_path, seed=11, prefill=90.0) as demo:
        demo.start(thread=False)
        assert demo.dummy is not None
        ws = demo.workspace(env={"AGENTWATCH_STATE_DIR": str(tmp_path / "state")})
        app = make_app(
            ws,
            feed=lambda deliver: Feed(ws, deliver, processes=demo.processes),
            banner=f"DEMO · simulated agents in {demo.root}",
            flush_interval=0.05,
        )
        async with app.run_test(size=(160, 45)) as pilot:
            table = app.query_one(SessionsTable)
            await until(pilot, lambda: table.row_count == 6, "the six demo sessions")
            assert str(demo.root) in str(app.query_one("#banner").render())
            agents = {str(s.agent) for s in table.sessions.values()}
            assert agents == {"claude-code", "codex"}
            assert any(s.subagents for s in table.sessions.values())
            loop = next(s for s in table.sessions.values() if s.session_id == demo.sim.loop_session)
            assert loop.status is SessionStatus.LOOPING
            await until(pilot, lambda: loop.session_id in table.procs, "the dummy's pid")
            assert table.procs[loop.session_id].pid == demo.dummy.pid

            table.move_cursor(row=table.get_row_index(session_key(loop)))
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
            assert isinstance(app.screen, Confirm)
            assert str(demo.dummy.pid) in app.screen.body
            await pilot.press("y")
            await until(pilot, lambda: demo.dummy.poll() is not None, "the dummy to die")
            assert demo.dummy.returncode == -signal.SIGTERM
            await until(
                pilot,
                lambda: any("Stopped pid" in n.message for n in app._notifications),
                "the result",
            )
            await until(pilot, lambda: loop.session_id not in table.procs, "the pid to go")
        assert demo.processes() == []


# ---- the empty state offers it ----------------------------------------------------------------
async def test_the_empty_state_offers_the_demo_and_d_leaves_for_it() -> None:
    app, _ = make([], offer_demo=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.loaded, "the first snapshot")
        app.flush()
        text = str(app.query_one("#empty").render())
        assert "Press d for the demo" in text
        await pilot.press("d")
        await pilot.pause()
    assert app.demo_requested
    assert app.return_code == 0


async def test_d_does_nothing_when_there_are_sessions_or_no_offer() -> None:
    app, _ = make([summary(0, last=FIXED_NOW)], offer_demo=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert app.is_running
    assert not app.demo_requested
    plain, _ = make([])
    async with plain.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: plain.loaded, "the first snapshot")
        plain.flush()
        assert "demo" not in str(plain.query_one("#empty").render())
        await pilot.press("d")
        await pilot.pause()
        assert plain.is_running
    assert not plain.demo_requested


# ---- the console script ---------------------------------------------------------------------
def test_demo_without_a_terminal_is_a_usage_error(agentwatch: Callable[..., Run]) -> None:
    res = agentwatch("demo")
    assert res.code == 2
    assert res.out == ""
    assert res.err.count("\n") == 1
    assert "needs a terminal" in res.err


def test_demo_help_says_what_it_does(agentwatch: Callable[..., Run]) -> None:
    res = agentwatch("demo", "--help")
    assert res.code == 0
    assert "temporary folder" in res.out
    assert "removed on exit" in res.out


class Terminal:
    """The installed `agentwatch` in a pseudo-terminal, its output drained on a thread."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 40, cols: int = 120):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            [str(BIN), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        self.out = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.out += data
            elif self.proc.poll() is not None:
                return

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        for p in [*self._tree(), self.proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        os.close(self.master)

    def _tree(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@pytest.fixture
def terminal(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        started.append(Terminal(list(args), {**cli_env, "TMPDIR": str(temp)}))
        return started[-1]

    yield start
    for t in started:
        t.close()


def wait(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def demo_dirs(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "tmp").glob(PREFIX + "*"))


def dummies(t: Terminal) -> list[int]:
    return [p for p in t._tree() if any("demo-agent.py" in a for a in psutil.Process(p).cmdline())]


def test_demo_in_a_terminal_cleans_up_after_q(terminal, tmp_path: Path) -> None:
    t = terminal("demo")
    wait(lambda: len(demo_dirs(tmp_path)) == 1, "the demo's folder")
    wait(lambda: b"billing-svc" in t.out, "the sessions on screen")
    (dummy,) = dummies(t)
    t.send("q")
    assert t.proc.wait(timeout=30) == 0
    assert demo_dirs(tmp_path) == []
    assert not psutil.pid_exists(dummy)


def test_demo_in_a_terminal_cleans_up_after_sigterm(terminal, tmp_path: Path) -> None:
    t = terminal("demo")
    wait(lambda: b"billing-svc" in t.out, "the sessions on screen")
    (dummy,) = dummies(t)
    t.proc.send_signal(signal.SIGTERM)
    assert t.proc.wait(timeout=30) == 0
    assert demo_dirs(tmp_path) == []
    assert not psutil.pid_exists(dummy)


def test_bare_agentwatch_with_no_logs_opens_the_demo_on_d(terminal, tmp_path: Path) -> None:
    t = terminal()  # cli_env: an empty HOME, no agent logs anywhere
    wait(lambda: b"Press" in t.out, "the empty state")
    deadline = time.monotonic() + 30
    while not demo_dirs(tmp_path):  # `d` counts once the first (empty) snapshot is in
        assert time.monotonic() < deadline, "d did not open the demo"
        assert t.proc.poll() is None
        t.send("d")
        time.sleep(0.3)
    wait(lambda: b"billing-svc" in t.out, "the demo's sessions")
    t.send("q")
    assert t.proc.wait(timeout=30) == 0
    assert demo_dirs(tmp_path) == []
