"""Normal sessions: coding, exploration then edits, converging test-fix cycles, planning.

They carry the noise real ones have: a re-read, a flaky re-run, `git status` twice, a server
that needs a second poll, plan-mode rejections.
"""

from __future__ import annotations

from collections.abc import Callable

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
    SERVICES,
    SRC,
    TESTS,
    USERS,
    finish,
    work,
)


# ---- normal coding -----------------------------------------------------------------------
def normal_feature(a: Agent) -> None:
    a.human("Add a discount-code field to the cart API", after=0.0)
    a.todo("read cart code", "add discount", "tests")
    a.bash("git status", "On branch main\nnothing to commit, working tree clean", run=0.5)
    a.glob("src/**/*.py", SRC)
    for f in SRC[:4]:
        a.read(f)
    a.read(CART)  # a re-read before editing
    a.bash("git status", "On branch main\nnothing to commit, working tree clean", run=0.5)
    a.edit(CART, 12, 3)
    a.write(f"{ROOT}/tests/test_discount.py")
    a.bash("pytest -q tests/test_discount.py", "3 passed in 0.41s", run=5.0)
    a.say("Done: discount codes are applied in cart.total().", out=900)
    a.human("Also validate codes against the DB", after=240.0)
    work(a, [DB, CART], rounds=2)
    a.say("Codes are validated against the discounts table.", out=700)
    a.human("Start the dev server and try the endpoint", after=300.0)
    a.bash("uvicorn app:app --port 8000 &", "Command running in background with ID: bash_1")
    a.bash("curl -s localhost:8000/health", "curl: (7) Failed to connect", error=True)
    a.bash("sleep 3 && curl -s localhost:8000/health", '{"status":"ok"}')
    a.bash("curl -s -X POST localhost:8000/cart/discount -d code=X", '{"total": 90}')
    a.say("The endpoint answers with the discounted total.", out=500)
    a.human("Refactor the price rounding into one helper", after=420.0)
    work(a, [CART, ORDERS, PAYMENTS], rounds=2)
    a.say("Rounding now lives in money.round_price().", out=800)
    finish(a)


def normal_subagent_bugfix(a: Agent) -> None:
    a.human("Refunds are off by one cent, find and fix it", after=0.0)

    def explore(s: Agent) -> None:
        s.grep("refund", [PAYMENTS, ORDERS, API])
        for f in [PAYMENTS, ORDERS, API, DB, *MORE[:4]]:
            s.read(f)
        s.read(PAYMENTS)  # one re-read
        s.grep("round\\(", [PAYMENTS, CART])
        s.say("Refunds round each line before summing (payments.py:88).", out=1200)

    a.task("b4e91d2", "find where refunds are computed", explore)
    a.read(PAYMENTS)
    a.edit(PAYMENTS, 5, 3)
    a.bash(
        "pytest -q tests/test_payments.py", "1 failed, 11 passed\nE assert 1.0 == 0.99", error=True
    )
    a.read(TESTS[2])
    a.edit(PAYMENTS, 2, 1)
    a.bash("pytest -q tests/test_payments.py", "12 passed in 1.02s", run=6.0)
    a.say("Fixed: refunds sum first, round once.", out=700)
    a.human("Add a regression test and check the other money paths", after=360.0)
    work(a, [TESTS[2], ORDERS, CART], rounds=2)
    a.say("Added test_refund_rounding; orders and cart were fine.", out=600)
    a.human("Run the whole suite and update the changelog", after=420.0)
    a.bash("pytest -q", "212 passed in 14.20s", run=15.0)
    a.read(f"{ROOT}/CHANGELOG.md")
    a.edit(f"{ROOT}/CHANGELOG.md", 3, 0)
    work(a, [USERS, DB])
    a.say("All green; changelog updated.", out=400)
    finish(a)


