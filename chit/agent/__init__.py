"""The agent loop: runs user turns over a provider, tools and a session.

Embed chit from Python::

    agent = Agent(provider, endpoint, model)
    for event in agent.run("what is in this folder?"):
        ...

Each name loads its module when first asked for (``chit.agent.Agent`` loads the loop), so a
chat drawing its first prompt, which needs none of them, does not wait for them.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from chit.agent.loop import Agent, Journal
    from chit.agent.tools import Tool, ToolContext, ToolFailed, ToolRegistry, default_tools

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

#: Where each name lives; a module is loaded when one of its names is first asked for.
_WHERE = {
    "Budget": "chit.agent.budget",
    **dict.fromkeys(
        (
            "AgentEvent",
            "BudgetWarning",
            "Compacted",
            "Decision",
            "PermissionRequest",
            "ToolDone",
            "TurnDone",
            "UsageRecorded",
            "drain",
        ),
        "chit.agent.events",
    ),
    "Agent": "chit.agent.loop",
    "Journal": "chit.agent.loop",
    **dict.fromkeys(
        ("Tool", "ToolContext", "ToolFailed", "ToolRegistry", "default_tools"), "chit.agent.tools"
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
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
