"""Provider-neutral conversation pieces, the events a provider yields, and its final record.

Bottom layer: imports only :mod:`chit.usage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson

from chit.usage import Usage

Role = Literal["user", "assistant", "tool"]


class Ended(StrEnum):
    """How a provider request ended."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for, its arguments assembled from the stream."""

    id: str
    """The provider's id for the call, echoed back with its result."""
    name: str
    """The tool's name."""
    arguments: str = "{}"
    """The arguments as the model wrote them: JSON text, possibly invalid."""

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises ``ValueError`` when they are not a JSON object."""
        value = orjson.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool arguments are not a JSON object")
        return value


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What running a tool gave back to the model."""

    call_id: str
    """The id of the :class:`ToolCall` this answers."""
    name: str
    """The tool's name."""
    content: str
    """The result text (already size-capped)."""
    is_error: bool = False
    """True when the tool failed; the content then says why."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the conversation, in a form every provider module can translate."""

    role: Role
    """``user``, ``assistant`` or ``tool`` (tool results)."""
    text: str = ""
    """The visible text."""
    reasoning: str = ""
    """Reasoning text the model showed (assistant only)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls the assistant made."""
    tool_results: tuple[ToolResult, ...] = ()
    """Results sent back for those calls (role ``tool``)."""
    interrupted: bool = False
    """True for an assistant message cut short (Ctrl-C, dropped stream, error)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model."""

    name: str
    """The name the model calls it by."""
    description: str
    """What it does, for the model."""
    parameters: dict[str, Any]
    """JSON schema of its arguments."""


@dataclass(frozen=True, slots=True)
class RequestError:
    """Why a request ended in error, in words a user can act on."""

    type: str
    """A short machine name: ``auth``, ``rate_limit``, ``server``, ``bad_request``, ..."""
    message: str
    """One readable line."""
    status: int | None = None
    """The HTTP status, when there was one."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of visible answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning / thinking text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A tool call, complete with its arguments."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class Retrying:
    """A try of the request failed before any answer streamed; after ``delay`` seconds it
    is sent again. Nothing of it is billed or recorded: it is news for the screen."""

    attempt: int
    """Which retry comes next: 1 for the first."""
    of: int
    """The most retries the request may take."""
    delay: float
    """Seconds until it is sent again."""
    reason: str
    """What happened, as a phrase: ``the provider answered 529 (overloaded)``."""
    status: int | None = None
    """The HTTP status of the failed try, when one came."""

    def describe(self) -> str:
        """``the provider answered 529 (overloaded); retrying in 1.2 s (1 of 2)``."""
        return f"{self.reason}; retrying in {self.delay:.1f} s ({self.attempt} of {self.of})"


#: Stop reasons that mean the output limit cut the answer: Anthropic (and Bedrock)
#: ``max_tokens``, Chat Completions and Ollama ``length``, Responses ``max_output_tokens``.
OUTPUT_LIMIT = frozenset(("max_tokens", "length", "max_output_tokens"))


@dataclass(frozen=True)
class AssistantTurn:
    """The record of one provider request: what came back and the usage it reported.

    Every provider stream ends with exactly one of these, also when it failed.
    """

    provider: str
    """The provider module that made the request (``anthropic``, ``openai``, ...)."""
    model_requested: str
    """The model chit asked for."""
    usage: Usage = field(default_factory=Usage)
    """The normalized usage of this request (``Usage.reported``)."""
    model: str | None = None
    """The model the response named, which may differ from the one requested."""
    text: str = ""
    """The visible answer text."""
    reasoning: str = ""
    """Reasoning text, where the provider streams it."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls the model asked for."""
    stop_reason: str | None = None
    """The provider's own stop / finish reason."""
    ended: Ended = Ended.COMPLETE
    """How the request ended."""
    error: RequestError | None = None
    """Why it failed, when ``ended`` is ``error`` (or what cut it short)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """What the provider said beyond the five counts, kept without loss: ``cache_write_5m``
    / ``cache_write_1h`` (or ``cache_write_ttl``), ``server_tool_use``, ``provider_cost``,
    ``service_tier``, ``durations_ns``, and ``raw_usage`` (the usage objects as received)."""

    @property
    def model_name(self) -> str:
        """The model to price and show: the one reported, else the one requested."""
        return self.model or self.model_requested

    @property
    def truncated(self) -> bool:
        """True when the output limit cut the answer short (the request itself completed).
        Read from ``stop_reason``, so a record loaded from a session says it too."""
        return self.stop_reason is not None and self.stop_reason.lower() in OUTPUT_LIMIT

    def message(self) -> Message:
        """This response as a conversation message."""
        return Message(
            role="assistant",
            text=self.text,
            reasoning=self.reasoning,
            tool_calls=self.tool_calls,
            interrupted=self.ended is not Ended.COMPLETE,
        )


#: How the message standing for a compacted conversation begins, its summary following.
SUMMARY_INTRO = (
    "The conversation so far was compacted: this summary of it stands for everything "
    "said before.\n\n"
)


def summary_message(summary: str) -> Message:
    """The message that stands for a compacted conversation: the agent sends it, and a
    session's reader rebuilds it from a ``compact`` line."""
    return Message(role="user", text=SUMMARY_INTRO + summary)


Event = TextDelta | ReasoningDelta | ToolCallEvent | Retrying | AssistantTurn
"""What a provider stream yields; the last event is always an :class:`AssistantTurn`."""
