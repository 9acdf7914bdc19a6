"""The provider skeleton: what every wire module shares.

A provider turns one :class:`Request` into a stream of :data:`chit.messages.Event` that
always ends with exactly one ``AssistantTurn``: the record of that one provider request
(not a user turn, which may take several requests). A wire module (``anthropic``,
``openai_chat``, ``openai_responses``, ``ollama``) says only what its format differs in:
the request body it builds, and its :class:`Accumulator`, a pure reducer of the decoded
events (``take(event) -> events``, no I/O, like the Anthropic SDK's ``accumulate_event``)
that normalizes its usage. Everything else is here: sending (through
:mod:`chit.providers.transport`), reading the body as events (framed by
:mod:`chit.providers.framing`), and turning every failure into the final record (in the
words of :mod:`chit.providers.failures`).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx
import orjson

from chit.messages import (
    AssistantTurn,
    Ended,
    Event,
    ReasoningDelta,
    RequestError,
    Retrying,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
)
from chit.providers.contract import Endpoint, Request
from chit.providers.failures import status_error as status_error
from chit.providers.framing import BadChunk, sse_events
from chit.providers.framing import decode as decode
from chit.providers.framing import ndjson_events as ndjson_events
from chit.providers.transport import StatusError, Transport, Tries, Unreachable
from chit.usage import Usage

#: The record of a request nothing was billed for: every count known, and zero.
NOTHING_BILLED = Usage.reported(0, 0, 0, 0, 0)

if TYPE_CHECKING:  # the SDK's type of the shape; nothing is imported at run time
    from openai.types.chat import ChatCompletionFunctionToolParam


class Sender(Protocol):
    """What opens the streaming responses: chit's own :class:`Transport`, or an SDK client's
    (:mod:`chit.providers.sdk`: the clouds, a user's own client)."""

    def open(
        self, path: str, content: bytes, tries: Tries
    ) -> Generator[Retrying, None, httpx.Response]:
        """POST a JSON body; return the open response once its status is a success (the
        caller closes it), yielding a notice before each retry it makes itself."""
        ...

    def close(self) -> None:
        """Close the pooled connections."""
        ...


@dataclass
class PendingCall:
    """A tool call being assembled from streamed pieces of its arguments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def whole(self, fallback_id: str = "") -> ToolCall:
        """The call, its arguments joined (``{}`` when none came)."""
        return ToolCall(self.id or fallback_id, self.name, "".join(self.arguments) or "{}")


def function_tools(tools: Sequence[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    """Tools in the OpenAI function shape, which Chat Completions and Ollama both take."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def cache_write_ttl(details: object) -> dict[str, Any]:
    """OpenAI's split of cache writes by lifetime, from a usage object's input details
    (``{"cache_write_ttl": {...}}``), or nothing."""
    ttl = details.get("cache_write_tokens_details") if isinstance(details, dict) else None
    return {"cache_write_ttl": ttl} if isinstance(ttl, dict) else {}


def int_or_none(value: object) -> int | None:
    """A JSON integer, else ``None`` (``true`` is not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Accumulator:
    """What one response has said so far, and its final record however it ends.

    A wire module's subclass implements :meth:`take` (one decoded event in, the events it
    brings out) and :meth:`usage`, and :meth:`extras` where it keeps more. ``ended`` is
    ``None`` while the response is open; the subclass sets it when its format says the
    response is whole (``COMPLETE``) or failed (``ERROR``).
    """

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: list[ToolCall] = []
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.raw_usage: list[dict[str, Any]] = []
        """The usage objects as received."""
        self.service_tier: str | None = None
        self.ended: Ended | None = None
        self.error: RequestError | None = None

    def take(self, event: dict[str, Any]) -> list[Event]:
        """Take one decoded event; return the text, reasoning and tool calls it brings."""
        raise NotImplementedError

    def usage(self) -> Usage:
        """The normalized usage of what arrived (spec/usage.md)."""
        raise NotImplementedError

    def extras(self) -> dict[str, Any]:
        """What the provider said beyond the five counts."""
        extras: dict[str, Any] = {"raw_usage": self.raw_usage} if self.raw_usage else {}
        if self.service_tier:
            extras["service_tier"] = self.service_tier
        return extras

    def finish(self) -> list[Event]:
        """The body ended cleanly; a response its format does not call whole was cut short."""
        self.cut("the stream ended before the response was complete")
        return []

    def end(self, ended: Ended, error: RequestError | None = None) -> None:
        """Say how the response ended, and why when it failed."""
        self.ended, self.error = ended, error

    def cut(self, message: str, kind: str = "connection") -> None:
        """The stream stopped early (``kind``: ``connection`` or ``timeout``); a response
        already whole, or failed, stays as it is."""
        if self.ended is None:
            self.end(Ended.INTERRUPTED, RequestError(kind, message))

    def fail(self, error: RequestError) -> None:
        """The stream said something chit cannot read; a response already whole, or failed,
        stays as it is."""
        if self.ended is None:
            self.end(Ended.ERROR, error)

    def say(self, text: str) -> TextDelta:
        """Keep a piece of answer text; the event that shows it."""
        self.text.append(text)
        return TextDelta(text)

    def think(self, text: str) -> ReasoningDelta:
        """Keep a piece of reasoning; the event that shows it."""
        self.reasoning.append(text)
        return ReasoningDelta(text)

    def call(self, call: ToolCall) -> ToolCallEvent:
        """Keep a whole tool call; the event that announces it."""
        self.tool_calls.append(call)
        return ToolCallEvent(call)

    def name_model(self, model: object) -> None:
        """Keep the model a response names; an empty name changes nothing."""
        if model and isinstance(model, str):
            self.model = model

    def calls(self) -> tuple[ToolCall, ...]:
        """The tool calls of the final record."""
        return tuple(self.tool_calls)

    def turn(self, provider: str, model_requested: str) -> AssistantTurn:
        """The final record of the request."""
        return AssistantTurn(
            provider=provider,
            model_requested=model_requested,
            usage=self.usage(),
            model=self.model,
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=self.calls(),
            stop_reason=self.stop_reason,
            ended=self.ended or Ended.INTERRUPTED,
            error=self.error,
            extras=self.extras(),
        )


class HTTPProvider:
    """The skeleton of a provider: one pooled connection, one request at a time.

    A subclass gives the URL path, the request body (:meth:`body`) and its accumulator
    (:meth:`accumulator`); :meth:`events` frames the body as server-sent events, unless
    the subclass frames it otherwise.
    """

    path: ClassVar[str]
    """Where requests go, under the base URL."""
    unreachable_hint: ClassVar[str] = ""
    """Added to the message when the server refused the connection."""

    def __init__(
        self,
        endpoint: Endpoint,
        base_url: str,
        headers: Mapping[str, str],
        sender: Sender | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.transport: Sender = sender or Transport(endpoint, base_url, headers)

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def body(self, request: Request) -> Mapping[str, Any]:
        """The JSON body of a request."""
        raise NotImplementedError

    def accumulator(self) -> Accumulator:
        """A fresh accumulator for one response."""
        raise NotImplementedError

    def events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        """The body's events, decoded."""
        return sse_events(response)

    def retry_without(self, error: StatusError) -> bool:
        """Whether to send the request again after the server refused it (a parameter it
        does not know, now left out)."""
        return False

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """Yield text, reasoning, tool-call and retry events, then exactly one ``AssistantTurn``.

        Every failure ends the stream with the record, holding exactly the usage that
        arrived: Ctrl-C (raised in a read or a retry's wait, or thrown in at a yield) marks
        it interrupted, a dropped or silent stream too (error ``connection`` or ``timeout``).
        A request no try of which can have been billed (each refused with an error status,
        or never delivered) records known zeros.
        """
        acc = self.accumulator()
        tries = Tries()
        try:
            yield from self._exchange(request, acc, tries)
        except KeyboardInterrupt:
            acc.end(Ended.INTERRUPTED, RequestError("interrupted", "interrupted by the user"))
        except StatusError as err:
            acc.end(Ended.ERROR, status_error(err.status, err.body, self.endpoint.api_key_env))
        except Unreachable as err:
            kind = "timeout" if err.timed_out else "connection"
            hint = self.unreachable_hint if err.refused else ""
            acc.end(Ended.ERROR, RequestError(kind, f"{err}{hint}"))
        except Trickle as err:  # mid-body: bytes, but nothing readable
            acc.cut(str(err), "timeout")
        except httpx.TimeoutException:  # mid-body: the provider fell silent
            acc.cut(f"no data from the provider for {self.endpoint.read_timeout:g} s", "timeout")
        except httpx.TransportError as err:  # mid-body: the stream was cut
            acc.cut(f"the connection was lost mid-response ({str(err) or type(err).__name__})")
        except BadChunk as err:
            acc.fail(RequestError("bad_response", str(err)))
        except Exception as err:  # a malformed stream must still end with a record
            acc.fail(RequestError("bad_response", f"{type(err).__name__}: {err}"))
        turn = acc.turn(self.endpoint.provider, request.model)
        yield replace(turn, usage=NOTHING_BILLED) if tries.billed_nothing else turn

    def _exchange(
        self, request: Request, acc: Accumulator, tries: Tries
    ) -> Generator[Event, None, None]:
        while True:  # each resend leaves one more optional parameter out, so this ends
            content = orjson.dumps(self.body(request))
            try:
                response = yield from self.transport.open(self.path, content, tries)
            except StatusError as err:
                if self.retry_without(err):
                    continue
                raise
            with closing(response):
                yield from self.read(response, acc)
            return

    def read(self, response: httpx.Response, acc: Accumulator) -> Iterator[Event]:
        """Feed every event of the body to the accumulator, then tell it the body ended.

        The body is read to its end, also past the response's last event, so that the
        connection can be reused. Waiting for an event may last ``read_timeout``: a body
        that trickles in without one for longer ends like a silent one.
        """
        assert isinstance(response.stream, httpx.SyncByteStream)
        watch = _Watched(response.stream, self.endpoint.read_timeout)
        response.stream = watch
        for event in self.events(response):
            yield from acc.take(event)
            watch.restart()  # after the yields: the time a front end takes is not waiting
        yield from acc.finish()


class Trickle(httpx.ReadTimeout):
    """Bytes kept coming, but no whole event, for longer than the read timeout."""


class _Watched(httpx.SyncByteStream):
    """A body's bytes, watched for a trickle: each piece must come within ``limit`` seconds
    of the last whole event (the socket's own timeout only bounds the wait for one piece)."""

    def __init__(self, stream: httpx.SyncByteStream, limit: float) -> None:
        self.stream, self.limit = stream, limit
        self.since = time.monotonic()

    def restart(self) -> None:
        """An event came: the wait for the next one starts now."""
        self.since = time.monotonic()

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.stream:
            if time.monotonic() - self.since > self.limit:
                raise Trickle(f"the provider sent no whole event for {self.limit:g} s")
            yield piece

    def close(self) -> None:
        self.stream.close()
