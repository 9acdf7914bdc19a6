"""What a provider is, without any wire: where it is (:class:`Endpoint`), what is asked
(:class:`Request`), and the :class:`Provider` protocol.

Nothing here imports httpx or a wire module, so choosing a provider and building an agent
costs no more than the standard library; the sending starts with :func:`chit.providers.connect`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # only named in annotations: choosing a provider loads no message type
    from chit.messages import Event, Message, ToolSpec


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach a provider. The key is read from the environment, never stored."""

    provider: str
    """``anthropic``, ``openai``, ``openai-responses`` or ``ollama``."""
    base_url: str | None = None
    """The endpoint, or ``None`` for the provider's own."""
    api_key: str | None = None
    """The key from ``api_key_env`` (never written to any file)."""
    api_key_env: str = ""
    """The environment variable the key came from, named in auth errors."""
    max_retries: int = 2
    """Retries on 408, 409, 429, 5xx and connection errors (the SDKs' default: 2)."""
    connect_timeout: float = 10.0
    """Seconds to open a connection."""
    first_byte_timeout: float = 60.0
    """Seconds from sending the request to the response's first byte (its status line)."""
    read_timeout: float = 120.0
    """The longest silence, in seconds, between two pieces of a response body."""
    retry_delay: float = 0.5
    """The first backoff wait in seconds (the SDKs' ``INITIAL_RETRY_DELAY``), doubled each
    retry up to ``MAX_RETRY_DELAY``."""
    home: Path | None = None
    """chit's home, where what was learned about endpoints is kept (``None``: nothing is)."""

    def __repr__(self) -> str:
        # Never let the key reach a log, a traceback or a session file through repr().
        return f"Endpoint(provider={self.provider!r}, base_url={self.base_url!r})"


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


class Provider(Protocol):
    """A provider: turns a request into a stream of events; closed once, when done."""

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning and tool-call events, then exactly one ``AssistantTurn``."""
        ...

    def close(self) -> None:
        """Close the pooled connections."""
        ...
