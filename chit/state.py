"""``AgentState``: the conversation and every request's record; totals and the usage
:class:`Report` are derived from the records.

A *turn* is one user turn: the user's message and every provider request the tool loop
then makes. Each request's record (an :class:`~chit.messages.AssistantTurn` in a
:class:`RequestRecord`) names the turn it belonged to.

Bottom layer: imports only the usage record, its pricing and the message types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chit.messages import AssistantTurn, Message
from chit.pricing import Cost
from chit.usage import Usage, count


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One provider request as the session keeps it."""

    turn: int
    """The user turn (1-based) the request belonged to."""
    response: AssistantTurn
    """What the provider returned, usage included."""
    cost: Cost = field(default_factory=Cost)
    """What it cost, priced when it was recorded."""
    compaction: bool = False
    """The request asked for a summary of the conversation to replace it (``/compact``,
    auto-compaction): counted like any other."""


@dataclass(frozen=True, slots=True)
class Totals:
    """Usage and cost summed over some requests."""

    requests: int = 0
    """How many provider requests the sum covers."""
    usage: Usage = field(default_factory=Usage)
    """Their summed usage."""
    cost: Cost = field(default_factory=Cost)
    """Their summed cost."""

    def plus(self, record: RequestRecord) -> Totals:
        """These totals and one more request."""
        usage, cost = self.usage + record.response.usage, self.cost + record.cost
        return Totals(self.requests + 1, usage, cost)

    @classmethod
    def of(cls, records: Iterable[RequestRecord]) -> Totals:
        """The totals of some records, summed oldest first."""
        totals = cls()
        for record in records:
            totals = totals.plus(record)
        return totals

    @property
    def cache_hit_rate(self) -> float | None:
        """Cache reads over input tokens, of the requests that reported their input;
        ``None`` when no input was reported (or it was 0)."""
        inputs = self.usage.input_tokens
        if not inputs:
            return None
        return round((self.usage.cache_read_tokens or 0) / inputs, 4)

    def to_json(self) -> dict[str, Any]:
        """The shape of spec/cli.md: requests, usage (null = never reported), unknown,
        cost_usd, and the cache figures: ``cache_saved_usd`` is what the priced requests
        would have cost at the uncached input rate minus what they cost (negative when
        cache writes cost more than reads saved; null when nothing was priced)."""
        saved = self.cost.saved_usd
        return {
            "requests": self.requests,
            "usage": self.usage.counts(),
            "unknown": {
                "input_tokens": self.usage.input_unknown,
                "output_tokens": self.usage.output_unknown,
            },
            "cost_usd": self.cost.usd_str(),
            "cache_hit_rate": self.cache_hit_rate,
            "cache_saved_usd": None if saved is None else f"{saved:.6f}",
        }


#: The lifetimes of a cache write, as ``cache_write_split`` names them, and the keys of
#: a request's ``extras`` that hold them (where the provider reports them: Anthropic).
CACHE_LIFETIMES = {"5m": "cache_write_5m", "1h": "cache_write_1h"}


def cache_write_split(records: Iterable[RequestRecord]) -> dict[str, int] | None:
    """Cache-write tokens by lifetime, ``{"5m": N, "1h": M}``, summed over the requests
    whose provider reported the split; ``None`` when none did."""
    split: dict[str, int] | None = None
    for record in records:
        extras = record.response.extras
        counts = {k: count(extras.get(key)) for k, key in CACHE_LIFETIMES.items()}
        if all(n is None for n in counts.values()):
            continue
        split = split or dict.fromkeys(CACHE_LIFETIMES, 0)
        for k, n in counts.items():
            split[k] += n or 0
    return split


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
        return Report.of(self.session_id, self.turns, self.records)


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
    cache_write_split: dict[str, int] | None = None
    """Cache writes by lifetime (:func:`cache_write_split`), ``None`` when never reported."""

    @classmethod
    def of(
        cls,
        session_id: str,
        turns: int,
        records: Sequence[RequestRecord],
        totals: Totals | None = None,
    ) -> Report:
        """The report of a session's records, oldest first; ``totals``: theirs, when they
        are summed already (a reader sums them as it goes)."""
        totals = Totals.of(records) if totals is None else totals
        split = cache_write_split(records)
        models: dict[str, list[RequestRecord]] = {}
        for r in records:
            models.setdefault(r.response.model_name, []).append(r)
        by_model = {
            # One model served every request: its totals are the session's.
            m: (len({r.turn for r in mine}), totals if len(models) == 1 else Totals.of(mine))
            for m, mine in models.items()
        }
        if not records:
            return cls(session_id, turns, totals, by_model, None, split)
        last = records[-1].turn
        return cls(
            session_id,
            turns,
            totals,
            by_model,
            (last, Totals.of(r for r in records if r.turn == last)),
            split,
        )
