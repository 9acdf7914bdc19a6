"""The usage record: one normalized count of tokens per provider request (spec/usage.md).

This module is the bottom of chit: it imports nothing else of chit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TypeVar

#: The five counted fields, in the order the spec and the JSON output list them.
FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


#: What :func:`add_known` sums: token counts, or amounts of money.
N = TypeVar("N", int, Decimal)


def add_known(a: N | None, b: N | None) -> N | None:
    """``a + b`` where ``None`` is "no known contribution", the zero of this sum: unknown
    never becomes 0 (token counts here, amounts of money in :mod:`chit.pricing`)."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request, or the sum of several.

    A value of ``None`` means no request contributing to it reported the count.
    ``input_unknown`` and ``output_unknown`` count the requests that left the input or
    output side unknown, so a total can say "at least N (k requests unreported)".
    ``Usage()`` is the identity of ``+``; build a single request's record with
    :meth:`reported`, which counts its ``None`` fields as unknown.
    """

    input_tokens: int | None = None
    """Every prompt token processed, cached or not (inclusive)."""
    cache_read_tokens: int | None = None
    """Part of ``input_tokens`` served from the prompt cache."""
    cache_write_tokens: int | None = None
    """Part of ``input_tokens`` written to the prompt cache."""
    output_tokens: int | None = None
    """Every generated token billed as output, reasoning included."""
    reasoning_tokens: int | None = None
    """Part of ``output_tokens`` spent on hidden reasoning."""
    input_unknown: int = 0
    """How many requests in this sum never reported their input count."""
    output_unknown: int = 0
    """How many requests in this sum never reported their output count."""

    @classmethod
    def reported(
        cls,
        input_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        output_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> Usage:
        """The record of one request: a ``None`` count is counted as unknown."""
        return cls(
            input_tokens,
            cache_read_tokens,
            cache_write_tokens,
            output_tokens,
            reasoning_tokens,
            int(input_tokens is None),
            int(output_tokens is None),
        )

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            add_known(self.input_tokens, other.input_tokens),
            add_known(self.cache_read_tokens, other.cache_read_tokens),
            add_known(self.cache_write_tokens, other.cache_write_tokens),
            add_known(self.output_tokens, other.output_tokens),
            add_known(self.reasoning_tokens, other.reasoning_tokens),
            self.input_unknown + other.input_unknown,
            self.output_unknown + other.output_unknown,
        )

    @property
    def total_tokens(self) -> int:
        """Known input plus known output (a lower bound when something is unknown)."""
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def complete(self) -> bool:
        """True when every request in the sum reported both input and output."""
        return self.input_unknown == 0 and self.output_unknown == 0

    def counts(self) -> dict[str, int | None]:
        """The five fields as a dict, ``None`` for never reported."""
        return {name: getattr(self, name) for name in FIELDS}


assert [f.name for f in fields(Usage)][:5] == list(FIELDS)


def count(value: object) -> int | None:
    """A token count as a file (or a provider's extras) holds it: a whole number >= 0,
    else ``None`` (no count)."""
    return value if type(value) is int and value >= 0 else None  # a bool is no count