# ---- read-heavy exploration, then edits --------------------------------------------------
def explore_then_edit_monorepo(a: Agent) -> None:
    a.human("Understand how orders flow through the services, then add retries", after=0.0)
    a.todo("map order flow", "find network calls", "add retries")
    big = f"{ROOT}/src/legacy/order_service.py"
    a.glob("services/**/*.py", [*SRC, *MORE])
    for i, f in enumerate([*SRC, *MORE]):
        a.read(f)
        if i % 3 == 2:
            a.grep(f"import {f.rsplit('/', 1)[-1][:-3]}", SRC[:3])
    a.glob("services/*/*.py", SERVICES)
    for i, f in enumerate(SERVICES):
        a.read(f)
        if i % 4 == 3:
            a.grep("retry|backoff", SERVICES[i - 3 : i + 1])
    for offset in (1, 400, 800, 1200, 1600):  # one big file, page by page
        a.read(big, lines=400, offset=offset)
    a.todo("map order flow (done)", "find network calls", "add retries")
    for f in MORE[:4]:
        a.grep(f"requests.post.*{f[-6:-3]}", [f])
    a.read(ORDERS)  # re-reads after a long look around
    a.read(PAYMENTS)
    for f in TESTS:
        a.read(f)
    a.say("Map of the order flow: api -> orders -> payments -> mail.", out=2500)
    a.human("Good. Add retries with backoff to the payment calls", after=180.0)
    a.write(f"{ROOT}/src/retry.py", 60)
    work(a, [PAYMENTS, ORDERS, MORE[3]], rounds=2)
    a.say("Retries with jittered backoff wrap every payment call.", out=900)
    finish(a)


def explore_then_edit_subagents(a: Agent) -> None:
    a.human("We need an audit log; look at how writes happen first", after=0.0)

    def survey(files: list[str]) -> Callable[[Agent], None]:
        def body(s: Agent) -> None:
            for f in files:
                s.read(f)
                s.grep(f"session.commit.*{f[-7:-3]}", [f])
            s.say("Writes go through db.session in these modules.", out=1500)

        return body

    a.task("c01ffee", "survey write paths in core", survey([*SRC, *TESTS]))
    a.task("d00dad1", "survey write paths in services", survey([*MORE, *SRC[:3]]))
    a.read(DB)
    a.say("All writes pass through db.session.commit(): one hook covers them.", out=1800)
    a.human("Implement it with a table and a hook", after=200.0)
    a.write(f"{ROOT}/src/audit.py", 80)
    work(a, [DB, f"{ROOT}/src/audit.py", API], rounds=2)
    a.bash("alembic revision -m audit", "Generating migrations/versions/abc_audit.py ... done")
    a.edit(f"{ROOT}/migrations/versions/abc_audit.py", 30, 0)
    a.bash("pytest -q", "230 passed in 15.02s", run=16.0)
    a.say("Audit log in place with a migration.", out=700)
    a.human("Add a CLI to dump it", after=300.0)
    work(a, [f"{ROOT}/src/cli.py", f"{ROOT}/tests/test_cli.py"])
    a.say("`shop audit dump` prints the log.", out=500)
    finish(a)


# ---- test-fix cycles that converge -------------------------------------------------------
def testfix_pytest(a: Agent) -> None:
    a.human("The orders tests fail after the upgrade, fix them", after=0.0)
    failures = [
        "3 failed, 39 passed\nFAILED test_orders.py::test_total\nFAILED ::test_tax\nFAILED ::x",
        "2 failed, 40 passed\nFAILED test_orders.py::test_tax\nFAILED ::test_refund",
        "1 failed, 41 passed\nFAILED test_orders.py::test_refund",
    ]
    a.bash("pytest -q tests/test_orders.py", failures[0], error=True, run=8.0)
    a.read(TESTS[1])
    a.read(ORDERS)
    a.edit(ORDERS, 6, 4)
    a.bash("pytest -q tests/test_orders.py", failures[1], error=True, run=8.0)
    a.read(MORE[4])
    a.edit(MORE[4], 3, 3)
    a.bash("pytest -q tests/test_orders.py", failures[2], error=True, run=8.0)
    a.bash("pytest -q tests/test_orders.py", failures[2], error=True, run=8.0)  # flaky? re-run
    a.read(PAYMENTS)
    a.edit(PAYMENTS, 2, 2)
    a.bash("pytest -q tests/test_orders.py", "42 passed in 3.10s", run=8.0)
    a.say("Orders tests pass again.", out=600)
    a.human("Now the full suite please", after=300.0)
    fail = "FAILED tests/test_users.py::test_"
    a.bash("pytest -q", f"2 failed, 210 passed\n{fail}login", error=True, run=16.0)
    a.read(TESTS[3])
    a.read(USERS)
    a.edit(USERS, 4, 2)
    a.bash("pytest -q", f"1 failed, 211 passed\n{fail}lock", error=True, run=16.0)
    a.edit(USERS, 3, 1)
    a.bash("pytest -q", "212 passed in 15.31s", run=16.0)
    a.say("The suite is green.", out=500)
    a.human("Clean up the deprecation warnings too", after=420.0)
    work(a, [ORDERS, USERS, DB], rounds=2)
    a.say("No more deprecation warnings.", out=400)
    finish(a)


