"""Building an agent from the command line: the session, the provider, the budget, the tools."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from chit.agent import instructions
from chit.agent.instructions import Instructions
from chit.checkpoint import home_dir
from chit.errors import BadInput
from chit.providers import (
    HTTP_PROVIDERS,
    Connecting,
    Endpoint,
    Provider,
    choose,
    connect,
    without_userinfo,
)

if TYPE_CHECKING:
    from chit.agent import Agent, Budget, Decision
    from chit.checkpoint import Loaded, Session
    from chit.messages import ToolCall


def open_session(args: argparse.Namespace) -> tuple[Session, Loaded] | None:
    """The session ``-c`` / ``-r`` names, loaded and locked (with ``--fork``: continued in
    a new session naming it); ``None`` for a new one."""
    if args.fork and not (args.continue_ or args.resume):
        raise BadInput("--fork goes with -c or -r (it continues a session as a new one)")
    if not (args.continue_ or args.resume):
        return None
    from chit.checkpoint import Session

    if args.continue_:
        problems: list[str] = []
        try:
            return Session.latest(args.home, fork=args.fork, problems=problems)
        finally:
            for problem in problems:
                print(f"chit: warning: skipped {problem}", file=sys.stderr)
    if args.resume:
        return Session.open(args.resume, args.home, fork=args.fork)
    return None


def budget_from(args: argparse.Namespace, loaded: Loaded | None) -> tuple[Budget, bool]:
    """The budget: the flags, else what the resumed session last set. True when it changed."""
    from chit.agent import Budget

    if args.max_cost is not None or args.max_tokens is not None:
        return Budget(args.max_cost, args.max_tokens), True
    if loaded is None:
        return Budget(), False
    saved = loaded.budget()
    return Budget(saved.max_cost, saved.max_tokens), False


@dataclass
class Opening:
    """What the command line opens before the agent is built: the session, the endpoint
    and model, the project instructions. For a new chat this is light (no provider, no
    tool, not even the session format is loaded): its session is made when first needed."""

    session_id: str
    make_session: Callable[[], Session]
    """The session: made (a new one writes nothing yet) when :meth:`session` first asks."""
    loaded: Loaded | None
    endpoint: Endpoint
    model: str
    provider: Provider
    """Connected, or connecting in the background (:class:`chit.providers.Connecting`)."""
    instructions: Instructions
    model_changed: bool
    """The flags name another provider, model or endpoint than the session last used."""
    _session: Session | None = None

    def session(self) -> Session:
        """The session, made now if it is not yet."""
        if self._session is None:
            self._session = self.make_session()
        return self._session

    def close(self) -> None:
        """Close the provider and the session, if it was made (nothing is written then)."""
        self.provider.close()
        if self._session is not None:
            self._session.close()


def open_all(args: argparse.Namespace, background: bool = False) -> Opening:
    """Open or create the session and choose the endpoint; with ``background``, a
    key-based provider connects in the background."""
    opened = open_session(args)
    session, loaded = opened if opened is not None else (None, None)
    if loaded is not None:
        from chit.cli.render import warn

        warn(loaded.path, loaded.warnings)
    # The provider and model the session last used, unless the flags say otherwise.
    before = loaded.model() if loaded is not None else (None, None)
    # ... and the endpoint it used (a local server, a gateway), unless another is named.
    same_provider = args.provider is None or args.provider == before[0]
    base_url = args.base_url or (loaded.base_url() if loaded and same_provider else None)
    endpoint, model = choose(
        os.environ,
        args.provider or before[0],
        args.model or before[1],
        base_url,
        on_local=lambda line: print(f"chit: {line}", file=sys.stderr),
    )
    if args.timeout is not None:
        endpoint = replace(endpoint, first_byte_timeout=args.timeout, read_timeout=args.timeout)
    endpoint = replace(endpoint, home=home_dir(args.home))
    # Connected before the session is touched: a missing extra or credential writes nothing.
    # Connecting over chit's own transport cannot fail, so a chat need not wait for it.
    provider: Provider
    if background and endpoint.provider in HTTP_PROVIDERS:
        provider = Connecting(endpoint)
    else:
        provider = connect(endpoint)
    where = without_userinfo(endpoint.base_url)
    found = instructions.find(Path.cwd())
    for problem in found.problems:
        print(f"chit: warning: {problem}", file=sys.stderr)
    if session is not None:
        last = (*before, loaded.base_url() if loaded else None)
        changed = (endpoint.provider, model, where) != last
        return Opening(
            session.session_id,
            lambda: session,
            loaded,
            endpoint,
            model,
            provider,
            found,
            changed,
            session,
        )
    session_id, cwd = str(uuid.uuid4()), os.getcwd()

    def create() -> Session:
        from chit.checkpoint import Session

        return Session.create(
            args.home,
            cwd=cwd,
            provider=endpoint.provider,
            model=model,
            base_url=where,
            session_id=session_id,
        )

    return Opening(session_id, create, loaded, endpoint, model, provider, found, False)


def agent_for(
    args: argparse.Namespace,
    opening: Opening,
    permission: Callable[[ToolCall], Decision] | None,
) -> Agent:
    """The agent that runs turns in the opened session."""
    from chit.agent import Agent, ToolContext, default_tools
    from chit.agent.conversation import journal_budget, journal_model, track_files
    from chit.agent.loop import SYSTEM_PROMPT

    session, loaded = opening.session(), opening.loaded
    if opening.model_changed:
        journal_model(session, opening.endpoint, opening.model)
    budget, changed = budget_from(args, loaded)
    if changed:
        journal_budget(session, budget)
    agent = Agent(
        provider=opening.provider,
        endpoint=opening.endpoint,
        model=opening.model,
        journal=session,
        tools=None if args.no_tools else default_tools(),
        permission=permission,
        budget=budget,
        max_requests=args.max_requests,
        max_output_tokens=args.max_output_tokens,
        cache_ttl=args.cache_ttl,
        system=opening.instructions.system(SYSTEM_PROMPT),
        instructions=opening.instructions,
        auto_compact=args.auto_compact,
        tool_context=ToolContext(
            root=Path.cwd(), allowed_reads=tuple(Path(p).expanduser() for p in args.allow_read)
        ),
    )
    if loaded is not None:
        agent.state = loaded.state
    agent.state.session_id = session.session_id
    track_files(agent, session)
    return agent


def build_agent(
    args: argparse.Namespace, permission: Callable[[ToolCall], Decision] | None
) -> tuple[Agent, Session]:
    """Open or create the session and the agent that runs turns in it."""
    opening = open_all(args)
    return agent_for(args, opening, permission), opening.session()
