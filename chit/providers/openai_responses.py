"""OpenAI Responses API: ``POST {base}/responses``, streamed, read as raw events.

The events are decoded with orjson and reduced by :class:`ResponsesAccumulator`. The SDK's
typed events would be slower, and its final-response helper raises on
``response.incomplete``, which carries full usage. Usage follows
spec/usage.md: it is read from the terminal event only (``response.completed``,
``response.incomplete``, ``response.failed``, legacy ``response.done``).

A ``response.incomplete`` (the output cap or a content filter stopped the answer) ends the
request as complete, like Chat Completions' ``finish_reason: length``: the server finished
and reported its usage; ``stop_reason`` names why it stopped (``max_output_tokens``, ...).
A completed response has ``stop_reason`` ``completed``, the API's own status word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from chit.messages import Ended, Event, RequestError, ToolCall
from chit.providers.base import (
    Accumulator,
    HTTPProvider,
    PendingCall,
    Sender,
    cache_write_ttl,
    int_or_none,
)
from chit.providers.contract import Endpoint, Request
from chit.providers.failures import context_error, context_refused
from chit.providers.openai_chat import openai_endpoint
from chit.usage import Usage

if TYPE_CHECKING:  # the SDK's request types check the body; nothing is imported at run time
    from openai.types.responses import ResponseInputParam, ResponseOutputMessageParam
    from openai.types.responses.response_create_params import ResponseCreateParamsStreaming

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
}


class OpenAIResponsesProvider(HTTPProvider):
    """Streams one Responses API request at a time."""

    path = "/responses"

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        base_url, headers = openai_endpoint(endpoint)
        super().__init__(endpoint, base_url, headers, sender)
        self._official = urlsplit(base_url).hostname == "api.openai.com"

    def accumulator(self) -> ResponsesAccumulator:
        return ResponsesAccumulator()

    def body(self, request: Request) -> ResponseCreateParamsStreaming:
        """The request body.

        Nothing is stored server-side (``store: false``): chit sends the whole conversation
        each time. The prompt cache key goes to OpenAI's own API only; compatible servers
        may reject it.
        """
        body: ResponseCreateParamsStreaming = {
            "model": request.model,
            "input": _input(request),
            "max_output_tokens": request.max_tokens,
            "store": False,
            "stream": True,
        }
        if request.system:
            body["instructions"] = request.system
        if request.tools:
            # strict is off: the API defaults it on, which rejects schemas with optional fields.
            body["tools"] = [
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
            body["prompt_cache_key"] = request.cache_key
        return body


def _input(request: Request) -> ResponseInputParam:
    """Provider-neutral messages as Responses input items (the system prompt is separate),
    each in its explicit typed form: OpenAI also takes the short ``{"role", "content"}``
    form, but llama.cpp's server cannot tell what such an item is."""
    items: ResponseInputParam = []
    for message in request.messages:
        if message.role == "user":
            items.append(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": message.text}],
                }
            )
        elif message.role == "assistant":
            # Reasoning is not sent back: with store off there is no item for it to refer to.
            if message.text:
                items.append(_assistant_text(message.text))
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


def _assistant_text(text: str) -> ResponseOutputMessageParam:
    # The SDK's type asks for an id, a status and annotations, which input does not need
    # (with store off there is no stored item to name): OpenAI and llama.cpp take the
    # message without them, as Codex sends it.
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    return cast("ResponseOutputMessageParam", message)


