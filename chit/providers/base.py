"""What every provider module shares: the request it is given, its endpoint, and helpers.

A provider is one object with one method, ``stream(request)``, a generator of
:data:`chit.messages.Event` that always ends with exactly one ``AssistantTurn``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from chit.messages import Event, Message, RequestError, ToolSpec

#: The most of an error body chit reads (a gateway can answer with megabytes of HTML).
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """One request to a model: the conversation so far and what to offer it."""

    model: str
    """The model to ask."""
    messages: Sequence[Message]
    """The conversation, oldest first."""
    system: str = ""
    """The system prompt (kept byte-stable between requests so the cache holds)."""
    tools: Sequence[ToolSpec] = ()
    """Tools offered to the model."""
    max_tokens: int = 8192
    """The most output tokens to generate."""
    cache_key: str | None = None
    """A prompt cache key (the session id) for servers that accept one."""
    cache_ttl: Literal["5m", "1h"] = "5m"
    """Anthropic cache breakpoint lifetime."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach a provider. The key is read from the environment, never stored."""

    provider: str
    """``anthropic``, ``openai``, ``openai-responses`` or ``ollama``."""
    base_url: str | None = None
    """The endpoint, or ``None`` for the SDK's default."""
    api_key: str | None = None
    """The key from ``api_key_env`` (never written to any file)."""
    api_key_env: str = ""
    """The environment variable the key came from, named in auth errors."""
    max_retries: int = 2
    """Retries the SDK makes on 429, 5xx and connection errors."""
    timeout: float = 600.0
    """Seconds before a request times out."""

    def __repr__(self) -> str:
        # Never let the key reach a log, a traceback or a session file through repr().
        return f"Endpoint(provider={self.provider!r}, base_url={self.base_url!r})"


class Provider(Protocol):
    """A provider: turns a request into a stream of events."""

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning and tool-call events, then exactly one ``AssistantTurn``."""
        ...


def sse_events(http_response: Any) -> Iterator[tuple[str, str]]:
    """Frame a streaming HTTP response as server-sent events: ``(event name, data)`` pairs.

    ``http_response`` is the SDK's own ``http_response`` (from ``with_streaming_response``),
    so auth, base URL and retries stay the SDK's; only the body is framed here, which is
    several times faster than the SDKs' typed chunk objects.
    """
    from httpx_sse import EventSource

    for sse in EventSource(http_response).iter_sse():
        yield sse.event, sse.data


def decode(data: str | bytes) -> dict[str, Any] | None:
    """One JSON payload as a dict, or ``None`` when it is not a JSON object."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def status_error(status: int, body: bytes | str, key_env: str) -> RequestError:
    """A readable error for an HTTP status and (a bounded prefix of) its body."""
    detail = _error_detail(body[:MAX_ERROR_BODY])
    if status in (401, 403):
        hint = f"check {key_env}" if key_env else "check the API key"
        return RequestError(
            "auth", f"authentication failed ({status}): {hint}. {detail}".strip(), status
        )
    if status == 429:
        return RequestError(
            "rate_limit", f"rate limited (429) after retries. {detail}".strip(), status
        )
    if status == 529 or "overloaded" in detail.lower():
        return RequestError(
            "overloaded", f"the provider is overloaded ({status}). {detail}".strip(), status
        )
    if status >= 500:
        return RequestError("server", f"the provider failed ({status}). {detail}".strip(), status)
    if status == 404:
        return RequestError(
            "not_found",
            f"not found (404): check the model and --base-url. {detail}".strip(),
            status,
        )
    return RequestError(
        "bad_request", f"the provider refused the request ({status}). {detail}".strip(), status
    )


def _error_detail(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    data = decode(text)
    message: object = None
    if data is not None:
        err = data.get("error", data)
        message = err.get("message") if isinstance(err, dict) else err
    if not isinstance(message, str) or not message:
        message = text
    return " ".join(message.split())[:300]
