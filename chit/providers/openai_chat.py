"""OpenAI Chat Completions and compatible servers: the SDK sends, chit reads the raw stream.

The ``openai`` SDK keeps auth, base URL, retries and status errors; the body is framed as
server-sent events and decoded with orjson. The SDK's typed chunks are slower, raise on an
error chunk before handing over the usage it carries, and drop ``choices[i].usage`` and
``x_groq.usage``. Usage follows spec/usage.md: the last non-null usage object, never summed.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import httpx2
import openai

from chit.messages import (
    AssistantTurn,
    Ended,
    Event,
    ReasoningDelta,
    RequestError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
)
from chit.providers._http import bound_error_body, read_error_body
from chit.providers.base import Endpoint, Request, decode, sse_events, status_error
from chit.usage import Usage

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class OpenAIChatProvider:
    """Streams one Chat Completions request at a time through the ``openai`` SDK."""

    name = "openai"

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client = openai.OpenAI(
            # Local servers take any key; one that wants a real key answers 401, named below.
            api_key=endpoint.api_key or "not-needed",
            base_url=endpoint.base_url,
            max_retries=endpoint.max_retries,
            timeout=endpoint.timeout,
            http_client=openai.DefaultHttpxClient(event_hooks={"response": [bound_error_body]}),
        )
        # Close pooled connections as soon as the provider goes, not whenever the cyclic
        # garbage collector reaches a socket (an unclosed socket is a ResourceWarning).
        self.close = weakref.finalize(self, self._client.close)
        # The SDK's resolved base URL decides, so OPENAI_BASE_URL cannot fool the host rule.
        host = urlsplit(str(self._client.base_url)).hostname or ""
        self._official = host == "api.openai.com"
        self._azure = host.endswith(".openai.azure.com")
        # Parameters a server rejected once are not sent to this endpoint again.
        self._send_stream_options = True
        self._send_cache_key = self._official

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning and tool-call events, then exactly one ``AssistantTurn``.

        Ctrl-C (raised in a read, or thrown in at a yield) closes the response and ends
        the stream with the turn marked interrupted, holding exactly the usage that arrived.
        """
        acc = _Accumulator(self.endpoint.api_key_env)
        try:
            yield from self._attempts(request, acc)
        except KeyboardInterrupt:
            acc.end(Ended.INTERRUPTED, RequestError("interrupted", "interrupted by the user"))
        except Exception as err:  # a malformed stream must still end with a record
            acc.end(Ended.ERROR, RequestError("bad_response", f"{type(err).__name__}: {err}"))
        yield acc.turn(request.model)

    def _attempts(self, request: Request, acc: _Accumulator) -> Iterator[Event]:
        # At most one retry per optional parameter a server may reject.
        for _ in range(3):
            params = self.params(request)
            try:
                with self._client.chat.completions.with_streaming_response.create(
                    **params
                ) as response:
                    yield from acc.read(response.http_response)
            except openai.APIStatusError as err:
                body = read_error_body(err.response)
                if err.status_code in (400, 422) and self._drop_rejected(body, params):
                    continue
                acc.end(Ended.ERROR, status_error(err.status_code, body, self.endpoint.api_key_env))
            except openai.APIConnectionError as err:
                what = "timed out" if isinstance(err, openai.APITimeoutError) else "failed"
                cause = f": {err.__cause__}" if err.__cause__ else ""
                message = f"connection to {self._client.base_url} {what}{cause}"
                acc.end(Ended.ERROR, RequestError("connection", message))
            except httpx2.HTTPError as err:
                # Mid-body the SDK no longer wraps transport errors: the stream was cut.
                message = f"the connection failed mid-response ({type(err).__name__}: {err})"
                acc.end(Ended.INTERRUPTED, RequestError("connection", message))
            return

    def params(self, request: Request) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for a request.

        OpenAI's own API (and Azure's) want ``max_completion_tokens``, which reasoning
        models require; compatible servers (DeepSeek, Mistral, OpenRouter, vLLM, llama.cpp)
        know ``max_tokens`` and some silently ignore the newer name, so they get that.
        """
        params: dict[str, Any] = {"model": request.model, "messages": _messages(request)}
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if self._official or self._azure:
            params["max_completion_tokens"] = request.max_tokens
        else:
            params["max_tokens"] = request.max_tokens
        params["stream"] = True
        if self._send_stream_options:
            params["stream_options"] = {"include_usage": True}
        if self._send_cache_key and request.cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params

    def _drop_rejected(self, body: bytes, params: dict[str, Any]) -> bool:
        """Stop sending an optional parameter the error body names; True to retry without."""
        text = body.decode("utf-8", "replace")
        if "stream_options" in params and ("stream_options" in text or "include_usage" in text):
            self._send_stream_options = False
            return True
        if "prompt_cache_key" in params and "prompt_cache_key" in text:
            self._send_cache_key = False
            return True
        return False


def _messages(request: Request) -> list[dict[str, Any]]:
    """Provider-neutral messages in the Chat Completions shape, system prompt first."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            # Reasoning is not sent back: DeepSeek rejects reasoning_content in the input.
            item: dict[str, Any] = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                item["content"] = message.text or None
                item["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in message.tool_calls
                ]
            out.append(item)
        else:
            out.extend(
                {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                for r in message.tool_results
            )
    return out


@dataclass
class _Call:
    """A tool call being assembled from ``delta.tool_calls`` fragments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _Accumulator:
    """What one response has said so far; becomes the ``AssistantTurn`` however it ends."""

    def __init__(self, key_env: str) -> None:
        self.key_env = key_env
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, _Call] = {}
        self.usage: dict[str, Any] | None = None
        self.raw_usage: list[dict[str, Any]] = []
        self.model: str | None = None
        self.service_tier: str | None = None
        self.finish: str | None = None
        self.ended = Ended.COMPLETE
        self.error: RequestError | None = None

    def end(self, ended: Ended, error: RequestError) -> None:
        self.ended, self.error = ended, error

    def read(self, http_response: httpx2.Response) -> Iterator[Event]:
        """Read the event stream to ``[DONE]``, an error, or the end of the body."""
        for event, data in sse_events(http_response):
            if data == "[DONE]":
                break
            chunk = decode(data)
            if chunk is None:
                continue
            error = chunk.get("error")
            if event == "error" or error:
                self.take_usage(chunk)  # OpenRouter puts the usage on the error chunk itself
                self.end(Ended.ERROR, _stream_error(error or chunk, self.key_env))
                return
            yield from self.take(chunk)
        else:
            # No [DONE]: a body that ended cleanly after a finish_reason said everything;
            # one that stopped before any finish_reason was cut short.
            if self.finish is None:
                message = "the stream ended before the response was complete"
                self.end(Ended.INTERRUPTED, RequestError("connection", message))
                return
        for call in self.tool_calls():
            yield ToolCallEvent(call)

    def take(self, chunk: dict[str, Any]) -> Iterator[Event]:
        """Take one chunk: its model, usage and deltas; yield its text and reasoning."""
        model = chunk.get("model")
        if model and isinstance(model, str):
            self.model = model
        tier = chunk.get("service_tier")
        if tier and isinstance(tier, str):
            self.service_tier = tier
        self.take_usage(chunk)
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                content = delta.get("content")
                if content and isinstance(content, str):
                    self.text.append(content)
                    yield TextDelta(content)
                elif isinstance(content, list):
                    yield from self._parts(content)
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and isinstance(reasoning, str):
                    self.reasoning.append(reasoning)
                    yield ReasoningDelta(reasoning)
                for fragment in delta.get("tool_calls") or ():
                    if isinstance(fragment, dict):
                        self._take_call(fragment)
            finish = choice.get("finish_reason")
            if finish and isinstance(finish, str):
                self.finish = finish

    def take_usage(self, chunk: dict[str, Any]) -> None:
        """Keep the chunk's usage, if it has one; a later ``usage: null`` erases nothing."""
        usage = _usage_of(chunk)
        if usage is not None:
            self.usage = usage
            if not self.raw_usage or self.raw_usage[-1] != usage:
                self.raw_usage.append(usage)

    def _parts(self, parts: list[Any]) -> Iterator[Event]:
        # Mistral's reasoning models send content as typed parts: text and thinking.
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and part.get("text") and isinstance(part["text"], str):
                self.text.append(part["text"])
                yield TextDelta(part["text"])
            elif part.get("type") == "thinking" and isinstance(part.get("thinking"), list):
                for piece in part["thinking"]:
                    if isinstance(piece, dict) and isinstance(piece.get("text"), str):
                        self.reasoning.append(piece["text"])
                        yield ReasoningDelta(piece["text"])

    def _take_call(self, fragment: dict[str, Any]) -> None:
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        index = fragment.get("index")
        if not isinstance(index, int):
            # Servers that omit the index send each call whole: a new id or name is a new call.
            new = fragment.get("id") or function.get("name") or not self.calls
            index = len(self.calls) if new else max(self.calls)
        call = self.calls.setdefault(index, _Call())
        if fragment.get("id"):
            call.id = str(fragment["id"])
        if function.get("name"):
            call.name = str(function["name"])
        if isinstance(function.get("arguments"), str):
            call.arguments.append(function["arguments"])

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The calls known to be whole, in index order; a call without an id gets one.

        Calls stream one after another, so a call is whole once a later one has begun, and
        every call is whole once a finish_reason has come.
        """
        last = None if self.finish is not None else max(self.calls, default=None)
        return tuple(
            ToolCall(call.id or f"call_{index}", call.name, "".join(call.arguments) or "{}")
            for index, call in sorted(self.calls.items())
            if call.name and index != last
        )

    def turn(self, model_requested: str) -> AssistantTurn:
        """The final record of the request, however it ended."""
        extras: dict[str, Any] = {}
        usage = Usage.reported()
        if self.usage is not None:
            usage = _normalize(self.usage)
            cost = self.usage.get("cost")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                extras["provider_cost"] = str(cost)
            details = self.usage.get("prompt_tokens_details")
            ttl = details.get("cache_write_tokens_details") if isinstance(details, dict) else None
            if isinstance(ttl, dict):
                extras["cache_write_ttl"] = ttl
            extras["raw_usage"] = self.raw_usage
        if self.service_tier:
            extras["service_tier"] = self.service_tier
        return AssistantTurn(
            provider="openai",
            model_requested=model_requested,
            usage=usage,
            model=self.model,
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=self.tool_calls(),
            stop_reason=self.finish,
            ended=self.ended,
            error=self.error,
            extras=extras,
        )


def _usage_of(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """The chunk's usage object: ``usage``, else ``choices[i].usage``, else ``x_groq.usage``."""
    usage = chunk.get("usage")
    if _has_counts(usage):
        return usage
    for choice in chunk.get("choices") or ():
        usage = choice.get("usage") if isinstance(choice, dict) else None
        if _has_counts(usage):
            return usage
    groq = chunk.get("x_groq")
    usage = groq.get("usage") if isinstance(groq, dict) else None
    return usage if _has_counts(usage) else None


def _has_counts(usage: object) -> TypeGuard[dict[str, Any]]:
    # A usage object without any count ({} or only timings) is as good as null.
    return isinstance(usage, dict) and any(usage.get(k) is not None for k in _COUNTS)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _normalize(usage: dict[str, Any]) -> Usage:
    """One Chat Completions usage object as a record (spec/usage.md, the OpenAI rules)."""
    p = _int(usage.get("prompt_tokens"))
    c = _int(usage.get("completion_tokens"))
    t = _int(usage.get("total_tokens"))
    prompt = usage.get("prompt_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = usage.get("completion_tokens_details")
    completion = completion if isinstance(completion, dict) else {}
    cache_read = next(
        (
            n
            for n in (
                _int(prompt.get("cached_tokens")),
                _int(usage.get("prompt_cache_hit_tokens")),  # DeepSeek
                _int(usage.get("cached_tokens")),  # Moonshot, some routers
            )
            if n is not None
        ),
        0,
    )
    cache_write = _int(prompt.get("cache_write_tokens")) or 0
    r = _int(completion.get("reasoning_tokens"))
    output, reasoning = c, r or 0
    if p is not None and c is not None and t is not None and t > p + c:
        # Output completion_tokens left out (xAI reasoning, Gemini thinking).
        hidden = t - p - c
        output, reasoning = c + hidden, max(r or 0, hidden)
    return Usage.reported(p, cache_read, cache_write, output, reasoning)


def _stream_error(error: object, key_env: str) -> RequestError:
    """An error object sent inside the stream (OpenRouter chunk, Groq ``event: error``)."""
    err = error if isinstance(error, dict) else {"message": str(error)}
    status = _int(err.get("status_code")) or _int(err.get("code"))
    message = err.get("message")
    if not isinstance(message, str):
        message = str(err)
    if status is not None and 400 <= status < 600:
        return status_error(status, message, key_env)
    return RequestError("server", f"the provider reported an error mid-stream: {message}"[:400])
