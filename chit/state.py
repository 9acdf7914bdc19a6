"""``AgentState``: the conversation and every request's record; totals and the usage
:class:`Report` are derived from them.

Bottom layer: imports only the usage record and its pricing (the message types for type
checking only, so that reports start without them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from chit.pricing import Cost
from chit.usage import Usage

if TYPE_CHECKING:  # annotations only: reports import this module without the message types
    from chit.messages import AssistantTurn, Message


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

    def report(self) -> Report:
        """The usage report of the session."""
        rows = [(r.turn, r.response.model_name, r) for r in self.records]
        return Report.of(self.session_id, self.turns, rows, Totals.of)


#: One request as a report groups it: its turn, its model, and what ``total`` sums.
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Report:
    """What ``/usage`` and ``chit usage`` show; every figure is summed from request records."""

    session_id: str
    """The session's id."""
    turns: int
    """Turn numbers used so far."""
    totals: Totals
    """Every request the session ever made."""
    by_model: dict[str, tuple[int, Totals]]
    """Per reported model, in order of first use: how many turns it served, and its totals."""
    last_turn: tuple[int, Totals] | None
    """The turn of the last request and that turn's totals; ``None`` before any request."""

    @classmethod
    def of(
        cls,
        session_id: str,
        turns: int,
        rows: Sequence[tuple[int, str, Row]],
        total: Callable[[list[Row]], Totals],
    ) -> Report:
        """Group ``(turn, model, request)`` rows, oldest first; ``total`` sums requests."""
        if not rows:
            return cls(session_id, turns, total([]), {}, None)
        # Column by column: a report over a long session groups tens of thousands of rows.
        turn_of, model_of, requests = zip(*rows, strict=True)
        everything = total(list(requests))
        if len(set(model_of)) == 1:  # one model served every request: the session's totals
            by_model = {model_of[0]: (len(set(turn_of)), everything)}
        else:
            rows_of: dict[str, list[int]] = {}
            for i, m in enumerate(model_of):
                rows_of.setdefault(m, []).append(i)
            by_model = {
                m: (len({turn_of[i] for i in mine}), total([requests[i] for i in mine]))
                for m, mine in rows_of.items()
            }
        last = turn_of[-1]
        last_requests = [r for t, r in zip(turn_of, requests, strict=True) if t == last]
        return cls(session_id, turns, everything, by_model, (last, total(last_requests)))
