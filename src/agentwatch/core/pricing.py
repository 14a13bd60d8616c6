"""Per-call cost arithmetic over per-model rates (the rates themselves come from infra)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentwatch.core.tokens import Tokens

PER = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens, with long-context tiers.

    A tier applies to the whole call once the call's context (input + cache write + cache read)
    is above its threshold, as providers bill it.
    """

    base: float
    """Price below every tier."""
    tiers: tuple[tuple[int, float], ...] = ()
    """`(threshold, price)` pairs, ascending by threshold."""

    def at(self, context_tokens: int) -> float:
        """The price that applies to a call with this many context tokens."""
        price = self.base
        for start, tier_price in self.tiers:
            if context_tokens > start:
                price = tier_price
        return price


@dataclass(frozen=True, slots=True)
class Rates:
    """A model's prices at one date."""

    model: str
    """The price table's id for the model."""
    input: Rate
    """Fresh input."""
    output: Rate
    """Output, reasoning included."""
    cache_write_5m: Rate
    """5-minute cache writes."""
    cache_write_1h: Rate
    """1-hour cache writes."""
    cache_read: Rate
    """Cache reads."""
    source: str
    """Where the rates came from (price data version, or the config file)."""
    estimate: bool = False
    """True when a rate was filled in by a rule rather than read from the table."""

    def cost(self, t: Tokens) -> float:
        """USD for one API call."""
        i, o, w5, w1, r = (
            self.input,
            self.output,
            self.cache_write_5m,
            self.cache_write_1h,
            self.cache_read,
        )
        if not (i.tiers or o.tiers or w5.tiers or w1.tiers or r.tiers):  # the common case
            return (
                t.input * i.base
                + t.output * o.base
                + t.cache_write_5m * w5.base
                + t.cache_write_1h * w1.base
                + t.cache_read * r.base
            ) / PER
        ctx = t.input + t.cache_write + t.cache_read
        return (
            t.input * i.at(ctx)
            + t.output * o.at(ctx)
            + t.cache_write_5m * w5.at(ctx)
            + t.cache_write_1h * w1.at(ctx)
            + t.cache_read * r.at(ctx)
        ) / PER


class PriceLookup(Protocol):
    """Finds the rates of a model at a time; None when the model is unknown."""

    def __call__(self, model: str, ts: float | None, /) -> Rates | None: ...


def no_prices(model: str, ts: float | None, /) -> Rates | None:  # noqa: ARG001
    """A lookup that knows no model (every call unpriced)."""
    return None
