"""OpenAI Chat Completions and compatible servers: ``POST {base}/chat/completions``, streamed.

The events are decoded with orjson and reduced by :class:`ChatAccumulator`. The SDK's typed
chunks would be slower, raise on an error chunk before handing over the usage it carries,
and drop ``choices[i].usage`` and ``x_groq.usage``. Usage follows spec/usage.md: the last
non-null usage object, never summed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urlsplit

from chit.messages import Ended, Event, RequestError, ToolCall, ToolCallEvent
from chit.providers.base import (
    Accumulator,
    HTTPProvider,
    PendingCall,
    Sender,
    cache_write_ttl,
    function_tools,
    int_or_none,
)
from chit.providers.contract import Endpoint, Request
from chit.providers.failures import context_error, context_refused, status_error
from chit.providers.remembered import Remembered
from chit.providers.transport import StatusError
from chit.usage import Usage

if TYPE_CHECKING:  # the SDK's request types check the body; nothing is imported at run time
    from openai.types.chat import ChatCompletionAssistantMessageParam, ChatCompletionMessageParam
    from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

#: OpenAI's own endpoint, where neither the base URL nor ``OPENAI_BASE_URL`` is set.
OPENAI_BASE_URL = "https://api.openai.com/v1"

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class OpenAIChatProvider(HTTPProvider):
    """Streams one Chat Completions request at a time."""

    path = "/chat/completions"

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        base_url, headers = openai_endpoint(endpoint)
        super().__init__(endpoint, base_url, headers, sender)
        host = urlsplit(base_url).hostname or ""
        self._official = host == "api.openai.com"
        self._azure = host.endswith(".openai.azure.com")
        # Parameters a server refused once are not sent to this endpoint again; a refusal
        # of stream_options is also remembered between runs (chit.providers.remembered).
        self._remembered = Remembered(endpoint.home, base_url)
        self._options_from_memory = self._remembered.refuses("stream_options")
        self._send_stream_options = not self._options_from_memory
        self._send_cache_key = self._official
        self._acc: ChatAccumulator | None = None
        self._to_confirm = True  # what the memory holds is checked once, not per request

    def accumulator(self) -> ChatAccumulator:
        self._acc = ChatAccumulator(self.endpoint.api_key_env)
        return self._acc

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """The request's events; then what it showed of ``stream_options`` is remembered:
        accepted, the refusal is forgotten; left out from memory and no usage came back,
        the refusal is forgotten too, so that the next run asks again."""
        yield from super().stream(request)
        acc = self._acc
        if acc is None or acc.ended is not Ended.COMPLETE:
            return
        if not self._to_confirm:
            return
        if self._send_stream_options or (self._options_from_memory and acc.last_usage is None):
            self._remembered.forget("stream_options")
            self._to_confirm = False

    def body(self, request: Request) -> CompletionCreateParamsStreaming:
        """The request body.

        OpenAI's own API (and Azure's) want ``max_completion_tokens``, which reasoning
        models require; compatible servers (DeepSeek, Mistral, OpenRouter, vLLM, llama.cpp)
        know ``max_tokens`` and some silently ignore the newer name, so they get that.
        """
        body: CompletionCreateParamsStreaming = {
            "model": request.model,
            "messages": _messages(request),
            "stream": True,
        }
        if request.tools:
            body["tools"] = function_tools(request.tools)
        if self._official or self._azure:
            body["max_completion_tokens"] = request.max_tokens
        else:
            body["max_tokens"] = request.max_tokens
        if self._send_stream_options:
            body["stream_options"] = {"include_usage": True}
        if self._send_cache_key and request.cache_key:
            body["prompt_cache_key"] = request.cache_key
        return body

    def retry_without(self, error: StatusError) -> bool:
        """Stop sending an optional parameter the error body names; True to send again."""
        if error.status not in (400, 422):
            return False
        text = error.body.decode("utf-8", "replace")
        if self._send_stream_options and ("stream_options" in text or "include_usage" in text):
            self._send_stream_options = False
            self._options_from_memory = False
            self._remembered.refused("stream_options")
            return True
        if self._send_cache_key and "prompt_cache_key" in text:
            self._send_cache_key = False
            return True
        return False


def openai_endpoint(endpoint: Endpoint) -> tuple[str, dict[str, str]]:
    """The base URL (OpenAI's own unless another is set) and the auth header, for Chat
    Completions and Responses alike. Local servers take any key; one that wants a real
    key answers 401, which names the key's variable."""
    key = endpoint.api_key or "not-needed"
    return endpoint.base_url or OPENAI_BASE_URL, {"authorization": f"Bearer {key}"}


def _messages(request: Request) -> list[ChatCompletionMessageParam]:
    """Provider-neutral messages in the Chat Completions shape, system prompt first."""
    out: list[ChatCompletionMessageParam] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            # Reasoning is not sent back: DeepSeek rejects reasoning_content in the input.
            item: ChatCompletionAssistantMessageParam = {
                "role": "assistant",
                "content": message.text,
            }
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


class ChatAccumulator(Accumulator):
    """A Chat Completions stream reduced chunk by chunk; after ``[DONE]`` or an error
    nothing more counts."""

    def __init__(self, key_env: str) -> None:
        super().__init__()
        self.key_env = key_env
        """The key's variable, named when an error chunk reports an auth failure."""
        self.pending: dict[int, PendingCall] = {}
        """Tool calls being assembled, by index."""
        self.last_usage: dict[str, Any] | None = None

    def take(self, event: dict[str, Any]) -> list[Event]:
        if self.ended is not None:
            return []
        if event.get("type") == "[DONE]":
            self.end(Ended.COMPLETE)
            return [ToolCallEvent(call) for call in self.calls()]
        error = event.get("error")
        if event.get("type") == "error" or error:
            self._take_usage(event)  # OpenRouter puts the usage on the error chunk itself
            self.end(Ended.ERROR, _stream_error(error or event, self.key_env))
            return []
        self.name_model(event.get("model"))
        tier = event.get("service_tier")
        if tier and isinstance(tier, str):
            self.service_tier = tier
        self._take_usage(event)
        out: list[Event] = []
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._take_delta(delta)
            finish = choice.get("finish_reason")
            if finish and isinstance(finish, str):
                self.stop_reason = finish
        return out

    def finish(self) -> list[Event]:
        """No ``[DONE]``: a body that ended cleanly after a finish_reason said everything;
        one that stopped before any finish_reason was cut short."""
        if self.ended is not None or self.stop_reason is None:
            return super().finish()
        self.end(Ended.COMPLETE)
        return [ToolCallEvent(call) for call in self.calls()]

    def _take_delta(self, delta: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        content = delta.get("content")
        if content and isinstance(content, str):
            out.append(self.say(content))
        elif isinstance(content, list):
            out += self._parts(content)
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            out.append(self.think(reasoning))
        for fragment in delta.get("tool_calls") or ():
            if isinstance(fragment, dict):
                self._take_call(fragment)
        return out

    def _take_usage(self, chunk: dict[str, Any]) -> None:
        """Keep the chunk's usage, if it has one; a later ``usage: null`` erases nothing."""
        usage = _usage_of(chunk)
        if usage is not None:
            self.last_usage = usage
            if not self.raw_usage or self.raw_usage[-1] != usage:
                self.raw_usage.append(usage)

    def _parts(self, parts: list[Any]) -> list[Event]:
        # Mistral's reasoning models send content as typed parts: text and thinking.
        out: list[Event] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and part.get("text") and isinstance(part["text"], str):
                out.append(self.say(part["text"]))
            elif part.get("type") == "thinking" and isinstance(part.get("thinking"), list):
                for piece in part["thinking"]:
                    if isinstance(piece, dict) and isinstance(piece.get("text"), str):
                        out.append(self.think(piece["text"]))
        return out

    def _take_call(self, fragment: dict[str, Any]) -> None:
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        index = fragment.get("index")
        if not isinstance(index, int):
            # Servers that omit the index send each call whole: a new id or name is a new call.
            new = fragment.get("id") or function.get("name") or not self.pending
            index = len(self.pending) if new else max(self.pending)
        call = self.pending.setdefault(index, PendingCall())
        if fragment.get("id"):
            call.id = str(fragment["id"])
        if function.get("name"):
            call.name = str(function["name"])
        if isinstance(function.get("arguments"), str):
            call.arguments.append(function["arguments"])

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls known to be whole, in index order; a call without an id gets one.

        Calls stream one after another, so a call is whole once a later one has begun, and
        every call is whole once a finish_reason has come.
        """
        last = None if self.stop_reason is not None else max(self.pending, default=None)
        return tuple(
            call.whole(f"call_{index}")
            for index, call in sorted(self.pending.items())
            if call.name and index != last
        )

    def usage(self) -> Usage:
        return Usage.reported() if self.last_usage is None else _normalize(self.last_usage)

    def extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if self.last_usage is not None:
            cost = self.last_usage.get("cost")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                extras["provider_cost"] = str(cost)
            extras.update(cache_write_ttl(self.last_usage.get("prompt_tokens_details")))
        return {**extras, **super().extras()}


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


def _normalize(usage: dict[str, Any]) -> Usage:
    """One Chat Completions usage object as a record (spec/usage.md, the OpenAI rules)."""
    p = int_or_none(usage.get("prompt_tokens"))
    c = int_or_none(usage.get("completion_tokens"))
    t = int_or_none(usage.get("total_tokens"))
    prompt = usage.get("prompt_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = usage.get("completion_tokens_details")
    completion = completion if isinstance(completion, dict) else {}
    cache_read = next(
        (
            n
            for n in (
                int_or_none(prompt.get("cached_tokens")),
                int_or_none(usage.get("prompt_cache_hit_tokens")),  # DeepSeek
                int_or_none(usage.get("cached_tokens")),  # Moonshot, some routers
            )
            if n is not None
        ),
        0,
    )
    cache_write = int_or_none(prompt.get("cache_write_tokens")) or 0
    r = int_or_none(completion.get("reasoning_tokens"))
    output, reasoning = c, r or 0
    if p is not None and c is not None and t is not None and t > p + c:
        # Output completion_tokens left out (xAI reasoning, Gemini thinking).
        hidden = t - p - c
        output, reasoning = c + hidden, max(r or 0, hidden)
    return Usage.reported(p, cache_read, cache_write, output, reasoning)


def _stream_error(error: object, key_env: str) -> RequestError:
    """An error object sent inside the stream (OpenRouter chunk, Groq ``event: error``)."""
    err = error if isinstance(error, dict) else {"message": str(error)}
    status = int_or_none(err.get("status_code")) or int_or_none(err.get("code"))
    message = err.get("message")
    if not isinstance(message, str):
        message = str(err)
    if status is not None and 400 <= status < 600:
        return status_error(status, message, key_env)
    if context_refused(message, err.get("code"), err.get("type")):
        return context_error(message)
    return RequestError("server", f"the provider reported an error mid-stream: {message}"[:400])
