"""Shared fixtures: fixture trees in tmp dirs and the installed console script."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentwatch.infra.procs import Identity, PsutilTable
from tests.fixtures.claude import ClaudeTree

BIN = Path(sys.executable).parent / "agentwatch"


@dataclass
class Run:
    """A finished `agentwatch` process."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def claude_tree(tmp_path: Path) -> ClaudeTree:
    """An empty Claude Code root."""
    root = tmp_path / "claude"
    (root / "projects").mkdir(parents=True)
    return ClaudeTree(root)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty HOME and agentwatch's dirs inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTWATCH_", "CLAUDE_", "CODEX_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        TZ="UTC",
    )
    return env


@pytest.fixture
def agentwatch(cli_env: dict[str, str]) -> Callable[..., Run]:
    """Run the installed `agentwatch` console script in a subprocess."""
    assert BIN.exists(), f"console script not installed at {BIN}"

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> Run:
        p = subprocess.run(
            [str(BIN), *args],
            capture_output=True,
            text=True,
            env={**cli_env, **(env or {})},
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    return run


TOKEN_KEYS = (
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "reasoning",
    "total",
)


def check_report_invariants(doc: dict[str, Any]) -> None:
    """CLI_CONTRACT sections 2-3: total = the four kinds; session total = main + sub-agents;
    grand total = sum of sessions. Field by field."""

    def kinds(t: dict[str, int]) -> None:
        assert set(t) == set(TOKEN_KEYS)
        assert all(isinstance(v, int) and v >= 0 for v in t.values()), t
        assert t["total"] == t["input"] + t["output"] + t["cache_write"] + t["cache_read"], t
        assert t["cache_write_1h"] <= t["cache_write"], t
        assert t["reasoning"] <= t["output"], t

    grand = dict.fromkeys(TOKEN_KEYS, 0)
    for s in doc["sessions"]:
        kinds(s["tokens"])
        kinds(s["total_tokens"])
        for k in TOKEN_KEYS:
            parts = s["tokens"][k] + sum(a["tokens"][k] for a in s["subagents"])
            assert s["total_tokens"][k] == parts, (s["session_id"], k)
            grand[k] += s["total_tokens"][k]
        for a in s["subagents"]:
            kinds(a["tokens"])
    kinds(doc["totals"]["tokens"])
    assert doc["totals"]["tokens"] == grand


@pytest.fixture
def report_json(agentwatch: Callable[..., Run]) -> Callable[..., dict[str, Any]]:
    """`agentwatch report --json --claude-dir ROOT...`: exit 0, no traceback, invariants hold."""

    def run(
        *roots: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        argv = ["report", "--json", *args]
        for r in roots:
            argv += ["--claude-dir", str(r)]
        res = agentwatch(*argv, env=env)
        assert res.code == 0, res.err
        assert "Traceback" not in res.err
        doc: dict[str, Any] = res.json()
        check_report_invariants(doc)
        return doc

    return run


# ---- dummy agent processes (process control tests) ----------------------------------------
DUMMY_AGENT = """\
import json, os, signal, subprocess, sys, time

cfg = json.loads(os.environ["AW_DUMMY"])
kids = [subprocess.Popen(argv) for argv in cfg.get("children", [])]
if cfg.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if cfg.get("spawn_on_term"):  # a SIGTERM trap that starts one more process, and stays
    def _on_term(*_):
        late = subprocess.Popen(cfg["spawn_on_term"])
        with open(cfg["ready"] + ".late.tmp", "w") as fh:
            fh.write(str(late.pid))
        os.replace(cfg["ready"] + ".late.tmp", cfg["ready"] + ".late")
    signal.signal(signal.SIGTERM, _on_term)
if cfg.get("registry"):  # Claude's live registry: <root>/sessions/<pid>.json
    os.makedirs(cfg["registry"], exist_ok=True)
    with open(os.path.join(cfg["registry"], f"{os.getpid()}.json"), "w") as fh:
        json.dump({"pid": os.getpid(), "sessionId": cfg["registry_session"], "cwd": os.getcwd(),
                   "startedAt": int(time.time() * 1000), "version": "2.1.150"}, fh)
if cfg.get("hold"):  # Codex keeps its rollout open
    os.makedirs(os.path.dirname(cfg["hold"]), exist_ok=True)
    held = open(cfg["hold"], "a")
if cfg.get("session_file"):
    os.makedirs(os.path.dirname(cfg["session_file"]), exist_ok=True)
    with open(cfg["session_file"], "a") as fh:
        fh.write(json.dumps({"type": "user", "cwd": os.getcwd()}) + "\\n")
with open(cfg["ready"] + ".tmp", "w") as fh:
    json.dump({"pid": os.getpid(), "children": [k.pid for k in kids]}, fh)
os.replace(cfg["ready"] + ".tmp", cfg["ready"])
while not (cfg.get("exit_when") and os.path.exists(cfg["exit_when"])):
    time.sleep(0.02)
"""

SLEEPER = """\
import json, os, threading

cfg = json.loads(os.environ.get("AW_DUMMY", "{}"))
held = open(cfg["child_hold"], "a") if cfg.get("child_hold") else None
threading.Event().wait(120)  # a child process idling until the test kills it
"""


@dataclass
class Dummy:
    """A started dummy agent, ready: its Popen, pid and the pids of the children it started."""

    popen: subprocess.Popen[bytes]
    pid: int
    children: list[int]
    exit_file: Path


class AgentSpawner:
    """Starts dummy agents named and launched like the real CLIs; kills them all at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.dummies: list[Dummy] = []
        self.seen: dict[int, Any] = {}  # pid -> psutil.Process, for teardown
        self.n = 0

    def script(self, rel: str, *, shebang: bool = False, code: str = DUMMY_AGENT) -> Path:
        """Write the dummy's code at `rel` (with a `#!python` line when `shebang`)."""
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((f"#!{sys.executable}\n" if shebang else "") + code)
        path.chmod(0o755)
        return path

    def native(self, rel: str, *, tool: bool = False) -> list[str]:
        """argv of a 'native binary' named `rel`: a link to Python running the dummy agent
        (or, with `tool`, a sleeper that holds `child_hold` open)."""
        link = self.tmp / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(sys.executable)
        code = self.script("native-tool.py", code=SLEEPER) if tool else self.script("native.py")
        return [str(link), str(code)]

    def sleeper(self, rel: str = "bin/npm") -> list[str]:
        """argv of a tool child such as `npm test` (runs `python bin/npm test`)."""
        return [sys.executable, str(self.script(rel, code=SLEEPER)), "test"]

    def start(
        self, argv: list[str], *, cwd: Path | None = None, timeout: float = 15, **cfg: Any
    ) -> Dummy:
        """Start the dummy and wait (bounded) until it says it is ready."""
        self.n += 1
        ready = self.tmp / f"ready-{self.n}.json"
        exit_file = self.tmp / f"exit-{self.n}"
        cfg.update(ready=str(ready), exit_when=str(exit_file))
        with (self.tmp / f"err-{self.n}.txt").open("wb") as err:
            p = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, "AW_DUMMY": json.dumps(cfg)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.seen[p.pid] = psutil.Process(p.pid)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if p.poll() is not None or time.monotonic() > deadline:
                err = (self.tmp / f"err-{self.n}.txt").read_text()
                raise AssertionError(f"dummy {argv} did not start: {err}")
            time.sleep(0.01)
        info = json.loads(ready.read_text())
        d = Dummy(p, p.pid, info["children"], exit_file)
        self.dummies.append(d)
        self.allowed()
        return d

    def allowed(self) -> set[int]:
        """Pids this test may signal: the dummies and every descendant seen so far."""
        for d in self.dummies:
            try:
                for c in psutil.Process(d.pid).children(recursive=True):
                    self.seen.setdefault(c.pid, c)
            except psutil.NoSuchProcess:
                pass
        return set(self.seen)

    def close(self) -> None:
        """SIGKILL everything started (psutil checks create times, so no reused pid is hit)."""
        self.allowed()
        for proc in self.seen.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        for d in self.dummies:
            with contextlib.suppress(subprocess.TimeoutExpired):
                d.popen.wait(timeout=10)


@pytest.fixture
def spawner(tmp_path: Path) -> Iterator[AgentSpawner]:
    """Dummy agents for this test, all killed at teardown whatever happened."""
    s = AgentSpawner(tmp_path / "agents")
    try:
        yield s
    finally:
        s.close()


class RecordingTable(PsutilTable):
    """The real process table, recording every signal, refusing any pid the test did not start,
    and able to pretend a pid was reused (its create time reads one second later)."""

    def __init__(self, allowed: Callable[[], set[int]]) -> None:
        super().__init__()
        self.allowed = allowed
        self.sent: list[tuple[int, signal.Signals, float]] = []
        self.violations: list[tuple[int, signal.Signals]] = []
        self.reused: set[int] = set()

    def identity(self, pid: int) -> Identity | None:
        ident = super().identity(pid)
        if ident is not None and pid in self.reused:
            return dataclasses.replace(ident, create_time=ident.create_time + 1.0)
        return ident

    def send_signal(self, pid: int, sig: signal.Signals) -> None:
        if pid not in self.allowed():
            self.violations.append((pid, sig))
            raise PermissionError(f"test guard: pid {pid} is not this test's")
        self.sent.append((pid, sig, time.monotonic()))
        super().send_signal(pid, sig)

    def signals(self, pid: int) -> list[signal.Signals]:
        """Signals sent to `pid`, in order."""
        return [s for p, s, _ in self.sent if p == pid]


@pytest.fixture
def rec_table(spawner: AgentSpawner) -> Iterator[RecordingTable]:
    """A recording table limited to this test's processes; fails the test on any stray signal."""
    table = RecordingTable(spawner.allowed)
    yield table
    assert table.violations == [], "signalled processes this test did not start"