class ResponsesAccumulator(Accumulator):
    """A Responses stream reduced event by event. An ``error`` event ends it in error, but
    the ``response.failed`` that follows may still carry usage; after the terminal event
    nothing more counts."""

    def __init__(self) -> None:
        super().__init__()
        self.open_calls: dict[object, PendingCall] = {}
        """Function calls being streamed, by output index (or item id)."""
        self.final_usage: dict[str, Any] | None = None
        self.finished = False
        """The terminal event has come."""

    def take(self, event: dict[str, Any]) -> list[Event]:
        if self.finished:
            return []
        kind = event.get("type")
        kind = kind if isinstance(kind, str) else ""
        if kind in _TEXT:
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                return [self.say(delta)]
        elif kind in _REASONING:
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                return [self.think(delta)]
        elif kind == "response.reasoning_summary_part.added" and self.reasoning:
            # Summary parts are paragraphs; keep them apart in the shown text.
            return [self.think("\n\n")]
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
                self.open_calls[_key(event, item)] = PendingCall(
                    str(item.get("call_id") or ""), str(item.get("name") or "")
                )
        elif kind == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call":
                return self._close_call(self.open_calls.pop(_key(event, item), PendingCall()), item)
        elif kind in _TERMINAL:
            return self._finish(kind, event.get("response"))
        elif kind == "error":
            error = event.get("error")
            self.end(Ended.ERROR, _event_error(error if isinstance(error, dict) else event))
        elif kind.startswith("response."):
            self._take_response(event.get("response"))
        return []

    def _close_call(self, call: PendingCall, item: dict[str, Any]) -> list[Event]:
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            arguments = "".join(call.arguments)
        done = ToolCall(
            str(item.get("call_id") or call.id or f"call_{len(self.tool_calls)}"),
            str(item.get("name") or call.name),
            arguments or "{}",
        )
        if done.name and all(c.id != done.id for c in self.tool_calls):
            return [self.call(done)]
        return []

    def _take_response(self, response: object) -> None:
        """Keep the model and service tier a response object names, the last ones standing."""
        if not isinstance(response, dict):
            return
        self.name_model(response.get("model"))
        tier = response.get("service_tier")
        if tier and isinstance(tier, str):
            self.service_tier = tier

    def _finish(self, kind: str, response: object) -> list[Event]:
        """The terminal event: its usage, how the response ended, calls not yet announced."""
        self.finished = True
        if self.ended is None:
            self.end(Ended.COMPLETE)
        if not isinstance(response, dict):
            return []
        self._take_response(response)
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.final_usage = usage
            self.raw_usage = [usage]
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
        out: list[Event] = []
        for item in response.get("output") or ():
            if isinstance(item, dict) and item.get("type") == "function_call":
                out += self._close_call(PendingCall(), item)
        return out

    def usage(self) -> Usage:
        return Usage.reported() if self.final_usage is None else _normalize(self.final_usage)

    def extras(self) -> dict[str, Any]:
        details = (self.final_usage or {}).get("input_tokens_details")
        return {**cache_write_ttl(details), **super().extras()}


def _key(event: dict[str, Any], item: dict[str, Any] | None = None) -> object:
    """Which output item an event is about: its output index, else its item id."""
    index = event.get("output_index")
    if isinstance(index, int):
        return index
    return event.get("item_id") or (item or {}).get("id")


def _normalize(usage: dict[str, Any]) -> Usage:
    """A Responses usage object as a record (spec/usage.md, the Responses rules)."""
    inputs = usage.get("input_tokens_details")
    inputs = inputs if isinstance(inputs, dict) else {}
    outputs = usage.get("output_tokens_details")
    outputs = outputs if isinstance(outputs, dict) else {}
    return Usage.reported(
        int_or_none(usage.get("input_tokens")),
        int_or_none(inputs.get("cached_tokens")) or 0,
        int_or_none(inputs.get("cache_write_tokens")) or 0,
        int_or_none(usage.get("output_tokens")),
        int_or_none(outputs.get("reasoning_tokens")) or 0,
    )


def _event_error(error: dict[str, Any]) -> RequestError:
    """The error of an ``error`` event or a failed response, in words a user can act on."""
    code = error.get("code") or error.get("type")
    code = code if isinstance(code, str) else ""
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = "the response failed"
    text = " ".join((f"{code}: {message}" if code else message).split())[:400]
    if context_refused(message, code):
        return context_error(text)
    return RequestError(_ERROR_CODES.get(code, "server"), text)
