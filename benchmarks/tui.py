"""TUI load: 500 sessions, 10 updates a second, headless; prints CPU use and flushes per second.

python benchmarks/tui.py [--sessions 500] [--rate 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import time
from pathlib import Path

from agentwatch.core.accounts import Account, Call
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.status import SessionStatus
from agentwatch.core.summary import SessionSummary, SubagentSummary
from agentwatch.core.tokens import Tokens
from agentwatch.infra.feed import Deliver, Headline, Snapshot
from agentwatch.ui.app import AgentwatchApp


def session(i: int, now: float, tokens: int) -> SessionSummary:
    owner = ThreadKey(Agent.CLAUDE_CODE, f"s{i}")
    acc = Account()
    acc.add(
        Call(
            ("k",),
            Tokens(input=tokens // 3, output=tokens // 3, cache_read=tokens // 3),
            "claude-sonnet-4-5",
            now - 10,
            owner,
            tokens * 1e-6,
            False,
            (owner,),
        )
    )
    sub = SubagentSummary("a1b2c3d", "Explore", "look", None, acc, now - 60, now - 5)
    total = Account()
    total.merge(acc)
    total.merge(acc)
    return SessionSummary(
        Agent.CLAUDE_CODE,
        f"{i:08d}-0000-4000-8000-000000000000",
        f"/home/dev/project-{i % 40}",
        (),
        now - 3600,
        now - random.random() * 600,
        SessionStatus.ACTIVE,
        acc,
        (sub,),
        total,
        False,
        "2.1.150",
        10,
        1,
        2,
        20,
        3,
    )


class LoadFeed:
    def __init__(self, deliver: Deliver, n: int, rate: float) -> None:
        self.deliver, self.n, self.rate = deliver, n, rate
        self.stopped = False
        self.sent = 0

    def start(self) -> None:
        now = time.time()
        head = Headline(0, 0.0, 0, 0.0, 0.0, 0.0, self.n, now)
        self.deliver(
            Snapshot(tuple(session(i, now, 1000 + i) for i in range(self.n)), head, first=True)
        )
        asyncio.get_running_loop().create_task(self._pump(head))

    async def _pump(self, head: Headline) -> None:
        while not self.stopped:
            await asyncio.sleep(1 / self.rate)
            now = time.time()
            i = random.randrange(self.n)
            self.deliver(Snapshot((session(i, now, random.randrange(10_000, 10_000_000)),), head))
            self.sent += 1

    def stop(self) -> None:
        self.stopped = True


async def run(n: int, rate: float, seconds: float) -> None:
    feeds: list[LoadFeed] = []

    def factory(deliver: Deliver) -> LoadFeed:
        feeds.append(LoadFeed(deliver, n, rate))
        return feeds[-1]

    app = AgentwatchApp(factory, [Path("/nowhere")], time.time)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 45)) as pilot:
        while not app.loaded:
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        start_cpu = resource.getrusage(resource.RUSAGE_SELF)
        start, flushes = time.perf_counter(), app.flushes
        latencies = []
        end = start + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await pilot.press("down")
            latencies.append(time.perf_counter() - t0)
            await pilot.pause(0.5)
        wall = time.perf_counter() - start
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        used = (cpu.ru_utime - start_cpu.ru_utime) + (cpu.ru_stime - start_cpu.ru_stime)
        latencies.sort()
        print(f"sessions {n}, updates/s {rate:g}, wall {wall:.1f} s, updates sent {feeds[0].sent}")
        print(f"CPU {100 * used / wall:.1f}% of a core (target < 15%)")
        print(
            f"table flushes/s {(app.flushes - flushes) / wall:.1f} (cap {1 / app.flush_interval:g})"
        )
        print(
            f"key press handled p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, "
            f"max {1000 * latencies[-1]:.1f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    asyncio.run(run(a.sessions, a.rate, a.seconds))


if __name__ == "__main__":
    main()
