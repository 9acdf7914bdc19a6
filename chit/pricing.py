"""What a usage record cost, priced by genai-prices (never by a table of our own).

Bottom layer: imports only :mod:`chit.usage`. genai-prices is imported on first use, so
that commands that price nothing start fast.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chit.usage import Usage, add_known

#: Providers whose price genai-prices knows under the same id.
_PRICED_PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-responses": "openai",
    "bedrock": "aws",
    "vertex": "google",
    "azure": "azure",
}
#: Providers of one service, priced as it whatever the endpoint (a gateway, a VPC endpoint).
_PRICED_ANYWHERE = {"anthropic", "bedrock", "vertex", "azure"}


@dataclass(frozen=True, slots=True)
class Cost:
    """Money in USD for one request or a sum of them. ``Cost()`` is the identity of ``+``."""

    usd: Decimal | None = None
    """What the priced requests cost; ``None`` when no request could be priced."""
    saved_usd: Decimal | None = None
    """What prompt caching saved against the same tokens at the uncached input rate."""
    unpriced: int = 0
    """Requests whose model genai-prices does not know (their cost is missing)."""
    partial: bool = False
    """True when a count was unknown or a request unpriced: the figure is a lower bound."""
    prices_version: str | None = None
    """The genai-prices version that priced it."""

    def __add__(self, other: object) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(
            add_known(self.usd, other.usd),
            add_known(self.saved_usd, other.saved_usd),
            self.unpriced + other.unpriced,
            self.partial or other.partial,
            self.prices_version or other.prices_version,
        )

    def usd_str(self) -> str | None:
        """The JSON form: a decimal string of USD, six places, or ``None``."""
        return None if self.usd is None else f"{self.usd:.6f}"

    def to_json(self) -> dict[str, Any]:
        """The form a session file holds: amounts as exact decimal strings of USD."""
        return {
            "usd": _usd_json(self.usd),
            "saved_usd": _usd_json(self.saved_usd),
            "unpriced": self.unpriced,
            "partial": self.partial,
            "prices_version": self.prices_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cost:
        """Inverse of :meth:`to_json` (any decimal string is read exactly); a missing or
        unreadable field takes its default, so a file's value never raises."""
        unpriced, version = data.get("unpriced"), data.get("prices_version")
        return cls(
            parse_usd(data.get("usd")),
            parse_usd(data.get("saved_usd")),
            unpriced if isinstance(unpriced, int) and not isinstance(unpriced, bool) else 0,
            data.get("partial") is True,
            version if isinstance(version, str) else None,
        )


#: The longest decimal string of USD read, and the range of its exponent (``adjusted()``):
#: a hand-edited "1e999999999" must not turn into a billion digits.
_USD_LENGTH, _USD_LOWEST, _USD_HIGHEST = 64, -40, 20


def _usd_json(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def parse_usd(value: object) -> Decimal | None:
    """A finite decimal string of USD of sane size, else ``None`` (never raises)."""
    if not isinstance(value, str) or len(value) > _USD_LENGTH:
        return None
    try:
        d = Decimal(value)
    except ArithmeticError:
        return None
    if not d.is_finite() or not _USD_LOWEST <= d.adjusted() <= _USD_HIGHEST:
        return None if not d.is_finite() or d != 0 else Decimal(0)
    return d


def warm() -> None:
    """Load genai-prices in the background, once: started as a request goes out, the wait
    for the answer hides its import (0.3-0.5 s of pydantic models), so pricing the answer
    costs nothing a person feels. A failure here is left for :func:`price` to meet."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_load, name="chit-prices", daemon=True)
        _warming.start()


_warming: threading.Thread | None = None


def _load() -> None:
    # Whatever goes wrong here, price() meets it again and reports it in its turn.
    with contextlib.suppress(Exception):
        _priced({"input_tokens": 1}, "gpt-4o", "openai", None)  # the data snapshot too


def genai_provider(provider: str, base_url: str | None) -> tuple[str | None, str | None]:
    """The genai-prices ``(provider_id, provider_api_url)`` for a chit provider and endpoint.

    Anthropic's wire format and the clouds are priced as themselves whatever the endpoint
    (gateways and proxies pass their prices through); another endpoint is priced by its
    URL, and one genai-prices does not know (a local server) leaves the cost unknown.
    """
    if base_url and provider not in _PRICED_ANYWHERE:
        from urllib.parse import urlsplit

        if urlsplit(base_url).hostname != "api.openai.com":
            return None, base_url
    return _PRICED_PROVIDERS.get(provider), None


def price(
    usage: Usage,
    model: str,
    *,
    provider_id: str | None = None,
    provider_api_url: str | None = None,
    cache_write_1h: int | None = None,
) -> Cost:
    """Price one request's usage; unknown counts price as 0 and mark the cost partial.

    ``cache_write_1h`` is the part of ``cache_write_tokens`` written with a one-hour
    lifetime (Anthropic), priced at its own rate.
    """
    import genai_prices

    version = str(genai_prices.__version__)
    partial = not usage.complete
    inputs = usage.input_tokens or 0
    cache_read = min(usage.cache_read_tokens or 0, inputs)
    cache_write = min(usage.cache_write_tokens or 0, inputs - cache_read)
    counts: dict[str, int] = {
        "input_tokens": inputs,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "output_tokens": usage.output_tokens or 0,
    }
    if cache_write_1h:
        counts["cache_write_1h_tokens"] = min(cache_write_1h, cache_write)
    try:
        actual = _calc(counts, model, provider_id, provider_api_url)
        uncached = _calc(
            {"input_tokens": inputs, "output_tokens": counts["output_tokens"]},
            model,
            provider_id,
            provider_api_url,
        )
    except LookupError:
        return Cost(unpriced=1, partial=True, prices_version=version)
    return Cost(actual, uncached - actual, 0, partial, version)


def _calc(
    counts: dict[str, int], model: str, provider_id: str | None, api_url: str | None
) -> Decimal:
    return Decimal(_priced(counts, model, provider_id, api_url).total_price)


def _priced(
    counts: dict[str, int], model: str, provider_id: str | None, api_url: str | None
) -> Any:
    """genai-prices' answer for ``counts`` on ``model`` (``LookupError``: not known)."""
    import genai_prices

    usage = genai_prices.Usage(**counts)
    if api_url is not None:
        return genai_prices.calc_price(usage, model, provider_api_url=api_url)
    return genai_prices.calc_price(usage, model, provider_id=provider_id)


#: The prices :class:`ModelFacts` gives, per million tokens.
PRICES = ("input", "output", "cache_read")


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What genai-prices knows of a model beyond the cost of one request."""

    context_window: int | None
    """Its context window in tokens, where known."""
    price_per_mtok: dict[str, str | None]
    """USD per million tokens (:data:`PRICES`) as decimal strings; a tiered price by its
    base rate."""


@functools.lru_cache(maxsize=64)
def model_facts(model: str, provider: str, base_url: str | None) -> ModelFacts | None:
    """The context window and prices of ``model`` at a chit provider and endpoint;
    ``None`` when genai-prices does not know it."""
    provider_id, api_url = genai_provider(provider, base_url)
    try:
        found = _priced({"input_tokens": 1}, model, provider_id, api_url)
    except LookupError:
        return None
    window = found.model.context_window
    prices = {k: _per_mtok(getattr(found.model_price, f"{k}_mtok", None)) for k in PRICES}
    return ModelFacts(window if isinstance(window, int) else None, prices)


def _per_mtok(price: object) -> str | None:
    price = getattr(price, "base", price)
    return format(price, "f") if isinstance(price, Decimal) else None
