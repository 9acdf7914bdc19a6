"""How full the model's context window is: the one figure the toolbar, ``/context`` and
auto-compaction read, and an estimate of what filled it.

The figure is the last request's context (input + output tokens, as the provider counted
them) against the window genai-prices knows for the model. A request that summarised the
conversation does not count: after it the conversation is its summary, whose size the
next request tells.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from chit.messages import Message, ToolSpec
from chit.pricing import model_facts
from chit.providers import Endpoint
from chit.state import AgentState, RequestRecord


@dataclass(frozen=True, slots=True)
class ContextUse:
    """The last request's context against the model's window."""

    record: RequestRecord | None
    """The request measured (``None``: none yet, or a compaction came after the last)."""
    window: int | None
    """The model's context window in tokens (``None``: unknown)."""

    @property
    def used(self) -> int | None:
        """Input and output tokens of that request (``None``: its input was not reported)."""
        if self.record is None:
            return None
        u = self.record.response.usage
        return None if u.input_tokens is None else u.input_tokens + (u.output_tokens or 0)

    @property
    def share(self) -> float | None:
        """``used`` over ``window`` (``None`` when either is unknown)."""
        used = self.used
        return None if used is None or not self.window else used / self.window

    def describe(self) -> str | None:
        """``"6% of 200k"``; ``"12,345 tokens"`` for an unknown window; ``None``: no figure."""
        used, share = self.used, self.share
        if used is None:
            return None
        if share is None or self.window is None:
            return f"{used:,} tokens"
        return f"{share:.0%} of {self.window // 1000:,}k"


def last_request(state: AgentState) -> RequestRecord | None:
    """The request whose context shows the conversation's size now: the last one, unless it
    summarised the conversation."""
    if not state.records or state.records[-1].compaction:
        return None
    return state.records[-1]


def context_window(state: AgentState, model: str, endpoint: Endpoint) -> int | None:
    """The context window of the model that answered last (else ``model``, as after a
    ``/model`` switch) at ``endpoint``, as genai-prices knows it; ``None`` when it does not."""
    last = state.records[-1].response if state.records else None
    if last is not None and last.model_requested == model:
        model = last.model_name
    facts = model_facts(model, endpoint.provider, endpoint.base_url)
    return None if facts is None else facts.context_window


def context_use(state: AgentState, window: int | None) -> ContextUse:
    """The last request's context against ``window``."""
    return ContextUse(last_request(state), window)


def measure(state: AgentState, model: str, endpoint: Endpoint) -> ContextUse:
    """The last request's context against the window of the model at ``endpoint``; the
    window is looked up only when there is a request to measure (genai-prices takes a
    while to load: a new session's first request does not wait for it)."""
    measured = last_request(state) is not None
    return context_use(state, context_window(state, model, endpoint) if measured else None)


def compaction_due(use: ContextUse, percent: int) -> bool:
    """Whether the last request used more than ``percent`` % of the window (0: never)."""
    share = use.share
    return percent > 0 and share is not None and share * 100 > percent


@dataclass(frozen=True, slots=True)
class Split:
    """What filled the last request's input, estimated: each part's share of the characters
    sent, scaled to the input tokens the provider reported (``None``: not reported)."""

    system: int | None
    """The system prompt and the tool specs."""
    instructions: int | None
    """The part of ``system`` that is project instructions."""
    conversation: int | None
    """The messages, tool results aside."""
    tool_results: int | None
    """The tools' results sent back."""
    chars: tuple[int, int, int, int]
    """The characters counted: system and tools, instructions, conversation, tool results."""


def estimate(
    record: RequestRecord | None,
    system: str,
    tools: Sequence[ToolSpec],
    instructions: str,
    messages: list[Message],
) -> Split:
    """The split of ``record``'s input between the parts of what was sent: ``system`` and
    ``tools``, ``messages`` (the conversation that request saw)."""
    system_chars = len(system) + sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in tools
    )
    conversation = tool_results = 0
    for m in messages:
        results = sum(len(r.content) for r in m.tool_results)
        tool_results += results
        conversation += (
            len(m.text)
            + len(m.reasoning)
            + sum(len(c.name) + len(c.arguments) for c in m.tool_calls)
        )
    chars = (system_chars, len(instructions), conversation, tool_results)
    total = system_chars + conversation + tool_results
    tokens = None if record is None else record.response.usage.input_tokens
    if tokens is None or total == 0:
        return Split(None, None, None, None, chars)
    scaled = [round(tokens * c / total) for c in chars]
    # The three parts add up to the reported input exactly; rounding goes to the conversation.
    scaled[2] = tokens - scaled[0] - scaled[3]
    return Split(scaled[0], scaled[1], scaled[2], scaled[3], chars)
