"""Compaction: the model summarises the conversation, and the summary replaces it.

:meth:`chit.agent.Agent.compact` does it when asked (``/compact``, as a turn of its own);
:meth:`~chit.agent.Agent.run` does it before a turn when the last request filled more of
the context window than ``auto_compact`` allows, and within a turn when the provider
refuses the conversation as too long (then the request is sent once more).

The summary request is a request like any other: recorded, priced and counted in every
total, its record marked as a compaction. It goes with the system prompt and tools of the
conversation's own requests, so the prompt cache that holds for them holds for it too.
The session keeps the summary in a ``compact`` line; the messages before it stay in the
file (a rewind can go back to them).
"""

from __future__ import annotations

from chit.agent.events import Compacted, Reason
from chit.messages import AssistantTurn, Ended, Message, RequestError

#: What the model is asked, after the conversation.
PROMPT = (
    "Summarise the conversation so far so that the work can go on from the summary alone: "
    "what the user asked for, the decisions made and why, every file read, created or "
    "changed (with its path and what changed), the commands run and what they showed, and "
    "the tasks still open, with the next step. Be specific and brief. Answer with the "
    "summary only; call no tool."
)


def summary_request(history: list[Message], focus: str = "") -> list[Message]:
    """The messages that ask for a summary of ``history``, keeping ``focus`` in particular."""
    ask = PROMPT + (f"\n\nKeep in particular: {focus.strip()}" if focus.strip() else "")
    return [*history, Message(role="user", text=ask)]


def outcome(response: AssistantTurn, reason: Reason, replaced: int) -> Compacted:
    """What a summary request gave: the summary, or why there is none."""
    summary = response.text.strip()
    if response.ended is not Ended.COMPLETE:
        error = response.error or RequestError("interrupted", "interrupted by the user")
    elif not summary:
        error = RequestError("compaction", "the model answered with no summary")
    else:
        return Compacted(reason, replaced, summary, output_tokens=response.usage.output_tokens)
    return Compacted(reason, replaced, error=error)


def too_long(response: AssistantTurn) -> bool:
    """Whether the provider refused the request as too long for the model's context."""
    return response.error is not None and response.error.type == "context_length"
