"""OpenAI Responses API: the ``openai`` SDK sends, chit reads the raw event stream.

The SDK keeps auth, base URL, retries and status errors; the body is framed as server-sent
events and decoded with orjson. The SDK's typed events are slower, and its final-response
helper raises on ``response.incomplete``, which carries full usage. Usage follows
spec/usage.md: it is read from the terminal event only (``response.completed``,
``response.incomplete``, ``response.failed``, legacy ``response.done``).

A ``response.incomplete`` (the output cap or a content filter stopped the answer) ends the
request as complete, like Chat Completions' ``finish_reason: length``: the server finished
and reported its usage; ``stop_reason`` names why it stopped (``max_output_tokens``, ...).
A completed response has ``stop_reason`` ``completed``, the API's own status word.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
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

#: Events that end a response and carry its usage; ``response.done`` is the legacy name.
_TERMINAL = frozenset(
    ("response.completed", "response.incomplete", "response.failed", "response.done")
)
_TEXT = frozenset(("response.output_text.delta", "response.refusal.delta"))
# Summaries from OpenAI's reasoning models; full reasoning text from open-weight servers.
_REASONING = frozenset(("response.reasoning_summary_text.delta", "response.reasoning_text.delta"))
#: Error codes of ``response.failed`` / ``error`` events, in :class:`RequestError` type names.
_ERROR_CODES = {
    "rate_limit_exceeded": "rate_limit",
    "insufficient_quota": "quota",
    "server_error": "server",
    "invalid_prompt": "bad_request",
    "invalid_request_error": "bad_request",
    "context_length_exceeded": "bad_request",
}


class OpenAIResponsesProvider:
    """Streams one Responses API request at a time through the ``openai`` SDK."""

    name = "openai-responses"

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._http = openai.DefaultHttpxClient(event_hooks={"response": [bound_error_body]})
        self._client = openai.OpenAI(
            api_key=endpoint.api_key or "",
            base_url=endpoint.base_url,
            max_retries=endpoint.max_retries,
            timeout=endpoint.timeout,
            http_client=self._http,
        )
        # The SDK's resolved base URL decides, so OPENAI_BASE_URL cannot fool the host rule.
        self._official = urlsplit(str(self._client.base_url)).hostname == "api.openai.com"

        # The SDK closes only a client it made itself: close ours as soon as the provider
        # goes, not whenever the cyclic garbage collector reaches a pooled socket.
        self.close = weakref.finalize(self, self._http.close)

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning and tool-call events, then exactly one ``AssistantTurn``.

        Ctrl-C (raised in a read, or thrown in at a yield) closes the response and ends
        the stream with the turn marked interrupted, holding exactly the usage that arrived.
        """
        acc = _Accumulator(self.endpoint.api_key_env)
        try:
            yield from self._read(request, acc)
        except KeyboardInterrupt:
            acc.end(Ended.INTERRUPTED, RequestError("interrupted", "interrupted by the user"))
        except openai.APIStatusError as err:
            body = read_error_body(err.response)
            acc.end(Ended.ERROR, status_error(err.status_code, body, self.endpoint.api_key_env))
        except openai.APIConnectionError as err:
            what = "timed out" if isinstance(err, openai.APITimeoutError) else "failed"
            cause = f": {err.__cause__}" if err.__cause__ else ""
            message = f"connection to {self._client.base_url} {what}{cause}"
            acc.end(Ended.ERROR, RequestError("connection", message))
        except httpx2.HTTPError as err:
            # Mid-body the SDK no longer wraps transport errors: the stream was cut. After the
            # terminal event the response is whole; an error event that came first says more.
            if acc.error is None and not acc.finished:
                message = f"the connection failed mid-response ({type(err).__name__}: {err})"
                acc.end(Ended.INTERRUPTED, RequestError("connection", message))
        except Exception as err:  # a malformed stream must still end with a record
            acc.end(Ended.ERROR, RequestError("bad_response", f"{type(err).__name__}: {err}"))
        yield acc.turn(request.model)

    def _read(self, request: Request, acc: _Accumulator) -> Iterator[Event]:
        create = self._client.responses.with_streaming_response.create
        with create(**self.params(request)) as response:
            for name, data in sse_events(response.http_response):
                event = decode(data)
                # After the terminal event nothing counts, but the body is read to its end
                # so the connection can be reused. Non-objects: a trailing [DONE] and such.
                if event is not None and not acc.finished:
                    yield from acc.take(event.get("type") or name, event)
            if acc.error is None and not acc.finished:
                message = "the stream ended before the response was complete"
                acc.end(Ended.INTERRUPTED, RequestError("connection", message))

    def params(self, request: Request) -> dict[str, Any]:
        """The keyword arguments of ``responses.create`` for a request.

        Nothing is stored server-side (``store: false``): chit sends the whole conversation
        each time. The prompt cache key goes to OpenAI's own API only; compatible servers
        may reject it.
        """
        params: dict[str, Any] = {
            "model": request.model,
            "input": _input(request),
            "max_output_tokens": request.max_tokens,
            "store": False,
            "stream": True,
        }
        if request.system:
            params["instructions"] = request.system
        if request.tools:
            # strict is off: the API defaults it on, which rejects schemas with optional fields.
            params["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": False,
                }
                for t in request.tools
            ]
        if self._official and request.cache_key:
            params["prompt_cache_key"] = request.cache_key
        return params


