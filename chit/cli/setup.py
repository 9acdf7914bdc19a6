"""Building an agent from the command line: the session, the provider, the budget, the tools."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from chit.agent import Agent, Budget, ToolContext, default_tools
from chit.agent.loop import Decision
from chit.checkpoint import Loaded, Session
from chit.messages import ToolCall
from chit.providers import choose, connect


def open_session(args: argparse.Namespace, home: Path | None) -> tuple[Session, Loaded] | None:
    """The session ``-c`` / ``-r`` names, loaded; ``None`` for a new one."""
    if args.continue_:
        return Session.latest(home)
    if args.resume:
        return Session.open(args.resume, home)
    return None


def last_event(loaded: Loaded | None, kind: str) -> dict[str, Any] | None:
    """The most recent journal event of a kind (``model``, ``budget``)."""
    if loaded is None:
        return None
    return next((e for e in reversed(loaded.events) if e.get("type") == kind), None)


def budget_from(args: argparse.Namespace, loaded: Loaded | None) -> tuple[Budget, bool]:
    """The budget: the flags, else what the resumed session last set. True when it changed."""
    if args.max_cost is not None or args.max_tokens is not None:
        return Budget(args.max_cost, args.max_tokens), True
    saved = last_event(loaded, "budget")
    if saved is None:
        return Budget(), False
    cost = saved.get("max_cost")
    tokens = saved.get("max_tokens")
    return Budget(
        Decimal(cost) if isinstance(cost, str) else None,
        tokens if isinstance(tokens, int) else None,
    ), False


def build_agent(
    args: argparse.Namespace,
    home: Path | None,
    permission: Callable[[ToolCall], Decision] | None,
) -> tuple[Agent, Session]:
    """Open or create the session and the agent that runs turns in it."""
    opened = open_session(args, home)
    session, loaded = opened if opened is not None else (None, None)
    # The provider and model the session last used, unless the flags say otherwise.
    before = last_event(loaded, "model") or (loaded.header if loaded is not None else {})
    endpoint, model = choose(
        os.environ,
        args.provider or before.get("provider"),
        args.model or before.get("model"),
        args.base_url,
    )
    if session is None:
        session = Session.create(home, cwd=os.getcwd(), provider=endpoint.provider, model=model)
    elif (endpoint.provider, model) != (before.get("provider"), before.get("model")):
        session.append_event("model", provider=endpoint.provider, model=model)
    budget, changed = budget_from(args, loaded)
    if changed:
        session.append_event(
            "budget",
            max_cost=None if budget.max_cost is None else str(budget.max_cost),
            max_tokens=budget.max_tokens,
        )
    state = loaded.state if loaded is not None else None
    agent = Agent(
        provider=connect(endpoint),
        endpoint=endpoint,
        model=model,
        journal=session,
        tools=None if args.no_tools else default_tools(),
        permission=permission,
        budget=budget,
        max_requests=args.max_requests,
        cache_ttl=args.cache_ttl,
        tool_context=ToolContext(root=Path.cwd()),
    )
    if state is not None:
        agent.state = state
    agent.state.session_id = session.session_id
    return agent, session
