"""`agentwatch demo` without the UI: a temporary folder of simulated agent logs, the thread that
writes them, and one harmless dummy agent process that can be killed from the TUI."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in the test deps

from agentwatch.core.procs import AgentProcess, Confidence, ProcStatus, SessionMatch, argv_session
from agentwatch.core.records import Agent
from agentwatch.infra.applog import LOG
from agentwatch.infra.demo_agents import Claude, Codex, Stage, Steps
from agentwatch.infra.demo_logs import ClaudeLog, CodexLog
from agentwatch.infra.demo_scripts import (
    GPT,
    OPUS,
    SONNET,
    billing_loop,
    docs_site,
    gateway_earlier,
    pipeline,
    shop_api,
    web_ui,
)
from agentwatch.infra.workspace import Options, Workspace, open_workspace
from agentwatch.sources.claude_code import encode_cwd

PREFIX = "agentwatch-demo-"
"""The temporary folder's name prefix."""
PREFILL = 15.0
"""Seconds of simulated history written before the view opens (it is never empty)."""
TICK = 0.25
"""Seconds between simulator passes."""

DUMMY_AGENT = '''\
"""agentwatch demo: a stand-in for an agent process. It only sleeps; kill it from the demo."""
import os, signal, time

signal.signal(signal.SIGINT, signal.SIG_IGN)
parent = int(os.environ.get("AGENTWATCH_DEMO_PARENT") or os.getppid())
while os.getppid() == parent:  # the demo went away without stopping it: leave too
    time.sleep(0.5)
'''

Script = Callable[[Claude, str], Steps]


class Simulator:
    """The simulated sessions: several Claude Code sessions (2.1.x layout with sub-agents and
    compaction, one older version that streams placeholder counts) and a Codex session with a
    collab sub-agent. `billing-svc` falls into a loop: the same failing test, again and again.
    """

    def __init__(self, root: Path, start: float, seed: int = 20260204) -> None:
        self.claude_root = root / "claude"
        self.codex_root = root / "codex"
        self.work = root / "work"
        (self.claude_root / "projects").mkdir(parents=True)
        (self.codex_root / "sessions").mkdir(parents=True)
        self.stage = Stage(start, seed)
        self.sessions: dict[str, str] = {}
        """Session ids by project name."""
        self._claude("shop-api", shop_api, SONNET, start)
        self._codex("data-pipeline", start + 2.0)
        self._claude("web-ui", web_ui, OPUS, start + 3.0, branch="feat/settings")
        self._claude("billing-svc", billing_loop, SONNET, start + 2.0, branch="fix/rounding")
        self._claude("docs-site", docs_site, SONNET, start + 8.0, version="2.1.90")
        self._claude("api-gateway", gateway_earlier, SONNET, start - 2 * 3600.0)
        self.loop_session = self.sessions["billing-svc"]
        """The session that loops (its dummy process can be killed)."""

    def cwd(self, name: str) -> Path:
        """A project's working directory (created: the dummy agent runs in it)."""
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _claude(
        self,
        name: str,
        script: Script,
        model: str,
        at: float,
        *,
        version: str = "2.1.150",
        branch: str = "main",
    ) -> None:
        st = self.stage
        cwd = str(self.cwd(name))
        sid = st.ids.uuid4()
        path = self.claude_root / "projects" / encode_cwd(cwd) / f"{sid}.jsonl"
        log = ClaudeLog(path, sid, cwd, version, st.ledger, st.ids, branch=branch)
        legacy = tuple(int(x) for x in version.split(".")) < (2, 1, 97)  # placeholder counts
        agent = Claude(st, log, model, st.rng.randint(8_000, 11_000), legacy=legacy)
        self.sessions[name] = sid
        st.spawn(script(agent, sid), sid, at)

    def _codex(self, name: str, at: float) -> None:
        st = self.stage
        cwd = str(self.cwd(name))
        tid = st.ids.uuid7(at)
        log = CodexLog(self._rollout(at, tid), tid, cwd, "0.152.0", st.ledger)
        agent = Codex(st, log, GPT, st.rng.randint(9_000, 12_000))
        self.sessions[name] = tid

        def child(parent: Codex) -> Codex:
            kid = st.ids.uuid7(st.t)
            return parent.child(self._rollout(st.t, kid), kid, "explorer", "Darwin")

        def run() -> Steps:
            log.meta(st.t, git={"branch": "main", "commit_hash": st.ids.hex(40)})
            yield 0.5
            yield from pipeline(agent, tid, child)

        st.spawn(run(), tid, at)

    def _rollout(self, t: float, thread_id: str) -> Path:
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.localtime(t))
        day = self.codex_root / "sessions" / stamp[:4] / stamp[5:7] / stamp[8:10]
        return day / f"rollout-{stamp}-{thread_id}.jsonl"

    def advance(self, now: float) -> None:
        """Write every line due by `now`."""
        self.stage.advance(now)


