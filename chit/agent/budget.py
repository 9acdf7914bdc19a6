"""The session's budget: a cost and/or token ceiling, with warnings on the way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chit.state import Totals

#: Fractions of the budget at which a warning is given; 1 is "spent".
WARN_AT = (Decimal("0.5"), Decimal("0.8"), Decimal(1))


@dataclass(frozen=True, slots=True)
class Budget:
    """What the session may spend; ``None`` is no limit."""

    max_cost: Decimal | None = None
    """USD the session may spend, every request it ever made counted."""
    max_tokens: int | None = None
    """Tokens (input plus output) the session may spend."""

    @property
    def limited(self) -> bool:
        """True when any limit is set."""
        return self.max_cost is not None or self.max_tokens is not None

    def used(self, totals: Totals) -> Decimal:
        """The largest fraction of any limit spent so far (0 without limits)."""
        fractions = [Decimal(0)]
        if self.max_cost is not None:
            fractions.append((totals.cost.usd or Decimal(0)) / self.max_cost)
        if self.max_tokens is not None:
            fractions.append(Decimal(totals.usage.total_tokens) / self.max_tokens)
        return max(fractions)

    def spent(self, totals: Totals) -> bool:
        """True when no new request may be sent."""
        return self.used(totals) >= 1

    def crossed(self, before: Totals, after: Totals) -> Decimal | None:
        """The highest warning threshold passed between two totals, if any: one request
        that jumps from 40 % to 102 % is one warning, that the budget is spent."""
        a, b = self.used(before), self.used(after)
        return max((w for w in WARN_AT if a < w <= b), default=None)

    def tokens_left(self, totals: Totals) -> int | None:
        """Tokens the budget still allows (``None``: no token limit)."""
        if self.max_tokens is None:
            return None
        return max(self.max_tokens - totals.usage.total_tokens, 0)

    def describe(self) -> str:
        """The limits in words."""
        parts = []
        if self.max_cost is not None:
            parts.append(f"${self.max_cost}")
        if self.max_tokens is not None:
            parts.append(f"{self.max_tokens:,} tokens")
        return " / ".join(parts) or "no limit"
