"""Normalized token counts (CLI_CONTRACT section 2) and their arithmetic."""

from __future__ import annotations

import msgspec

TOKEN_FIELDS: tuple[str, ...] = (
    "input",
    "output",
    "cache_write",
    "cache_write_1h",
    "cache_read",
    "reasoning",
    "total",
)


class Tokens(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Token counts of one API call or a sum of calls.

    `cache_write_1h` is part of `cache_write` and `reasoning` is part of `output`; neither is
    ever added to `total`. A msgspec Struct: created per log line, so construction cost counts.
    """

    input: int = 0
    """Fresh (uncached) input tokens."""
    output: int = 0
    """Output tokens, reasoning included."""
    cache_write: int = 0
    """Tokens written to the prompt cache (5-minute and 1-hour TTL together)."""
    cache_write_1h: int = 0
    """The 1-hour-TTL part of `cache_write`."""
    cache_read: int = 0
    """Tokens read from the prompt cache."""
    reasoning: int = 0
    """The reasoning part of `output`, where the agent reports it."""

    @property
    def total(self) -> int:
        """`input + output + cache_write + cache_read`."""
        return self.input + self.output + self.cache_write + self.cache_read

    @property
    def cache_write_5m(self) -> int:
        """The 5-minute-TTL part of `cache_write`."""
        return self.cache_write - self.cache_write_1h

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cache_write + other.cache_write,
            self.cache_write_1h + other.cache_write_1h,
            self.cache_read + other.cache_read,
            self.reasoning + other.reasoning,
        )

    def __sub__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input - other.input,
            self.output - other.output,
            self.cache_write - other.cache_write,
            self.cache_write_1h - other.cache_write_1h,
            self.cache_read - other.cache_read,
            self.reasoning - other.reasoning,
        )

    def __bool__(self) -> bool:
        return any((self.input, self.output, self.cache_write, self.cache_read, self.reasoning))

    def as_dict(self) -> dict[str, int]:
        """The contract's TOKENS object, `total` included."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_write": self.cache_write,
            "cache_write_1h": self.cache_write_1h,
            "cache_read": self.cache_read,
            "reasoning": self.reasoning,
            "total": self.total,
        }


ZERO = Tokens()