class Demo:
    """The demo's temporary folder, simulator thread and dummy agent; `close` removes it all.

    Args:
        root: an empty folder that belongs to the demo (removed by `close`).
        clock: the time stamped on the lines (tests pass a fake one and call `advance`).
        prefill: seconds of history written by `start`, before the view opens.
        seed: makes the simulation reproducible (default: a new one every run).
    """

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], float] = time.time,
        prefill: float = PREFILL,
        seed: int | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        seed = time.time_ns() if seed is None else seed  # new ids every run; tests fix it
        self.sim = Simulator(root, clock() - prefill, seed)
        self.dummy: subprocess.Popen[bytes] | None = None
        self._proc: Any = None  # psutil.Process of the dummy, kept for CPU deltas
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def create(cls, parent: Path | None = None, **kw: Any) -> Demo:
        """A demo in a new temporary folder (`agentwatch-demo-*` under `parent`, by default the
        system's temporary directory)."""
        root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        try:
            return cls(root, **kw)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def __enter__(self) -> Demo:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- running ------------------------------------------------------------------------------
    def start(self, *, thread: bool = True, dummy: bool = True) -> None:
        """Write the first lines, start the dummy agent and (unless `thread` is False) the
        thread that keeps writing in real time."""
        self.advance()
        if dummy:
            self.dummy = self._spawn_dummy()
        if thread:
            self._thread = threading.Thread(target=self._run, name="agentwatch-demo", daemon=True)
            self._thread.start()

    def advance(self, now: float | None = None) -> None:
        """Write what is due by `now` (default: the clock); follow the dummy's fate first."""
        with self._lock:
            self._follow_dummy()
            self.sim.advance(self.clock() if now is None else now)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.advance()
            except Exception:  # noqa: BLE001 (a bug: log it, stop simulating, keep the view)
                LOG.exception("demo simulator failed")
                return

    def _follow_dummy(self) -> None:
        """A killed dummy ends its session's scripts (and is reaped); a stopped one pauses them."""
        p, stage, sid = self.dummy, self.sim.stage, self.sim.loop_session
        if p is None:
            return
        if p.poll() is not None:
            stage.stop(sid)
            return
        stopped = False
        with contextlib.suppress(psutil.Error):
            stopped = psutil.Process(p.pid).status() == psutil.STATUS_STOPPED
        if stopped:
            stage.paused.add(sid)
        else:
            stage.paused.discard(sid)

    def _spawn_dummy(self) -> subprocess.Popen[bytes]:
        script = self.root / "bin" / "demo-agent.py"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(DUMMY_AGENT)
        argv = [sys.executable, str(script), "--session-id", self.sim.loop_session]
        p = subprocess.Popen(
            argv,
            cwd=self.sim.cwd("billing-svc"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "AGENTWATCH_DEMO_PARENT": str(os.getpid())},
            start_new_session=True,  # the terminal's Ctrl-C and Ctrl-Z do not reach it
        )
        with contextlib.suppress(psutil.Error):
            self._proc = psutil.Process(p.pid)
        return p

    def processes(self) -> list[AgentProcess]:
        """The demo's agent processes (its dummy, while alive): the TUI's process source.

        Only the demo's own child is listed, so nothing the user runs can be signalled from it.
        """
        p, proc = self.dummy, self._proc
        if p is None or proc is None or p.poll() is not None:
            return []
        try:
            with proc.oneshot():
                cmdline = tuple(proc.cmdline())
                if not cmdline:  # read while exec was still setting it up: next poll
                    return []
                status = proc.status()
                out = AgentProcess(
                    pid=p.pid,
                    agent=Agent.CLAUDE_CODE,
                    name=proc.name(),
                    cmdline=cmdline,
                    cwd=proc.cwd(),
                    user=proc.username(),
                    create_time=proc.create_time(),
                    cpu_percent=round(float(proc.cpu_percent(None)), 1),
                    rss_bytes=proc.memory_info().rss,
                    children=(),
                    status=ProcStatus.SUSPENDED
                    if status == psutil.STATUS_STOPPED
                    else ProcStatus.ZOMBIE
                    if status == psutil.STATUS_ZOMBIE
                    else ProcStatus.SLEEPING,
                    terminal=None,
                    waiting_on_terminal=False,
                    session=SessionMatch(
                        argv_session(Agent.CLAUDE_CODE, cmdline[2:]).session_id,
                        Confidence.EXACT,
                        "argv",
                    ),
                )
        except psutil.Error:
            return []
        return [out]

    # ---- what the TUI opens -------------------------------------------------------------------
    def options(self) -> Options:
        """Only the demo's folders; a cache and config of its own, no index."""
        gemini = self.root / "gemini"  # named, so $GEMINI_CLI_HOME never leads to real chats
        gemini.mkdir(exist_ok=True)
        return Options(
            claude_dirs=(str(self.sim.claude_root),),
            codex_dirs=(str(self.sim.codex_root),),
            gemini_dirs=(str(gemini),),
            no_cache=True,
            cache_dir=str(self.root / "cache"),
            config_dir=str(self.root / "config"),
        )

    def workspace(self, env: Mapping[str, str] | None = None) -> Workspace:
        """The workspace over the demo's folders (agentwatch's own log stays where it is)."""
        return open_workspace(
            self.options(), env=os.environ if env is None else env, home=self.root
        )

    # ---- the end ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop writing, end the dummy (SIGTERM, then SIGKILL), remove the folder."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        p = self.dummy
        if p is not None and p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGCONT)  # a suspended dummy acts on SIGTERM only then
                p.terminate()
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=3)
        shutil.rmtree(self.root, ignore_errors=True)
