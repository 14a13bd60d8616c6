"""True loops. Each marks its onset (the first event that repeats with no progress since)
and, where the script has one, the progress that ends it (`clear`).
"""

from __future__ import annotations

from tests.core.scenarios.agent import Agent
from tests.core.scenarios.common import (
    API,
    CART,
    DB,
    MORE,
    NPM_FAIL,
    ORDERS,
    PAYMENTS,
    ROOT,
    SRC,
    TESTS,
    finish,
    work,
)


# ---- true loops --------------------------------------------------------------------------
def loop_npm_test_same_failure(a: Agent) -> None:
    a.human("Add the discount to checkout in the web app", after=0.0)
    work(a, [f"{ROOT}/web/src/checkout.ts", f"{ROOT}/web/src/cart.ts"], test="npm test", rounds=3)
    a.edit(f"{ROOT}/web/src/api.ts", 5, 2)
    a.bash("npm test", NPM_FAIL, error=True, run=8.0)
    a.mark_next("onset")
    for _ in range(30):
        a.bash("npm test", NPM_FAIL, error=True, run=8.0)
    a.human("Stop. The test needs the API mock running: npm run mock", after=20.0)
    a.mark("clear")
    a.bash("npm run mock &", "Command running in background with ID: bash_2")
    a.bash("npm test", "Tests: 90 passed, 90 total", run=8.0)
    work(a, [f"{ROOT}/web/src/api.ts"], test="npm test", rounds=2)
    a.say("Checkout applies the discount; tests green.", out=500)
    finish(a)


def loop_pytest_timings(a: Agent) -> None:
    a.human("Speed up the refund query", after=0.0)
    work(a, [DB, PAYMENTS], rounds=4)
    a.edit(DB, 8, 2)
    out = "FAILED tests/test_payments.py::test_refund - sqlalchemy.exc.OperationalError\n"
    first = f"{out}1 failed, 11 passed in 2.11s"
    a.bash("pytest -q tests/test_payments.py", first, error=True, run=12.0)
    a.mark_next("onset")
    for _ in range(26):  # the same failure; only the timing in the output differs
        text = f"{out}1 failed, 11 passed in {a.jitter(1.8, 2.6):.2f}s"
        a.bash("pytest -q tests/test_payments.py", text, error=True, run=12.0)
    a.edit(f"{ROOT}/tests/conftest.py", 6, 0)
    a.mark("clear")
    a.bash("pytest -q tests/test_payments.py", "12 passed in 2.02s", run=12.0)
    work(a, [PAYMENTS])
    a.say("The refund query uses the new index; tests pass.", out=500)
    finish(a)


def loop_poll_health(a: Agent) -> None:
    a.human("Wire the new health endpoint and check it works", after=0.0)
    work(a, [API, f"{ROOT}/src/health.py"], rounds=4)
    a.bash("npm start &", "Command running in background with ID: bash_1", run=1.0)
    a.bash("sleep 10 && curl -s localhost:3000/health", '{"status":"starting"}', run=11.0)
    a.mark_next("onset")
    for _ in range(80):
        a.bash("sleep 10 && curl -s localhost:3000/health", '{"status":"starting"}', run=11.0)


def loop_poll_bashoutput(a: Agent) -> None:
    a.human("Bring the stack up with docker compose and run the e2e tests", after=0.0)
    work(a, [f"{ROOT}/docker-compose.yml", f"{ROOT}/e2e/test_checkout.py"], rounds=4)
    a.bash("docker compose up", "Command running in background with ID: bash_1", run=1.0)
    a.bash_output("bash_1", "db-1 | waiting for postgres to accept connections")
    a.mark_next("onset")
    for _ in range(45):
        a.bash_output("bash_1", "db-1 | waiting for postgres to accept connections")
    a.human("It is stuck on the volume. Kill it and use sqlite for e2e", after=15.0)
    a.mark("clear")
    a.tool("KillShell", {"shell_id": "bash_1"}, "Shell bash_1 killed", {"message": "ok"})
    work(a, [f"{ROOT}/e2e/conftest.py", f"{ROOT}/e2e/test_checkout.py"], test="pytest -q e2e")
    a.say("e2e runs on sqlite now.", out=400)
    finish(a)


def loop_reread_cycle(a: Agent) -> None:
    a.human("Why does the cart total drift after a refund?", after=0.0)
    work(a, [CART, ORDERS], rounds=4)
    cycle = [CART, PAYMENTS, ORDERS]
    for f in cycle:
        a.read(f)
    a.mark_next("onset")
    for _ in range(18):
        for f in cycle:
            a.read(f)
    a.edit(PAYMENTS, 3, 1)
    a.mark("clear")
    a.bash("pytest -q", "212 passed in 15.00s", run=16.0)
    work(a, [CART, TESTS[0]], rounds=2)
    a.say("Refunds now update the cart total.", out=500)
    finish(a)


def loop_reread_subagent(a: Agent) -> None:
    a.human("Find every place that sends mail", after=0.0)

    def stuck(s: Agent) -> None:
        s.grep("send_mail", MORE[:4])
        for f in [*MORE, *SRC[:2]]:
            s.read(f)
        s.mark_next("onset")
        for _ in range(24):
            s.read(MORE[3])
            s.read(MORE[0])
        s.say("mail.py and inventory.py send mail.", out=600)
        s.mark("clear")

    a.task("a7f3c21", "find mail senders", stuck)
    a.say("Two modules send mail; I'll route them through one helper.", out=600)
    a.human("Do it", after=60.0)
    work(a, [MORE[3], MORE[0], f"{ROOT}/src/notify.py"], rounds=2)
    a.say("Mail goes through notify.send().", out=400)
    finish(a)


def loop_chat_bot(a: Agent) -> None:
    a.context = 40_000
    a.human("Brainstorm names for the product", after=0.0)
    a.say("Here are twenty names: ...", out=1200, think=15.0)
    a.mark_next("onset")
    for _ in range(95):  # driven by an automation that only ever says "Continue."
        a.meta()
        a.say("More ideas: ...", out=int(a.jitter(800, 1600)), think=a.jitter(15, 22))


def loop_chat_after_work(a: Agent) -> None:
    a.human("Add an index on orders.created_at", after=0.0)
    work(a, [DB, ORDERS, f"{ROOT}/migrations/env.py"], rounds=3)
    a.say("Done: index added with a migration.", out=500)
    a.mark_next("onset")
    for _ in range(40):  # talks to itself: no tools, no person
        a.say("Let me reconsider the approach...", out=int(a.jitter(600, 1400)), think=25.0)
    a.human("You're looping. Stop and tell me what's left.", after=10.0)
    a.mark("clear")
    a.say("Nothing is left; the index is in place.", out=300)
    a.human("Add a test for the migration", after=120.0)
    work(a, [f"{ROOT}/tests/test_migrations.py"])
    a.say("Test added.", out=200)
    finish(a)