def _input(request: Request) -> list[dict[str, Any]]:
    """Provider-neutral messages as Responses input items (the system prompt is separate)."""
    items: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "user":
            items.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            # Reasoning is not sent back: with store off there is no item for it to refer to.
            if message.text:
                items.append({"role": "assistant", "content": message.text})
            items.extend(
                {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
                for c in message.tool_calls
            )
        else:
            items.extend(
                {"type": "function_call_output", "call_id": r.call_id, "output": r.content}
                for r in message.tool_results
            )
    return items


@dataclass
class _Call:
    """A function call being assembled from ``response.function_call_arguments`` events."""

    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _Accumulator:
    """What one response has said so far; becomes the ``AssistantTurn`` however it ends."""

    def __init__(self, key_env: str) -> None:
        self.key_env = key_env
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.open_calls: dict[object, _Call] = {}
        self.calls: list[ToolCall] = []
        self.usage: dict[str, Any] | None = None
        self.model: str | None = None
        self.service_tier: str | None = None
        self.stop_reason: str | None = None
        self.finished = False
        self.ended = Ended.COMPLETE
        self.error: RequestError | None = None

    def end(self, ended: Ended, error: RequestError) -> None:
        self.ended, self.error = ended, error

    def take(self, kind: str, event: dict[str, Any]) -> Iterator[Event]:
        """Take one event; yield the text, reasoning and complete tool calls it brings."""
        if kind in _TEXT:
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self.text.append(delta)
                yield TextDelta(delta)
        elif kind in _REASONING:
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self.reasoning.append(delta)
                yield ReasoningDelta(delta)
        elif kind == "response.reasoning_summary_part.added" and self.reasoning:
            # Summary parts are paragraphs; keep them apart in the shown text.
            self.reasoning.append("\n\n")
            yield ReasoningDelta("\n\n")
        elif kind == "response.function_call_arguments.delta":
            call = self.open_calls.get(_key(event))
            if call is not None and isinstance(event.get("delta"), str):
                call.arguments.append(event["delta"])
        elif kind == "response.function_call_arguments.done":
            call = self.open_calls.get(_key(event))
            if call is not None and isinstance(event.get("arguments"), str):
                call.arguments = [event["arguments"]]
        elif kind == "response.output_item.added":
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                self.open_calls[_key(event, item)] = _Call(
                    str(item.get("call_id") or ""), str(item.get("name") or "")
                )
        elif kind == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                yield from self._close_call(self.open_calls.pop(_key(event, item), _Call()), item)
        elif kind in _TERMINAL:
            yield from self._finish(kind, event.get("response"))
        elif kind == "error":
            error = event.get("error")
            # Keep reading: the response.failed that follows may carry usage.
            self.end(Ended.ERROR, _event_error(error if isinstance(error, dict) else event))
        elif kind.startswith("response."):
            self._take_response(event.get("response"))

    def _close_call(self, call: _Call, item: dict[str, Any]) -> Iterator[Event]:
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            arguments = "".join(call.arguments)
        done = ToolCall(
            str(item.get("call_id") or call.call_id or f"call_{len(self.calls)}"),
            str(item.get("name") or call.name),
            arguments or "{}",
        )
        if done.name and all(c.id != done.id for c in self.calls):
            self.calls.append(done)
            yield ToolCallEvent(done)

    def _take_response(self, response: object) -> None:
        """Keep the model and service tier a response object names, the last ones standing."""
        if not isinstance(response, dict):
            return
        model = response.get("model")
        if model and isinstance(model, str):
            self.model = model
        tier = response.get("service_tier")
        if tier and isinstance(tier, str):
            self.service_tier = tier

    def _finish(self, kind: str, response: object) -> Iterator[Event]:
        """The terminal event: its usage, how the response ended, calls not yet announced."""
        self.finished = True
        if not isinstance(response, dict):
            return
        self._take_response(response)
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        status = response.get("status")
        if kind == "response.failed" or status in ("failed", "cancelled"):
            if self.error is None:  # an error event before it said the same, in more words
                error = response.get("error")
                self.end(Ended.ERROR, _event_error(error if isinstance(error, dict) else {}))
        elif kind == "response.incomplete" or status == "incomplete":
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            self.stop_reason = reason if isinstance(reason, str) and reason else "incomplete"
        else:
            self.stop_reason = status if isinstance(status, str) and status else "completed"
        # A server that skips output_item.done still lists its calls in the final output.
        for item in response.get("output") or ():
            if isinstance(item, dict) and item.get("type") == "function_call":
                yield from self._close_call(_Call(), item)

    def turn(self, model_requested: str) -> AssistantTurn:
        """The final record of the request, however it ended."""
        extras: dict[str, Any] = {}
        usage = Usage.reported()
        if self.usage is not None:
            usage = _normalize(self.usage)
            details = self.usage.get("input_tokens_details")
            ttl = details.get("cache_write_tokens_details") if isinstance(details, dict) else None
            if isinstance(ttl, dict):
                extras["cache_write_ttl"] = ttl
            extras["raw_usage"] = [self.usage]
        if self.service_tier:
            extras["service_tier"] = self.service_tier
        return AssistantTurn(
            provider="openai-responses",
            model_requested=model_requested,
            usage=usage,
            model=self.model,
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=tuple(self.calls),
            stop_reason=self.stop_reason,
            ended=self.ended,
            error=self.error,
            extras=extras,
        )


def _key(event: dict[str, Any], item: dict[str, Any] | None = None) -> object:
    """Which output item an event is about: its output index, else its item id."""
    index = event.get("output_index")
    if isinstance(index, int):
        return index
    return event.get("item_id") or (item or {}).get("id")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _normalize(usage: dict[str, Any]) -> Usage:
    """A Responses usage object as a record (spec/usage.md, the Responses rules)."""
    inputs = usage.get("input_tokens_details")
    inputs = inputs if isinstance(inputs, dict) else {}
    outputs = usage.get("output_tokens_details")
    outputs = outputs if isinstance(outputs, dict) else {}
    return Usage.reported(
        _int(usage.get("input_tokens")),
        _int(inputs.get("cached_tokens")) or 0,
        _int(inputs.get("cache_write_tokens")) or 0,
        _int(usage.get("output_tokens")),
        _int(outputs.get("reasoning_tokens")) or 0,
    )


def _event_error(error: dict[str, Any]) -> RequestError:
    """The error of an ``error`` event or a failed response, in words a user can act on."""
    code = error.get("code") or error.get("type")
    code = code if isinstance(code, str) else ""
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = "the response failed"
    text = f"{code}: {message}" if code else message
    return RequestError(_ERROR_CODES.get(code, "server"), " ".join(text.split())[:400])
