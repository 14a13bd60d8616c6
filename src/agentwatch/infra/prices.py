"""Model prices: the bundled genai-prices data (offline, imported lazily) plus user overrides."""

from __future__ import annotations

import functools
import importlib.util
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from agentwatch.core.pricing import Rate, Rates

PACKAGE = "genai-prices"
# The price data ships inside the package; these are its release months (the data's date).
DATA_DATES = {"0.2.3": "2026-11"}


@functools.cache
def data_version() -> str:
    """Installed price data version, read from its dist-info folder name (cheap at start-up)."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is not None and spec.origin:
        site = Path(spec.origin).parent.parent
        for info in site.glob("genai_prices-*.dist-info"):
            return info.name[len("genai_prices-") : -len(".dist-info")]
    from importlib import metadata  # noqa: PLC0415 (slow; only for unusual installs)

    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "missing"


def data_date() -> str:
    """When the bundled price data was published, as far as agentwatch knows."""
    return DATA_DATES.get(data_version(), "unknown")


@dataclass(frozen=True, slots=True)
class Override:
    """Prices a user set in config.toml, USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None
    cache_read: float | None = None

    def rates(self, model: str) -> Rates:
        """As rates; unset cache prices follow the usual 1.25x / 2x / 0.1x of input."""
        return Rates(
            model,
            Rate(self.input),
            Rate(self.output),
            Rate(self.cache_write_5m if self.cache_write_5m is not None else self.input * 1.25),
            Rate(self.cache_write_1h if self.cache_write_1h is not None else self.input * 2.0),
            Rate(self.cache_read if self.cache_read is not None else self.input * 0.1),
            "config.toml",
        )


def _plain(r: Rates) -> list[Any]:
    rates = (r.input, r.output, r.cache_write_5m, r.cache_write_1h, r.cache_read)
    return [r.model, [[x.base, [list(t) for t in x.tiers]] for x in rates], r.source, r.estimate]


def _unplain(v: list[Any]) -> Rates:
    inp, out, w5, w1, read = (
        Rate(b, tuple((int(s), float(p)) for s, p in tiers)) for b, tiers in v[1]
    )
    return Rates(v[0], inp, out, w5, w1, read, v[2], v[3])


def _rate(value: Any) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return Rate(float(value))
    tiers = tuple((int(t.start), float(t.price)) for t in getattr(value, "tiers", ()))
    return Rate(float(value.base), tiers)


def _day(ts: float | None) -> int:
    """The day (since the epoch, UTC) rates are kept by; today when `ts` is None."""
    return int((ts if ts is not None else time.time()) // 86400)


_UNPRICED = ("unknown", "<synthetic>")
"""Model names that never have a price."""


class PriceBook:
    """Rates per model and day. Thread-safe; genai-prices is imported on first use only."""

    def __init__(self, overrides: dict[str, Override] | None = None) -> None:
        self._overrides = {k.lower(): v for k, v in (overrides or {}).items()}
        self._cache: dict[tuple[str, int], Rates | None] = {}
        self._lock = threading.Lock()
        self._snapshot: Any = None

    def __call__(self, model: str, ts: float | None, /) -> Rates | None:
        """Rates for `model` on the day of `ts` (today when None); None if unknown."""
        key = (model, _day(ts))
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self._lock:
            rates = self._lookup(model, ts)
            self._cache[key] = rates
        return rates

    def export(self) -> list[Any]:
        """The rates looked up so far, as plain data (kept in the index: a warm start that
        meets known models never imports the price package)."""
        with self._lock:
            items = list(self._cache.items())
        return [[m, day, _plain(r) if r is not None else None] for (m, day), r in items]

    def preload(self, data: list[Any]) -> None:
        """Take rates from `export` (made with the same price data, by this book or by one
        in a scan worker); a model with an override keeps the override."""
        with self._lock:
            for m, day, r in data:
                if m.lower() not in self._overrides:
                    self._cache.setdefault((m, day), _unplain(r) if r is not None else None)

    def wanted(self, pairs: Iterable[tuple[str, float | None]]) -> list[tuple[str, float]]:
        """Which of these (model, time) pairs this book would need the price data for: one
        pair per model and day not looked up yet (another process can look them up, with
        `lookup`, and this one never load the data)."""
        out: dict[tuple[str, int], float] = {}
        cache, overrides = self._cache, self._overrides
        for model, ts in pairs:
            key = (model, _day(ts))
            if key in cache or key in out or model in _UNPRICED or not model:
                continue
            if model.lower() not in overrides:
                out[key] = ts if ts is not None else time.time()
        return [(m, ts) for (m, _), ts in out.items()]

    def _lookup(self, model: str, ts: float | None) -> Rates | None:
        override = self._overrides.get(model.lower())
        if override is not None:
            return override.rates(model)
        if model in _UNPRICED or not model:
            return None
        snap = self._load()
        try:
            provider, info = snap.find_provider_model(model, None, None, None)
        except LookupError:
            return None
        when = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
        return _rates_of(provider, info, when)

    def _load(self) -> Any:
        if self._snapshot is None:
            from genai_prices import data_snapshot  # noqa: PLC0415 (slow import, deferred)

            self._snapshot = data_snapshot.get_snapshot()
        return self._snapshot

    def known_models(self) -> list[tuple[str, Rates]]:
        """Every model in the price data with today's rates: (provider id, rates)."""
        now = datetime.now(UTC)
        out = []
        for provider in self._load().providers:
            for info in provider.models:
                rates = _rates_of(provider, info, now)
                if rates is not None:
                    out.append((provider.id, rates))
        return out


def lookup(pairs: Iterable[tuple[str, float]]) -> list[Any]:
    """The price data's rates for these (model, time) pairs, as `PriceBook.export` gives
    them (for a scan worker to answer `PriceBook.wanted`)."""
    book = PriceBook()
    for model, ts in pairs:
        book(model, ts)
    return book.export()


def _rates_of(provider: Any, info: Any, when: datetime) -> Rates | None:
    p = info.get_prices(when)
    inp, out = _rate(p.input_mtok), _rate(p.output_mtok)
    if inp is None or out is None:
        return None
    estimate = False
    read = _rate(p.cache_read_mtok)
    if read is None:
        read, estimate = inp, True
    w5 = _rate(p.cache_write_mtok)
    w1 = _rate(getattr(p, "cache_write_1h_mtok", None))
    if provider.id == "anthropic":
        if w5 is None:
            w5, estimate = Rate(inp.base * 1.25), True
        if w1 is None:
            w1, estimate = Rate(inp.base * 2.0), True
    w5 = w5 if w5 is not None else Rate(0.0)
    w1 = w1 if w1 is not None else w5
    source = f"{PACKAGE} {data_version()}: {provider.id}/{info.id}"
    return Rates(info.id, inp, out, w5, w1, read, source, estimate)
