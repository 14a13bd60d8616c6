"""`agentwatch ps/kill/suspend/resume` as a user runs them: the installed script, real processes."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.conftest import BIN, AgentSpawner, Dummy, Run

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {
    "pid": int,
    "agent": str,
    "name": str,
    "cmdline": list,
    "user": str,
    "started_at": str,
    "cpu_percent": float,
    "rss_bytes": int,
    "children": list,
    "mapping": str,
    "status": str,
}


@pytest.fixture
def sid() -> str:
    """A fresh session id: a test acting by session must never reach another run's dummies."""
    return str(uuid.uuid4())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "claude"
    (r / "projects").mkdir(parents=True)
    return r


@pytest.fixture
def aw(cli_env: dict[str, str], root: Path) -> Callable[..., Run]:
    """Run the console script with no terminal on stdin and the Claude root given."""

    def run(*args: str) -> Run:
        p = subprocess.run(
            [str(BIN), *args, "--claude-dir", str(root)],
            capture_output=True,
            text=True,
            env=cli_env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    return run


def claude(spawner: AgentSpawner, *args: str, **cfg: object) -> Dummy:
    """A dummy `claude` (npm-style bin script) with a `sleep` child."""
    exe = spawner.script("bin/claude", shebang=True)
    return spawner.start([str(exe), *args], children=[["sleep", "120"]], **cfg)


def wait_gone(d: Dummy) -> None:
    d.popen.wait(timeout=15)
    _, alive = psutil.wait_procs(
        [psutil.Process(c) for c in d.children if psutil.pid_exists(c)], 15
    )
    assert all(p.status() == psutil.STATUS_ZOMBIE for p in alive)


def status_of(pid: int) -> str:
    return str(psutil.Process(pid).status())


def test_ps_json_follows_the_contract(
    aw: Callable[..., Run], spawner: AgentSpawner, sid: str
) -> None:
    d = claude(spawner, "--resume", sid)
    res = aw("ps", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert set(doc) == {"processes"}
    for p in doc["processes"]:
        for key, typ in FIELDS.items():
            assert isinstance(p[key], typ), (key, p)
        assert p["agent"] in {"claude-code", "codex", "gemini"}
        assert p["mapping"] in {"exact", "likely", "unknown"}
        assert p["status"] in {"running", "sleeping", "suspended", "zombie"}
        assert p["cwd"] is None or isinstance(p["cwd"], str)
        assert p["session_id"] is None or isinstance(p["session_id"], str)
        assert ISO.match(p["started_at"])
        assert all(isinstance(c, int) for c in p["children"])
    ours = next(p for p in doc["processes"] if p["pid"] == d.pid)
    assert ours["agent"] == "claude-code"
    assert (ours["session_id"], ours["mapping"]) == (sid, "exact")
    assert ours["children"] == d.children
    assert ours["cmdline"][1:] == [str(spawner.tmp / "bin" / "claude"), "--resume", sid]
    assert ours["status"] in ("sleeping", "running")
    assert ours["rss_bytes"] > 0


def test_ps_table_lists_the_agent(aw: Callable[..., Run], spawner: AgentSpawner, sid: str) -> None:
    d = claude(spawner, "--session-id", sid)
    res = aw("ps")
    assert res.code == 0, res.err
    line = next(x for x in res.out.splitlines() if x.split()[0] == str(d.pid))
    assert "claude-code" in line
    assert sid in line
    assert "exact" in line


def test_kill_by_pid_with_yes(
    aw: Callable[..., Run], spawner: AgentSpawner, cli_env: dict[str, str], sid: str
) -> None:
    d = claude(spawner, "--resume", sid)
    res = aw("kill", str(d.pid), "--yes", "--grace", "1")
    assert res.code == 0, res.err
    assert f"pid {d.pid}: SIGTERM sent to 2 processes" in res.out
    wait_gone(d)
    log = Path(cli_env["XDG_STATE_HOME"]) / "agentwatch" / "agentwatch.log"
    text = log.read_text()
    assert f"signal SIGTERM pid={d.pid} session={sid} outcome=sent" in text
    assert f"pid={d.children[0]} session={sid} outcome=sent" in text


def test_kill_by_session_prefix(aw: Callable[..., Run], spawner: AgentSpawner, sid: str) -> None:
    d = claude(spawner, "--resume", sid)
    res = aw("kill", sid[:8], "--yes", "--grace", "1")
    assert res.code == 0, res.err
    wait_gone(d)


def test_kill_lists_survivors_and_exits_1_without_force(
    aw: Callable[..., Run], spawner: AgentSpawner
) -> None:
    d = claude(spawner, ignore_term=True)
    res = aw("kill", str(d.pid), "--yes", "--grace", "0.3")
    assert res.code == 1
    assert f"still running: pid {d.pid}" in res.out
    assert res.err.strip().splitlines() == [
        "agentwatch: 1 process still running; rerun with --force to SIGKILL them"
    ]
    assert status_of(d.pid) != psutil.STATUS_ZOMBIE

    res = aw("kill", str(d.pid), "--yes", "--grace", "0.3", "--force")
    assert res.code == 0, res.err
    assert f"pid {d.pid}: SIGKILL sent to 1 process" in res.out
    wait_gone(d)


def test_without_a_terminal_and_without_yes_it_refuses(
    aw: Callable[..., Run], spawner: AgentSpawner
) -> None:
    d = claude(spawner)
    for cmd in ("kill", "suspend"):
        res = aw(cmd, str(d.pid))
        assert res.code == 1
        assert len(res.err.strip().splitlines()) == 1, res.err
        assert "pass --yes" in res.err
        assert res.out == ""
    assert status_of(d.pid) in (psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING)  # not stopped
    assert d.popen.poll() is None


def test_suspend_and_resume(aw: Callable[..., Run], spawner: AgentSpawner, sid: str) -> None:
    d = claude(spawner, "--resume", sid)
    tree = [d.pid, *d.children]
    res = aw("suspend", sid, "--yes")
    assert res.code == 0, res.err
    deadline = time.monotonic() + 10
    while not all(status_of(p) == psutil.STATUS_STOPPED for p in tree):
        assert time.monotonic() < deadline, "the tree did not stop"
        time.sleep(0.02)
    doc = aw("ps", "--json").json()
    assert next(p for p in doc["processes"] if p["pid"] == d.pid)["status"] == "suspended"

    res = aw("resume", str(d.pid), "--yes")
    assert res.code == 0, res.err
    assert f"pid {d.pid}: SIGCONT sent to 2 processes" in res.out
    deadline = time.monotonic() + 10
    while any(status_of(p) == psutil.STATUS_STOPPED for p in tree):
        assert time.monotonic() < deadline, "the tree did not continue"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "target", ["999999999", "ffffffff-ffff", "12"], ids=["no-such-pid", "no-session", "short-pid"]
)
def test_unknown_target_exits_1(aw: Callable[..., Run], target: str) -> None:
    res = aw("kill", target, "--yes")
    assert res.code == 1
    assert len(res.err.strip().splitlines()) == 1
    assert res.err.startswith("agentwatch: ")


def test_a_plain_process_is_not_a_target(aw: Callable[..., Run], spawner: AgentSpawner) -> None:
    server = spawner.start([sys.executable, str(spawner.script("srv/server.js"))])
    res = aw("kill", str(server.pid), "--yes")
    assert res.code == 1
    assert "not an agent process" in res.err
    assert server.popen.poll() is None


@pytest.mark.parametrize(
    "args",
    [
        ("kill", "1", "--bogus"),
        ("kill",),
        ("kill", "abc", "--yes"),  # a session prefix needs 6 characters
        ("kill", "123", "--grace", "-1"),
        ("ps", "--format", "x"),
    ],
)
def test_usage_errors_exit_2(aw: Callable[..., Run], args: tuple[str, ...]) -> None:
    res = aw(*args)
    assert res.code == 2, res
    assert "Traceback" not in res.err


class Terminal:
    """The console script on a pseudo-terminal: read until a text shows, then answer."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.p = subprocess.Popen(
            [str(BIN), *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r} in {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the other side closed
                    assert text in self.seen, self.seen
                    return

    def answer(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\n")

    def close(self) -> int:
        try:
            return self.p.wait(timeout=20)
        finally:
            if self.p.poll() is None:  # stuck at a prompt after a failed expectation
                self.p.kill()
                self.p.wait()
            os.close(self.master)


def test_on_a_terminal_it_asks_then_asks_again_before_sigkill(
    spawner: AgentSpawner, cli_env: dict[str, str], root: Path, sid: str
) -> None:
    d = claude(spawner, "--resume", sid, ignore_term=True)
    t = Terminal(["kill", str(d.pid), "--grace", "0.3", "--claude-dir", str(root)], cli_env)
    try:
        t.expect(f"pid {d.pid} claude-code, {sid} (exact), 1 child process")
        t.expect("Kill this agent and its child processes? [y/N]")
        t.answer("y")
        t.expect("1 process survived SIGTERM after 0.3 s; send SIGKILL? [y/N]")
        assert d.popen.poll() is None  # nothing killed before the second yes
        t.answer("y")
        t.expect(f"pid {d.pid}: SIGKILL sent to 1 process")
    finally:
        code = t.close()
    assert code == 0, t.seen
    wait_gone(d)


def test_on_a_terminal_no_means_nothing_is_done(
    spawner: AgentSpawner, cli_env: dict[str, str], root: Path
) -> None:
    d = claude(spawner)
    t = Terminal(["suspend", str(d.pid), "--claude-dir", str(root)], cli_env)
    try:
        t.expect("Suspend this agent and its child processes? [y/N]")
        t.answer("n")
        t.expect("agentwatch: nothing done")
    finally:
        code = t.close()
    assert code == 1
    assert status_of(d.pid) != psutil.STATUS_STOPPED


def test_run_inside_an_agent_it_refuses_to_kill_that_agent(
    spawner: AgentSpawner, root: Path, tmp_path: Path
) -> None:
    # agentwatch started by the agent's Bash tool: the agent is its ancestor
    out, rc = tmp_path / "out.txt", tmp_path / "rc.txt"
    line = (
        f"AGENTWATCH_STATE_DIR={tmp_path / 'state'} {BIN} kill $PPID --yes --grace 1 "
        f"--claude-dir {root} > {out} 2>&1; echo $? > {rc}.tmp; mv {rc}.tmp {rc}"
    )
    d = claude(spawner)
    tool = spawner.start(
        [str(spawner.script("bin/claude", shebang=True))], children=[["sh", "-c", line]]
    )
    deadline = time.monotonic() + 30
    while not rc.exists():
        assert time.monotonic() < deadline, "agentwatch did not finish"
        time.sleep(0.05)
    assert rc.read_text().strip() == "1"
    assert f"refusing to kill pid {tool.pid}: it is an ancestor of agentwatch" in out.read_text()
    assert tool.popen.poll() is None
    assert d.popen.poll() is None


def test_a_signal_sent_with_stdout_on_a_full_disk_is_one_line(
    spawner: AgentSpawner, sid: str, root: Path, cli_env: dict[str, str]
) -> None:
    d = claude(spawner, "--resume", sid)
    with open("/dev/full", "wb") as full:
        p = subprocess.run(
            [str(BIN), "suspend", sid, "--yes", "--claude-dir", str(root)],
            stdout=full,
            stderr=subprocess.PIPE,
            env=cli_env,
            timeout=60,
            check=False,
        )
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.count("\n") == 1, err
    assert "cannot write the report of the signals sent" in err
    deadline = time.monotonic() + 10
    while status_of(d.pid) != psutil.STATUS_STOPPED:  # (the signal itself went out)
        assert time.monotonic() < deadline, "the agent did not stop"
        time.sleep(0.02)
