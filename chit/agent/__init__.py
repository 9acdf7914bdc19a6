"""The agent loop: runs user turns over a provider, tools and a session.

Embed chit from Python::

    agent = Agent(provider, endpoint, model)
    for event in agent.run("what is in this folder?"):
        ...
"""

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
