"""Accounts summed in one pass (a bulk load) equal accounts built call by call."""

from __future__ import annotations

import random

from agentwatch.core.accounts import Account, Call
from agentwatch.core.records import Agent, ThreadKey
from agentwatch.core.tokens import Tokens

T = ThreadKey(Agent.CLAUDE_CODE, "s")


def _calls(n: int, seed: int) -> list[Call]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        zero = rng.random() < 0.05  # a call that logged no tokens at all
        t = Tokens(*(0 if zero else rng.randrange(0, 5000) for _ in range(2)), 0, 0, 0, 0)
        if not zero and rng.random() < 0.5:
            w = rng.randrange(0, 900)
            t = Tokens(t.input, t.output, w, w // 3, rng.randrange(0, 90000), t.output // 4)
        priced = rng.random() < 0.8
        out.append(
            Call(
                ("k", str(i)),
                t,
                rng.choice(["a", "b", "c"]),
                None if rng.random() < 0.1 else 1.7e9 + rng.randrange(0, 3600),
                T,
                rng.random() / 100 if priced and not zero else (0.0 if priced else None),
                priced and rng.random() < 0.3,
                (T,),
            )
        )
    return out


def test_add_all_equals_adding_each_call() -> None:
    for seed in range(5):
        calls = _calls(400, seed)
        one_by_one, at_once = Account(), Account()
        for c in calls:
            one_by_one.add(c)
        at_once.add_all(calls)
        assert at_once == one_by_one
        assert one_by_one.unpriced  # the cases were all there: unpriced, untimed, estimates
        assert one_by_one.estimate_calls > 0
        assert sum(1 for c in calls if c.ts is None) > 0


def test_add_all_onto_an_account_that_already_has_calls() -> None:
    first, second = _calls(50, 7), _calls(60, 8)
    one_by_one, at_once = Account(), Account()
    for c in first + second:
        one_by_one.add(c)
    for c in first:
        at_once.add(c)
    at_once.add_all(second)
    assert at_once == one_by_one
