"""Deduplicated API calls and the running sums built from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from agentwatch.core.records import ThreadKey
from agentwatch.core.tokens import ZERO, Tokens


@dataclass(slots=True)
class Call:
    """One API call after dedup: the largest usage seen for its key, credited to one thread."""

    key: tuple[str, ...]
    """The dedup key."""
    tokens: Tokens
    """The largest usage seen for the key (C3)."""
    model: str
    """Model of the line that holds `tokens`."""
    ts: float | None
    """Timestamp of the line that holds `tokens`."""
    owner: ThreadKey
    """The thread credited with the call (C4)."""
    cost: float | None
    """USD, None when the model has no price."""
    estimate: bool
    """True when the price came from a fallback rule."""
    threads: tuple[ThreadKey, ...]
    """Every thread that holds a copy of the call."""
    message_id: str | None = None
    """API message id."""
    request_id: str | None = None
    """API request id."""


@dataclass(slots=True)
class Account:
    """Running sums over calls; `add`/`remove` keep it exact as calls grow or move."""

    tokens: Tokens = ZERO
    """Sum of the calls' tokens."""
    cost: float = 0.0
    """Sum of the priced calls' costs."""
    calls: int = 0
    """Number of calls."""
    priced_calls: int = 0
    """Calls that had a price."""
    estimate_calls: int = 0
    """Priced calls whose price came from a fallback."""
    unpriced: Counter[str] = field(default_factory=Counter)
    """Unpriced calls per model."""
    by_model: dict[str, Tokens] = field(default_factory=dict)
    """Tokens per model."""
    model_calls: Counter[str] = field(default_factory=Counter)
    """Calls per model."""
    cost_by_model: dict[str, float] = field(default_factory=dict)
    """Cost per model (priced calls only)."""
    per_minute: dict[int, int] = field(default_factory=dict)
    """Total tokens per minute of call time (epoch minute), for burn rates and sparklines."""
    cost_per_minute: dict[int, float] = field(default_factory=dict)
    """Cost of priced calls per minute of call time."""

    def add(self, call: Call, sign: int = 1) -> None:
        """Add a call's contribution (or take it away with `sign=-1`)."""
        t, model = call.tokens, call.model
        self.calls += sign
        if sign > 0:
            self.tokens = self.tokens + t
            self.by_model[model] = self.by_model.get(model, ZERO) + t
        else:
            self.tokens = self.tokens - t
            self.by_model[model] = self.by_model.get(model, ZERO) - t
        if call.cost is None:
            self.unpriced[model] += sign
            if self.unpriced[model] <= 0:
                del self.unpriced[model]
        else:
            self.priced_calls += sign
            self.cost += sign * call.cost
            self.cost_by_model[model] = self.cost_by_model.get(model, 0.0) + sign * call.cost
            if call.estimate:
                self.estimate_calls += sign
        if call.ts is not None:
            minute = int(call.ts // 60)
            left = self.per_minute.get(minute, 0) + sign * t.total
            if left:
                self.per_minute[minute] = left
            else:
                self.per_minute.pop(minute, None)
            if call.cost is not None:
                cost = self.cost_per_minute.get(minute, 0.0) + sign * call.cost
                if abs(cost) > 1e-12:
                    self.cost_per_minute[minute] = cost
                else:
                    self.cost_per_minute.pop(minute, None)
        self.model_calls[model] += sign
        if self.model_calls[model] <= 0:
            del self.model_calls[model]
            self.by_model.pop(model, None)
            self.cost_by_model.pop(model, None)

    def add_all(self, calls: Iterable[Call]) -> None:
        """Add many calls in one pass (a bulk load): the sums `add` gives, in the same order."""
        inp = out = write = write_1h = read = reasoning = 0
        by_model: dict[str, list[int]] = {}
        per_minute, cost_per_minute = self.per_minute, self.cost_per_minute
        cost_by_model, unpriced, model_calls = self.cost_by_model, self.unpriced, self.model_calls
        n = priced = estimates = 0
        cost = self.cost
        for call in calls:
            t, model, c = call.tokens, call.model, call.cost
            n += 1
            inp += t.input
            out += t.output
            write += t.cache_write
            write_1h += t.cache_write_1h
            read += t.cache_read
            reasoning += t.reasoning
            sums = by_model.get(model)
            if sums is None:
                sums = by_model[model] = [0, 0, 0, 0, 0, 0]
            sums[0] += t.input
            sums[1] += t.output
            sums[2] += t.cache_write
            sums[3] += t.cache_write_1h
            sums[4] += t.cache_read
            sums[5] += t.reasoning
            model_calls[model] += 1
            if c is None:
                unpriced[model] += 1
            else:
                priced += 1
                cost += c
                cost_by_model[model] = cost_by_model.get(model, 0.0) + c
                if call.estimate:
                    estimates += 1
            if call.ts is not None:
                minute = int(call.ts // 60)
                per_minute[minute] = per_minute.get(minute, 0) + t.total
                if c is not None:
                    cost_per_minute[minute] = cost_per_minute.get(minute, 0.0) + c
        self.calls += n
        self.priced_calls += priced
        self.estimate_calls += estimates
        self.cost = cost
        self.tokens = self.tokens + Tokens(inp, out, write, write_1h, read, reasoning)
        for model, v in by_model.items():
            self.by_model[model] = self.by_model.get(model, ZERO) + Tokens(*v)
        for minute in [m for m, v in per_minute.items() if not v]:
            del per_minute[minute]
        for minute in [m for m, v in cost_per_minute.items() if abs(v) <= 1e-12]:
            del cost_per_minute[minute]

    def remove(self, call: Call) -> None:
        """Take a call's contribution away."""
        self.add(call, -1)

    def merge(self, other: Account) -> None:
        """Add every call of another account."""
        if not self.calls and not self.model_calls:  # the common case: copy, don't add
            self.tokens, self.cost, self.calls = other.tokens, other.cost, other.calls
            self.priced_calls, self.estimate_calls = other.priced_calls, other.estimate_calls
            self.unpriced, self.model_calls = Counter(other.unpriced), Counter(other.model_calls)
            self.by_model, self.cost_by_model = dict(other.by_model), dict(other.cost_by_model)
            self.per_minute = dict(other.per_minute)
            self.cost_per_minute = dict(other.cost_per_minute)
            return
        self.tokens = self.tokens + other.tokens
        self.cost += other.cost
        self.calls += other.calls
        self.priced_calls += other.priced_calls
        self.estimate_calls += other.estimate_calls
        self.unpriced.update(other.unpriced)
        self.model_calls.update(other.model_calls)
        for m, t in other.by_model.items():
            self.by_model[m] = self.by_model.get(m, ZERO) + t
        for m, c in other.cost_by_model.items():
            self.cost_by_model[m] = self.cost_by_model.get(m, 0.0) + c
        for minute, n in other.per_minute.items():
            self.per_minute[minute] = self.per_minute.get(minute, 0) + n
        for minute, c in other.cost_per_minute.items():
            self.cost_per_minute[minute] = self.cost_per_minute.get(minute, 0.0) + c

    def since(self, start: float) -> tuple[int, float]:
        """Tokens and cost of calls from `start` (by minute) on."""
        first = int(start // 60)
        tokens = sum(n for m, n in self.per_minute.items() if m >= first)
        cost = sum(c for m, c in self.cost_per_minute.items() if m >= first)
        return tokens, cost

    def burn_rate(self, now: float, window: float = 300.0) -> float:
        """Tokens per minute over the last `window` seconds (by call time)."""
        first = int((now - window) // 60)
        last = int(now // 60)
        used = sum(n for m, n in self.per_minute.items() if first < m <= last)
        return used / (window / 60.0)

    @property
    def cost_usd(self) -> float | None:
        """The contract's `cost_usd`: None only when no call could be priced."""
        return self.cost if self.priced_calls else None

    @property
    def cost_is_estimate(self) -> bool:
        """True when a model had no price or a price came from a fallback."""
        return bool(self.unpriced) or self.estimate_calls > 0

    @property
    def unpriced_models(self) -> list[str]:
        """Models with unpriced calls, sorted."""
        return sorted(self.unpriced)

    @property
    def models(self) -> list[str]:
        """Models with calls, sorted."""
        return sorted(self.by_model)