def testfix_typecheck(a: Agent) -> None:
    a.human("Make the frontend pass typecheck, lint and tests", after=0.0)
    web = [f"{ROOT}/web/src/{n}.ts" for n in ("cart", "checkout", "api", "store")]
    for n in (12, 7, 3):
        a.bash("npm run typecheck", f"Found {n} errors in {min(n, 4)} files.", error=True, run=20)
        for f in web[: min(n, 4) // 2 + 1]:
            a.read(f)
            a.edit(f, 3, 3)
    a.bash("npm run typecheck", "Found 0 errors.", run=20.0)
    a.bash("npm run lint", "web/src/cart.ts\n  3:1  error  Unexpected var", error=True, run=6)
    a.bash("npm run lint -- --fix", "", run=6.0)  # changes files, invisibly to the log
    a.bash("npm run lint", "", run=6.0)
    a.bash("npm test", NPM_FAIL, error=True, run=25.0)
    a.read(web[1])
    a.edit(web[1], 2, 1)
    a.bash("npm test", "Tests: 88 passed, 88 total", run=25.0)
    a.say("Typecheck, lint and tests are green.", out=700)
    a.human("Tighten tsconfig to strict and fix what breaks", after=360.0)
    a.read(f"{ROOT}/web/tsconfig.json")
    a.edit(f"{ROOT}/web/tsconfig.json", 1, 1)
    for n in (9, 4):
        a.bash("npm run typecheck", f"Found {n} errors in 3 files.", error=True, run=20.0)
        for f in web[1:4]:
            a.edit(f, 2, 2)
    a.bash("npm run typecheck", "Found 0 errors.", run=20.0)
    a.say("Strict mode on; 13 fixes.", out=600)
    a.human("Great, update the README section on types", after=480.0)
    work(a, [f"{ROOT}/README.md"], test="npm test")
    a.say("README updated.", out=300)
    finish(a)


# ---- long planning, no edits yet ---------------------------------------------------------
def planning_design(a: Agent) -> None:
    topics = ["multi-currency", "tax rules", "the ledger", "migration", "rollout", "risks", "plan"]
    a.human("Let's design multi-currency support before writing code", after=0.0)
    for i, topic in enumerate(topics):
        for f in (SRC + MORE)[i * 2 : i * 2 + 3]:
            a.read(f)
        if i % 2 == 0:
            a.web(f"{topic} best practices ecommerce")
        a.grep(topic.split()[-1], SRC[:2])
        a.say(f"Here is how I would approach {topic}: ...", out=int(a.jitter(1800, 3200)))
        a.human(f"OK. What about {topics[(i + 1) % len(topics)]}?", after=a.jitter(180, 420))
    a.say("Summary of the design, ready for review.", out=3500)


def planning_plan_mode(a: Agent) -> None:
    a.human("Plan the move from Flask to FastAPI; don't change anything yet", after=0.0)
    for round_ in range(4):
        for f in (SRC + MORE)[round_ * 3 : round_ * 3 + 3]:
            a.read(f)
        a.grep("@app.route", SRC[:3])
        a.exit_plan(f"Plan v{round_ + 1}: ...", rejected=True)
        a.human(f"Not yet: also cover {['auth', 'tests', 'deploy', 'rollback'][round_]}", 120)
        a.say("Understood, revising the plan.", out=900)
        a.human("Take your time, check the blueprints too", after=a.jitter(200, 320))
    a.exit_plan("Plan v5: ...", rejected=False)
    a.say("Plan approved; I will start with the auth blueprint when you say go.", out=700)
