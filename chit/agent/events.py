"""What the agent loop tells a front end: the events of a turn, and :func:`drain`, which feeds
them to a handler and turns Ctrl-C in it into a recorded interruption.

A "turn" is one user turn; it may make several provider requests, each of which ends with
an :class:`~chit.messages.AssistantTurn` (one request's record, not a user turn).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from chit.agent.budget import Budget
from chit.messages import (
    Ended,
    ReasoningDelta,
    RequestError,
    Retrying,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolResult,
)
from chit.state import RequestRecord, Totals

Decision = Literal["yes", "no", "always"]


#: Why a conversation was compacted: asked for, the window filling up, a too-long refusal.
Reason = Literal["asked", "auto", "too_long"]


@dataclass
class PermissionRequest:
    """The model wants to run a tool that writes or executes, or to read outside the working
    folder. Answer with :meth:`answer`."""

    call: ToolCall
    """The call asking."""
    decision: Decision | None = None
    """``yes``, ``no``, or ``always`` (this tool, for the rest of the session)."""

    def answer(self, decision: Decision) -> None:
        """Decide; an unanswered request falls back to the agent's callback, then ``no``."""
        self.decision = decision


@dataclass(frozen=True, slots=True)
class ToolDone:
    """A tool ran (or was refused); its result goes back to the model."""

    call: ToolCall
    result: ToolResult
    started_ns: int = 0
    """When it started (``time.time_ns()``), asking permission included; 0: not known."""
    ended_ns: int = 0
    """When it ended (``time.time_ns()``); 0: not known."""


@dataclass(frozen=True, slots=True)
class UsageRecorded:
    """A provider request finished and its record was written."""

    record: RequestRecord
    turn: Totals
    """Totals of the turn so far."""
    started_ns: int = 0
    """When the request was sent (``time.time_ns()``), retries included; 0: not known."""
    ended_ns: int = 0
    """When its stream ended, before its record was written; 0: not known."""


@dataclass(frozen=True, slots=True)
class BudgetWarning:
    """The session passed a threshold of its budget (50 %, 80 %, or 100 %: spent)."""

    fraction: Decimal
    """The threshold passed."""
    budget: Budget
    used: Decimal = Decimal(0)
    """How much of the budget is really spent now (may be past the threshold, or past 1)."""

    @property
    def spent(self) -> bool:
        """True when no new request will be sent."""
        return self.used >= 1

    def describe(self) -> str:
        """``"102% of the budget ($0.01) is spent"``, with what follows when it is all spent."""
        text = f"{self.used:.0%} of the budget ({self.budget.describe()}) is spent"
        return text + (": no new request will be sent" if self.spent else "")


@dataclass(frozen=True, slots=True)
class Compacted:
    """The conversation was summarised and the summary replaced it (``error``: the attempt
    failed, and the conversation is as it was)."""

    reason: Reason
    """Why: ``/compact``, the context window filling up past ``--auto-compact``, or the
    provider refusing the conversation as too long (the request is then sent again)."""
    replaced: int
    """How many messages the summary stands for."""
    summary: str = ""
    """The summary (empty when it failed)."""
    error: RequestError | None = None
    """Why there is no summary."""
    output_tokens: int | None = None
    """The summary's size in tokens, as the provider counted it."""

    def describe(self) -> str:
        """``"compacted 12 messages into a summary (840 tokens)"``, and why, or what failed."""
        why = {
            "asked": "",
            "auto": "the context window is nearly full: ",
            "too_long": "the provider refused the conversation as too long: ",
        }[self.reason]
        if self.error is not None:
            return f"{why}could not compact the conversation: {self.error.message}"
        size = "" if self.output_tokens is None else f" ({self.output_tokens:,} tokens)"
        again = ", sending it again" if self.reason == "too_long" else ""
        return f"{why}compacted {self.replaced} message(s) into a summary{size}{again}"


@dataclass(frozen=True)
class TurnDone:
    """The turn is over; the last event of :meth:`Agent.run`."""

    turn: int
    """The turn's number in the session."""
    text: str
    """The assistant's final text."""
    ended: Ended
    """``complete``, ``interrupted`` or ``error``."""
    stop_reason: str | None
    error: RequestError | None
    model: str | None
    """The model the last response named."""
    totals: Totals
    """The turn's usage and cost."""
    truncated: bool = False
    """The last answer was cut at the output limit."""
    unsaved: int = 0
    """Requests of this turn whose records could not be written to the journal (a full
    disk): counted in ``totals`` and in the agent's state, missing from the session file."""


AgentEvent = (
    TextDelta
    | ReasoningDelta
    | ToolCallEvent
    | Retrying
    | PermissionRequest
    | ToolDone
    | UsageRecorded
    | BudgetWarning
    | Compacted
    | TurnDone
)


def drain(
    events: Generator[AgentEvent, None, None], handle: Callable[[AgentEvent], None]
) -> TurnDone:
    """Feed every event to ``handle`` and return the :class:`TurnDone`.

    Ctrl-C while ``handle`` runs is thrown into the loop, so the request in flight is
    recorded as interrupted and the turn still ends with a ``TurnDone``.
    """
    done: TurnDone | None = None
    event: AgentEvent | None = next(events, None)
    while event is not None:
        try:
            if isinstance(event, TurnDone):
                done = event
            handle(event)
            event = next(events, None)
        except KeyboardInterrupt:
            try:
                event = events.throw(KeyboardInterrupt())
            except StopIteration:
                event = None
    if done is None:
        raise RuntimeError("the agent loop ended without a TurnDone")
    return done
