"""The agent loop: runs user turns over a provider, tools and a session.

Embed chit from Python::

    agent = Agent(provider, endpoint, model)
    for event in agent.run("what is in this folder?"):
        ...

The loop and the tools load when first named (``chit.agent.Agent``), so what needs only the
events or the budget (a chat drawing its first prompt) does not wait for them.
"""

import importlib
from typing import TYPE_CHECKING, Any

from chit.agent.budget import Budget
from chit.agent.events import (
    AgentEvent,
    BudgetWarning,
    Compacted,
    Decision,
    PermissionRequest,
    ToolDone,
    TurnDone,
    UsageRecorded,
    drain,
)

if TYPE_CHECKING:
    from chit.agent.loop import Agent, Journal
    from chit.agent.tools import Tool, ToolContext, ToolFailed, ToolRegistry, default_tools

#: Names loaded on first use: the loop and the tools are what a chat's prompt need not wait
#: for (the events and the budget are light, and loaded at once).
_LATER = {
    "Agent": "chit.agent.loop",
    "Journal": "chit.agent.loop",
    "Tool": "chit.agent.tools",
    "ToolContext": "chit.agent.tools",
    "ToolFailed": "chit.agent.tools",
    "ToolRegistry": "chit.agent.tools",
    "default_tools": "chit.agent.tools",
}


def __getattr__(name: str) -> Any:
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LATER[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Agent",
    "AgentEvent",
    "Budget",
    "BudgetWarning",
    "Compacted",
    "Decision",
    "Journal",
    "PermissionRequest",
    "Tool",
    "ToolContext",
    "ToolDone",
    "ToolFailed",
    "ToolRegistry",
    "TurnDone",
    "UsageRecorded",
    "default_tools",
    "drain",
]
