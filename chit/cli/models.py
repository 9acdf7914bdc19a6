"""``chit models``: what each configured or local provider serves, with the context window
and the price per million tokens where genai-prices knows them. No model is called."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chit.errors import ChitError
from chit.pricing import PRICES, model_facts
from chit.providers import Endpoint, configured
from chit.providers.local import Served, list_models, look

#: Seconds to wait for a configured provider's list.
TIMEOUT = 10.0
#: The prices shown, per million tokens.


@dataclass(frozen=True, slots=True)
class Row:
    """One model one endpoint serves."""

    provider: str
    base_url: str
    model: str
    context_window: int | None
    price_per_mtok: dict[str, str | None] | None
    """USD per million tokens as decimal strings; ``None`` when genai-prices has no price."""
    local: bool
    """Found by looking on this machine, not configured."""

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "base_url": self.base_url,
            "model": self.model,
            "context_window": self.context_window,
            "price_per_mtok": self.price_per_mtok,
            "local": self.local,
        }


def run_models(args: argparse.Namespace) -> int:
    """List the models; 0 when any was listed, 1 when none could be."""

    def warn(line: str) -> None:
        print(f"chit: warning: {line}", file=sys.stderr)

    rows = known_models(os.environ, args.provider, warn=warn)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        sys.stdout.write(models_text(rows))
    if not rows:
        print("chit: no models listed: no provider configured, or none answered", file=sys.stderr)
    return 0 if rows else 1


def known_models(
    env: Mapping[str, str],
    provider: str | None = None,
    *,
    current: Endpoint | None = None,
    warn: Callable[[str], None],
) -> list[Row]:
    """What ``current`` (the endpoint in use, first), each configured provider (or only
    ``provider``) and each local server serves; ``warn`` is told of each that could not
    answer."""
    rows: list[Row] = []
    listed: set[str] = set()
    endpoints = configured(env)
    if current is not None:
        endpoints.insert(0, current)
    for endpoint in endpoints:
        url = _shown_url(endpoint)
        if (provider is not None and endpoint.provider != provider) or url in listed:
            continue
        try:
            served = list_models(endpoint, TIMEOUT)
        except ChitError as err:
            warn(f"{endpoint.provider}: {err}")
            continue
        listed.add(url)
        rows += [_row(endpoint.provider, url, m, False) for m in served]
    # No local server speaks Anthropic's format; one that is not running is simply not listed.
    for answer in look(env) if provider != "anthropic" else []:
        server = answer.server
        wanted = provider is None or server.provider == provider
        if wanted and answer.error is None and server.url not in listed:
            rows += [_row(server.provider, server.url, m, True) for m in answer.models]
    return rows


def models_text(rows: list[Row]) -> str:
    """One line per model, in aligned columns."""
    if not rows:
        return ""
    table = [("PROVIDER", "URL", "MODEL", "CONTEXT", "USD/MTOK IN / OUT / CACHE READ")]
    for r in rows:
        window = f"{r.context_window:,}" if r.context_window else "-"
        table.append((r.provider, r.base_url, r.model, window, _price_text(r)))
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + f"  {line[4]}\n"
        for line in table
    )


def _price_text(row: Row) -> str:
    if row.price_per_mtok is None:
        return "local: no price" if row.local else "no price known"
    return " / ".join(row.price_per_mtok[k] or "-" for k in PRICES)


def _shown_url(endpoint: Endpoint) -> str:
    if endpoint.base_url:
        return endpoint.base_url
    if endpoint.provider == "anthropic":
        return "https://api.anthropic.com"
    return "https://api.openai.com/v1"


def _row(provider: str, url: str, served: Served, local: bool) -> Row:
    facts = model_facts(served.name, provider, url)
    window = None if facts is None else facts.context_window
    prices = None if facts is None else facts.price_per_mtok
    return Row(provider, url, served.name, served.context_window or window, prices, local)
