"""What every scenario script shares: the project's files and ordinary work."""

from __future__ import annotations

from tests.core.scenarios.agent import Agent

ROOT = "/home/dev/shop-api"
SRC = [f"{ROOT}/src/{n}.py" for n in ("cart", "orders", "payments", "users", "db", "api")]
MORE = [f"{ROOT}/src/{n}.py" for n in ("inventory", "config", "auth", "mail", "tax", "search")]
TESTS = [f"{ROOT}/tests/test_{n}.py" for n in ("cart", "orders", "payments", "users")]
CART, ORDERS, PAYMENTS, USERS, DB, API = SRC
SERVICES = [
    f"{ROOT}/services/{n}/{m}.py"
    for n in ("checkout", "billing", "shipping", "ledger")
    for m in ("main", "handlers", "client", "models")
]
NPM_FAIL = "FAIL src/api.test.ts\n  ● checkout › applies discount\n    expected 90, received 100"


def work(a: Agent, files: list[str], test: str = "pytest -q", rounds: int = 1) -> None:
    """A stretch of ordinary coding: read, edit, test (passing)."""
    for _ in range(rounds):
        for f in files:
            a.read(f)
        a.grep("def total", files[:2])
        for f in files:
            a.edit(f, int(a.jitter(2, 20)), int(a.jitter(0, 8)))
        a.bash(test, f"{int(a.jitter(20, 60))} passed in {a.jitter(0.3, 4):.2f}s", run=6.0)


def finish(a: Agent, minutes: float = 34.0) -> None:
    """Ordinary follow-up requests, a few minutes apart, until the session is `minutes` long."""
    files = [*SRC, *MORE]
    while a.clock < minutes * 60:
        a.human("Next small change, please", after=a.jitter(120, 360))
        work(a, a.rng.sample(files, 2))
        a.say("Done.", out=int(a.jitter(200, 600)))
