"""PriceBook against genai-prices' own calculator, overrides, caching and lazy import."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from genai_prices import Usage, calc_price

from agentwatch.core.tokens import Tokens
from agentwatch.infra.prices import Override, PriceBook, data_version, lookup

MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-5", "claude-haiku-4-5", "claude-opus-4-6"]
FEB = datetime(2026, 2, 3, 10, 14, tzinfo=UTC)  # claude-opus-4-6 still has >200k tiers
JUNE = datetime(2026, 6, 1, 12, tzinfo=UTC)  # claude-opus-4-6 flat since 2026-03-13

CALLS = {
    "plain": Tokens(input=1200, output=800),
    "write-5m": Tokens(input=10, output=300, cache_write=5000),
    "write-1h": Tokens(input=10, output=300, cache_write=5000, cache_write_1h=5000),
    "mixed": Tokens(input=3, output=50, cache_write=4000, cache_write_1h=1500, cache_read=90000),
    "ctx-200000": Tokens(input=1000, output=10, cache_read=199000),
    "ctx-200001": Tokens(input=1001, output=10, cache_read=199000),
    "long": Tokens(input=5, output=2000, cache_write=20000, cache_write_1h=8000, cache_read=190000),
}


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def genai_cost(model: str, t: Tokens, when: datetime) -> float:
    """genai-prices' price; its `input_tokens` includes cache reads and writes."""
    usage = Usage(
        input_tokens=t.input + t.cache_write + t.cache_read,
        cache_write_tokens=t.cache_write,
        cache_write_1h_tokens=t.cache_write_1h,
        cache_read_tokens=t.cache_read,
        output_tokens=t.output,
    )
    return float(calc_price(usage, model, genai_request_timestamp=when).total_price)


def test_price_data_version() -> None:
    assert data_version() == "0.2.3"


@pytest.mark.parametrize("when", [FEB, JUNE], ids=["feb", "june"])
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
@pytest.mark.parametrize("model", MODELS)
def test_cost_matches_genai_prices(book: PriceBook, model: str, call: str, when: datetime) -> None:
    rates = book(model, when.timestamp())
    assert rates is not None
    t = CALLS[call]
    expected = genai_cost(model, t, when)
    assert expected > 0
    assert rates.cost(t) == pytest.approx(expected, rel=1e-9, abs=0)


def test_long_context_tier_applies_to_the_whole_call(book: PriceBook) -> None:
    rates = book("claude-sonnet-4-5-20250929", FEB.timestamp())
    assert rates is not None
    # 212,005 context tokens: every part at the >200k price (6 / 22.5 / 7.5 / 12 / 0.6).
    assert rates.cost(CALLS["long"]) == pytest.approx(
        (5 * 6 + 2000 * 22.5 + 12000 * 7.5 + 8000 * 12 + 190000 * 0.6) / 1e6, rel=1e-12
    )
    # exactly 200,000 is still the base price; one more token is not
    assert rates.cost(CALLS["ctx-200000"]) == pytest.approx(
        (1000 * 3 + 10 * 15 + 199000 * 0.3) / 1e6, rel=1e-12
    )
    assert rates.cost(CALLS["ctx-200001"]) == pytest.approx(
        (1001 * 6 + 10 * 22.5 + 199000 * 0.6) / 1e6, rel=1e-12
    )


def test_prices_follow_the_call_date(book: PriceBook) -> None:
    feb, june = book("claude-opus-4-6", FEB.timestamp()), book("claude-opus-4-6", JUNE.timestamp())
    assert feb is not None
    assert june is not None
    assert feb.cost(CALLS["long"]) == pytest.approx(0.57505, rel=1e-12)
    assert june.cost(CALLS["long"]) == pytest.approx(0.300025, rel=1e-12)
    assert feb.cost(CALLS["plain"]) == june.cost(CALLS["plain"])


@pytest.mark.parametrize("model", MODELS)
def test_claude_cache_writes_cost_2x_for_1h_and_1_25x_for_5m(book: PriceBook, model: str) -> None:
    rates = book(model, FEB.timestamp())
    assert rates is not None
    base = rates.input.base
    assert rates.cache_write_1h.base == pytest.approx(2.0 * base)
    assert rates.cache_write_5m.base == pytest.approx(1.25 * base)
    one_hour = Tokens(cache_write=100_000, cache_write_1h=100_000)
    five_min = Tokens(cache_write=100_000)
    assert rates.cost(one_hour) == pytest.approx(2.0 * base / 10)
    assert rates.cost(five_min) == pytest.approx(1.25 * base / 10)
    assert rates.estimate is False
    assert rates.source == f"genai-prices 0.2.3: anthropic/{rates.model}"


def test_model_id_resolves_to_the_table_id(book: PriceBook) -> None:
    rates = book("claude-sonnet-4-5-20250929", FEB.timestamp())
    assert rates is not None
    assert rates.model == "claude-sonnet-4-5"
    assert (rates.input.base, rates.output.base, rates.cache_read.base) == (3.0, 15.0, 0.3)


@pytest.mark.parametrize("model", ["no-such-model-xyz", "unknown", "<synthetic>", ""])
def test_unknown_model_has_no_rates(book: PriceBook, model: str) -> None:
    assert book(model, FEB.timestamp()) is None


