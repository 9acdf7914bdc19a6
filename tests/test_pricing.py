"""Prices come from genai-prices; the figures here are worked out by hand from list prices."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import orjson
from hypothesis import given
from hypothesis import strategies as st

from chit.pricing import Cost, genai_provider, parse_usd, price
from chit.usage import Usage

M = Decimal(1_000_000)


def test_anthropic_cache_write_and_read() -> None:
    # claude-3-5-sonnet: $3 input, $3.75 cache write (5m), $0.30 cache read, $15 output per MTok.
    write = price(
        Usage.reported(1169, 0, 1165, 201, 0), "claude-3-5-sonnet-20240620", provider_id="anthropic"
    )
    assert write.usd == (4 * Decimal(3) + 1165 * Decimal("3.75") + 201 * Decimal(15)) / M
    read = price(
        Usage.reported(1169, 1165, 0, 221, 0), "claude-3-5-sonnet-20240620", provider_id="anthropic"
    )
    assert read.usd == (4 * Decimal(3) + 1165 * Decimal("0.3") + 221 * Decimal(15)) / M
    # Savings: the same 1169 input tokens at $3 minus what they cost.
    assert read.saved_usd == (1165 * Decimal(3) - 1165 * Decimal("0.3")) / M
    assert write.saved_usd == (1165 * Decimal(3) - 1165 * Decimal("3.75")) / M  # writing costs
    assert not read.partial
    assert read.prices_version == genai_prices.__version__


def test_anthropic_one_hour_cache_writes_have_their_own_rate() -> None:
    # claude-sonnet-4-5: $3 input, $3.75 5m write, $6 1h write.
    u = Usage.reported(2000, 0, 1000, 0, 0)
    five = price(u, "claude-sonnet-4-5", provider_id="anthropic")
    hour = price(u, "claude-sonnet-4-5", provider_id="anthropic", cache_write_1h=1000)
    assert five.usd == (1000 * Decimal(3) + 1000 * Decimal("3.75")) / M
    assert hour.usd == (1000 * Decimal(3) + 1000 * Decimal(6)) / M


def test_openai_cached_tokens() -> None:
    # gpt-4.1: $2 input, $0.50 cached input, $8 output per MTok.
    c = price(Usage.reported(1144, 1024, 0, 2, 0), "gpt-4.1-2025-04-14", provider_id="openai")
    assert c.usd == (120 * Decimal(2) + 1024 * Decimal("0.5") + 2 * Decimal(8)) / M
    assert c.usd_str() == "0.000768"


def test_unknown_model_has_no_cost_not_zero() -> None:
    c = price(Usage.reported(18, 0, 0, 203, 0), "gemma3:1b", provider_id="ollama")
    assert c.usd is None
    assert c.usd_str() is None
    assert c.unpriced == 1
    assert c.partial


def test_unknown_count_marks_the_cost_partial() -> None:
    c = price(Usage.reported(1000, 0, 0, None, None), "gpt-4.1", provider_id="openai")
    assert c.usd == 1000 * Decimal(2) / M
    assert c.partial


def test_costs_sum_and_keep_the_unpriced() -> None:
    a = price(Usage.reported(1000, 0, 0, 0, 0), "gpt-4.1", provider_id="openai")
    b = price(Usage.reported(10, 0, 0, 10, 0), "no-such-model-xyz", provider_id="openai")
    total = sum([a, b], Cost())
    assert total.usd == Decimal(2) * 1000 / M
    assert total.unpriced == 1 and total.partial
    assert Cost() + a == a


def test_genai_provider_mapping() -> None:
    assert genai_provider("anthropic", None) == ("anthropic", None)
    assert genai_provider("openai-responses", None) == ("openai", None)
    assert genai_provider("ollama", None) == (None, None)
    assert genai_provider("anthropic", "http://127.0.0.1:9") == ("anthropic", None)
    assert genai_provider("bedrock", "http://127.0.0.1:9") == ("aws", None)
    assert genai_provider("vertex", None) == ("google", None)
    assert genai_provider("azure", "https://res.openai.azure.com") == ("azure", None)
    assert genai_provider("openai", "https://api.openai.com/v1") == ("openai", None)
    assert genai_provider("openai", "https://api.groq.com/openai/v1") == (
        None,
        "https://api.groq.com/openai/v1",
    )


def test_an_endpoint_genai_prices_does_not_know_is_unpriced() -> None:
    provider_id, url = genai_provider("openai", "http://127.0.0.1:8000/v1")
    c = price(
        Usage.reported(10, 0, 0, 10, 0), "gpt-4o", provider_id=provider_id, provider_api_url=url
    )
    assert c.usd is None and c.unpriced == 1


money = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=100, places=9, allow_nan=False, allow_infinity=False),
)
costs = st.builds(
    Cost, money, money, st.integers(0, 3), st.booleans(), st.sampled_from([None, "1", "2"])
)


@given(costs)
def test_a_cost_round_trips_through_its_file_form_exactly(cost: Cost) -> None:
    assert Cost.from_json(orjson.loads(orjson.dumps(cost.to_json()))) == cost


@given(costs, costs, costs)
def test_costs_sum_associatively_from_the_identity(a: Cost, b: Cost, c: Cost) -> None:
    assert (a + b) + c == a + (b + c)
    assert Cost() + a == a == a + Cost()


# What a file may hold where a cost field belongs: decimal strings (some out of range or
# not plain), and every other JSON type.
usd_text = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-5, max_value=5).map(
        str
    ),
    st.sampled_from(
        ["0", "-0", "0E-50", "1e999999", "1e-50", "NaN", "Infinity", " 2.5 ", "1_0", "", "x"]
    ),
    st.text(max_size=70),
)
field_value = st.one_of(
    usd_text, st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False)
)


@given(
    st.dictionaries(
        st.sampled_from(["usd", "saved_usd", "unpriced", "partial", "prices_version"]), field_value
    )
)
def test_a_cost_as_a_file_holds_it_is_read_without_raising(data: dict[str, object]) -> None:
    cost = Cost.from_json(data)
    for amount in (cost.usd, cost.saved_usd):
        assert amount is None or (amount.is_finite() and -40 <= amount.adjusted() <= 20)
    assert isinstance(cost.unpriced, int) and isinstance(cost.partial, bool)
    assert cost.prices_version is None or isinstance(cost.prices_version, str)


def test_usd_strings_are_read_exactly_or_not_at_all() -> None:
    assert parse_usd("0.0014910") == Decimal("0.0014910")
    assert str(parse_usd("0.0014910")) == "0.0014910"
    for unreadable in ("NaN", "Infinity", "1e999999", "x", "", 1.5, None, True):
        assert parse_usd(unreadable) is None
    assert parse_usd("0E-50") == 0
