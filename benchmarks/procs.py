"""Child-process helpers for benchmarks/run.py: timed runs with peak RSS, and a `watch` reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class Run:
    """One finished child: wall seconds, peak RSS in KiB (ru_maxrss on Linux), exit code."""

    wall: float
    maxrss_kib: int
    rc: int
    stderr: str = ""


def _reap(proc: subprocess.Popen[bytes], timeout: float | None) -> tuple[int, int] | None:
    """wait4() the child: (exit code, ru_maxrss KiB), or None if it is still running at timeout.

    wait4's rusage covers the child and the descendants it reaped (RUSAGE_BOTH in the kernel),
    so ru_maxrss is the largest single process of the tree, not a sum.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        flags = 0 if deadline is None else os.WNOHANG
        pid, status, usage = os.wait4(proc.pid, flags)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            proc.returncode = rc  # tell Popen the child is gone, so it never waits for it again
            return rc, usage.ru_maxrss
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def run_measured(
    argv: Sequence[str], env: dict[str, str], stdout: Path, cwd: Path | None = None
) -> Run:
    """Run argv to completion with stdout into a file; wall time includes process start-up."""
    with open(stdout, "wb") as out, open(f"{stdout}.err", "w+b") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, stdout=out, stderr=err, cwd=cwd)
        reaped = _reap(proc, None)
        wall = time.perf_counter() - t0
        assert reaped is not None
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return Run(wall, reaped[1], reaped[0], text)


def best_of(n: int, once: Any) -> tuple[Run, list[Run]]:
    """Call once() n times; (the fastest run, all runs)."""
    runs = [once(i) for i in range(max(1, n))]
    return min(runs, key=lambda r: r.wall), runs


@dataclass
class Watch:
    """`agentwatch watch --jsonl` as a child, its stdout parsed on a thread with receipt times."""

    argv: list[str]
    env: dict[str, str]
    stderr_path: Path
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    bad_lines: int = 0
    ready_at: float | None = None
    started_at: float = 0.0
    proc: subprocess.Popen[bytes] | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _err: IO[bytes] | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> Watch:
        self._err = open(self.stderr_path, "w+b")  # closed in stop()
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=self._err
        )
        self._thread = threading.Thread(target=self._read, name="watch-reader", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.stop(timeout=5.0)

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            now = time.time()
            try:
                event = json.loads(raw)
            except ValueError:
                self.bad_lines += 1
                continue
            if not isinstance(event, dict):
                self.bad_lines += 1
                continue
            self.events.append((now, event))
            if event.get("event") == "ready" and self.ready_at is None:
                self.ready_at = now
                self._ready.set()
        self._ready.set()  # EOF: wake a waiter; ready_at stays None if it never came

    def wait_ready(self, timeout: float) -> bool:
        self._ready.wait(timeout)
        return self.ready_at is not None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        """Still running? (WNOWAIT: never reaps, so stop() still gets the rusage.)"""
        if self.proc is None or self.proc.returncode is not None:
            return False
        info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return info is None

    def stop(self, timeout: float = 10.0) -> tuple[int | None, int, bool]:
        """SIGTERM, wait up to timeout: (exit code, peak RSS KiB, whether SIGKILL was needed)."""
        assert self.proc is not None
        killed = False
        if self.proc.returncode is not None:
            reaped: tuple[int, int] | None = (self.proc.returncode, 0)
        else:
            # os.kill, not Popen.send_signal: that polls, and a reaped child loses its rusage
            os.kill(self.proc.pid, signal.SIGTERM)
            reaped = _reap(self.proc, timeout)
            if reaped is None:
                killed = True
                os.kill(self.proc.pid, signal.SIGKILL)
                reaped = _reap(self.proc, None)
        assert reaped is not None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._err is not None:
            self._err.close()
        return (None if killed else reaped[0]), reaped[1], killed

    def stderr_tail(self, n: int = 5) -> str:
        try:
            lines = self.stderr_path.read_text("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])