def test_config_override_wins_and_is_not_an_estimate() -> None:
    model = "claude-sonnet-4-5-20250929"
    book = PriceBook({model: Override(input=1.0, output=2.0, cache_read=0.05)})
    rates = book(model, FEB.timestamp())
    assert rates is not None
    assert rates.source == "config.toml"
    assert rates.estimate is False
    assert (rates.input.base, rates.output.base, rates.cache_read.base) == (1.0, 2.0, 0.05)
    assert (rates.cache_write_5m.base, rates.cache_write_1h.base) == (1.25, 2.0)
    t = Tokens(input=1000, output=100, cache_write=400, cache_write_1h=100, cache_read=10000)
    assert rates.cost(t) == pytest.approx((1000 + 200 + 300 * 1.25 + 100 * 2 + 500) / 1e6)
    # the override applies to any size of call: no long-context tier
    assert rates.cost(CALLS["long"]) == pytest.approx(
        (5 + 4000 + 12000 * 1.25 + 8000 * 2 + 190000 * 0.05) / 1e6
    )
    other = book("claude-haiku-4-5", FEB.timestamp())
    assert other is not None
    assert other.source.startswith("genai-prices")


def test_override_for_an_unknown_model() -> None:
    book = PriceBook({"local-llama": Override(0.5, 1.5, 0.6, 1.0, 0.05)})
    rates = book("local-llama", None)
    assert rates is not None
    assert rates.cost(Tokens(input=2, output=2, cache_write=2, cache_write_1h=1, cache_read=2)) == (
        pytest.approx((1.0 + 3.0 + 0.6 + 1.0 + 0.1) / 1e6)
    )


def test_lookups_are_cached(book: PriceBook) -> None:
    first = book("claude-haiku-4-5", FEB.timestamp())
    assert first is not None
    assert book("claude-haiku-4-5", FEB.timestamp()) is first
    assert book("claude-haiku-4-5", FEB.timestamp() + 3600) is first  # same day
    june = book("claude-opus-4-6", JUNE.timestamp())
    assert june is not book("claude-opus-4-6", FEB.timestamp())


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_prices_does_not_import_genai_prices() -> None:
    p = _fresh_python(
        "import agentwatch.infra.prices, sys; assert 'genai_prices' not in sys.modules"
    )
    assert p.returncode == 0, p.stderr


def test_override_lookup_does_not_import_genai_prices() -> None:
    p = _fresh_python(
        "import sys\n"
        "from agentwatch.infra.prices import Override, PriceBook\n"
        "r = PriceBook({'m': Override(1.0, 2.0)})('m', 0.0)\n"
        "assert r is not None and r.input.base == 1.0\n"
        "assert 'genai_prices' not in sys.modules"
    )
    assert p.returncode == 0, p.stderr


def test_importing_the_cli_leaves_textual_and_genai_prices_out() -> None:
    p = _fresh_python(
        "import agentwatch.cli, sys\n"
        "loaded = [m for m in ('textual', 'genai_prices') if m in sys.modules]\n"
        "assert not loaded, loaded"
    )
    assert p.returncode == 0, p.stderr


def test_wanted_names_each_model_and_day_the_price_data_is_needed_for() -> None:
    book = PriceBook({"claude-haiku-4-5": Override(1.0, 2.0)})
    feb, june = FEB.timestamp(), JUNE.timestamp()
    book("claude-opus-4-5", feb)  # looked up already
    asked = book.wanted(
        [
            ("claude-opus-4-6", feb),
            ("claude-opus-4-6", feb + 3600),  # the same day: asked once
            ("claude-opus-4-6", june),
            ("claude-opus-4-5", feb),
            ("claude-haiku-4-5", feb),  # overridden
            ("unknown", feb),
            ("<synthetic>", feb),
            ("", feb),
        ]
    )
    assert asked == [("claude-opus-4-6", feb), ("claude-opus-4-6", june)]


def test_rates_looked_up_elsewhere_stand_in_for_the_price_data() -> None:
    # What a scan worker sends back: the parent prices with it and never loads the data.
    model = "claude-opus-4-6"
    p = _fresh_python(
        "import sys\n"
        "from agentwatch.infra.prices import PriceBook\n"
        "book = PriceBook()\n"
        f"book.preload({lookup([(model, FEB.timestamp()), (model, JUNE.timestamp())])!r})\n"
        f"feb, june = book({model!r}, {FEB.timestamp()}), book({model!r}, {JUNE.timestamp()})\n"
        "assert 'genai_prices' not in sys.modules\n"
        "print(repr((feb.input.base, feb.input.tiers, june.input.base, june.input.tiers)))"
    )
    assert p.returncode == 0, p.stderr
    feb, june = PriceBook()(model, FEB.timestamp()), PriceBook()(model, JUNE.timestamp())
    assert feb is not None
    assert june is not None
    assert feb.input.tiers != june.input.tiers  # (so the days are told apart)
    expected = (feb.input.base, feb.input.tiers, june.input.base, june.input.tiers)
    assert p.stdout.strip() == repr(expected)


def test_an_override_outlasts_rates_looked_up_elsewhere() -> None:
    model = "claude-haiku-4-5"
    book = PriceBook({model: Override(1.0, 2.0)})
    book.preload(lookup([(model, FEB.timestamp())]))
    rates = book(model, FEB.timestamp())
    assert rates is not None
    assert rates.source == "config.toml"
