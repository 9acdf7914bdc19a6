"""The agent loop: runs user turns over a provider, tools and a session.

Embed chit from Python::

    agent = Agent(provider, endpoint, model)
    for event in agent.run("what is in this folder?"):
        ...

Each name loads its module when first asked for (``chit.agent.Agent`` loads the loop), so a
chat drawing its first prompt, which needs none of them, does not wait for them.
"""

from typing import TYPE_CHECKING

from chit.later import on_first_use

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

# Each module loads when one of its names is first asked for.
__getattr__ = on_first_use(
    globals(),
    {
        "chit.agent.budget": ("Budget",),
        "chit.agent.events": (
            *("AgentEvent", "BudgetWarning", "Compacted", "Decision", "PermissionRequest"),
            *("ToolDone", "TurnDone", "UsageRecorded", "drain"),
        ),
        "chit.agent.loop": ("Agent", "Journal"),
        "chit.agent.tools": ("Tool", "ToolContext", "ToolFailed", "ToolRegistry", "default_tools"),
    },
)
