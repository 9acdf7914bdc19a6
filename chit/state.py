"""``AgentState``: the conversation and every request's record; totals are derived from them.

Bottom layer: imports only the usage record, its pricing and the message types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.usage import Usage


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One provider request as the session keeps it."""

    turn: int
    """The user turn (1-based) the request belonged to."""
    response: AssistantTurn
    """What the provider returned, usage included."""
    cost: Cost = field(default_factory=Cost)
    """What it cost, priced when it was recorded."""


@dataclass(frozen=True, slots=True)
class Totals:
    """Usage and cost summed over some requests."""

    requests: int = 0
    """How many provider requests the sum covers."""
    usage: Usage = field(default_factory=Usage)
    """Their summed usage."""
    cost: Cost = field(default_factory=Cost)
    """Their summed cost."""

    def to_json(self) -> dict[str, Any]:
        """The shape of spec/cli.md: requests, usage (null = never reported), unknown, cost_usd."""
        return {
            "requests": self.requests,
            "usage": self.usage.counts(),
            "unknown": {
                "input_tokens": self.usage.input_unknown,
                "output_tokens": self.usage.output_unknown,
            },
            "cost_usd": self.cost.usd_str(),
        }

    @classmethod
    def of(cls, records: Iterable[RequestRecord]) -> Totals:
        """Sum records; the one place totals are made."""
        rs = list(records)
        return cls(
            len(rs),
            sum((r.response.usage for r in rs), Usage()),
            sum((r.cost for r in rs), Cost()),
        )


@dataclass
class AgentState:
    """The session as the agent sees it: what was said, and what every request reported."""

    session_id: str = ""
    """The session's id (also the prompt cache key where a provider accepts one)."""
    messages: list[Message] = field(default_factory=list)
    """The conversation now (after any rewind), oldest first."""
    records: list[RequestRecord] = field(default_factory=list)
    """Every request the session ever made, rewound ones included: tokens are never un-spent."""
    turns: int = 0
    """How many user turns have finished."""

    def record(self, record: RequestRecord) -> None:
        """Keep one request's record."""
        self.records.append(record)

    def turn_totals(self, turn: int) -> Totals:
        """Totals of one user turn."""
        return Totals.of(r for r in self.records if r.turn == turn)

    def totals(self) -> Totals:
        """Totals of the whole session, every request it ever made."""
        return Totals.of(self.records)

    def by_model(self) -> dict[str, Totals]:
        """Totals per reported model, in the order models were first used."""
        models: dict[str, list[RequestRecord]] = {}
        for r in self.records:
            models.setdefault(r.response.model_name, []).append(r)
        return {m: Totals.of(rs) for m, rs in models.items()}
