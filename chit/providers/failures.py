"""A provider's refusals in words a user can act on: error statuses and error bodies.

``RequestError.type`` is the short machine name a front end reads: ``auth``,
``rate_limit``, ``overloaded``, ``server``, ``not_found``, ``bad_request``,
``context_length`` (the conversation no longer fits the model's context window), and,
named elsewhere, ``connection`` and ``timeout`` (no answer, or the stream stopped),
``bad_response`` (an answer chit cannot read) and ``interrupted`` (Ctrl-C only).
"""

from __future__ import annotations

from chit.messages import RequestError
from chit.providers.framing import decode

#: Error codes and types that say the prompt does not fit: OpenAI and compatible servers,
#: llama.cpp's server.
_CONTEXT_CODES = frozenset(("context_length_exceeded", "exceed_context_size_error"))
#: What the messages of those refusals say, lower-cased: Anthropic ("prompt is too long"),
#: OpenAI, vLLM, DeepSeek and OpenRouter ("maximum context length"), llama.cpp and Ollama
#: ("exceeds the available context size", "exceeds the context length"), Bedrock.
_CONTEXT_WORDS = (
    "prompt is too long",
    "maximum context length",
    "context length exceeded",
    "exceeds the context",
    "exceeds context length",
    "exceeds the available context",
    "too long to fit into the model",
    "input is too long",
)


def context_refused(message: str, *codes: object) -> bool:
    """Whether an error says the conversation is too long for the model's context window."""
    if any(code in _CONTEXT_CODES for code in codes if isinstance(code, str)):
        return True
    said = message.lower()
    return any(words in said for words in _CONTEXT_WORDS)


def context_error(message: str, status: int | None = None) -> RequestError:
    """The refusal of a conversation too long for the model."""
    where = f" ({status})" if status is not None else ""
    return RequestError(
        "context_length",
        f"the conversation is too long for the model's context window{where}. {message}".strip(),
        status,
    )


def status_error(status: int, body: bytes | str, key_env: str) -> RequestError:
    """A readable error for an HTTP status and (a bounded prefix of) its body."""
    detail, codes = _error_detail(body)
    if status in (401, 403):
        hint = f"check {key_env}" if key_env else "check the API key"
        return RequestError(
            "auth", f"authentication failed ({status}): {hint}. {detail}".strip(), status
        )
    if status == 429:  # "request too large ... tokens per min" is a rate, not the window
        return RequestError(
            "rate_limit", f"rate limited (429) after retries. {detail}".strip(), status
        )
    if context_refused(detail, *codes):
        return context_error(detail, status)
    if status == 529 or "overloaded" in detail.lower():
        return RequestError(
            "overloaded", f"the provider is overloaded ({status}). {detail}".strip(), status
        )
    if status >= 500:
        return RequestError("server", f"the provider failed ({status}). {detail}".strip(), status)
    if status < 400:  # a redirect chit does not follow (a plain-http endpoint)
        return RequestError(
            "bad_request", f"the endpoint redirects ({status}): check --base-url", status
        )
    if status == 404:
        return RequestError(
            "not_found",
            f"not found (404): check the model and --base-url. {detail}".strip(),
            status,
        )
    return RequestError(
        "bad_request", f"the provider refused the request ({status}). {detail}".strip(), status
    )


def _error_detail(body: bytes | str) -> tuple[str, tuple[object, ...]]:
    """The message of an error body (its whole text when it has none), on one line, and
    the code and type it names."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    data = decode(text)
    message: object = None
    codes: tuple[object, ...] = ()
    if data is not None:
        err = data.get("error", data)
        if isinstance(err, dict):
            message, codes = err.get("message"), (err.get("code"), err.get("type"))
        else:
            message = err
    if not isinstance(message, str) or not message:
        message = text
    return " ".join(message.split())[:300], codes
