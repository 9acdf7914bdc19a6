"""Steering a conversation: switch the model, list and rewind turns (the files the tools
changed too), fork, and start afresh. Each operation takes the agent and the session it
writes to; the REPL's commands are thin over these, and a Python user calls them the same::

    session = conversation.fork(agent, session)
    changed = conversation.rewind(agent, session, 1)
    conversation.restore(session, changed)

Tokens are never un-spent: a rewind keeps every request's record, and turn numbers keep
counting up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from chit.agent.budget import Budget
from chit.agent.loop import Agent
from chit.agent.tools import ToolContext
from chit.checkpoint import Session
from chit.checkpoint.snapshots import FileChange
from chit.errors import BadInput
from chit.messages import Message
from chit.providers import Endpoint, choose, connect, provider_for_model, without_userinfo
from chit.state import AgentState, RequestRecord, Totals

__all__ = [
    "FileChange",
    "Turn",
    "clear",
    "endpoint_for",
    "fork",
    "journal_budget",
    "journal_model",
    "restore",
    "rewind",
    "switch_model",
    "track_files",
    "turns",
]


def track_files(agent: Agent, session: Session) -> None:
    """Have ``write_file`` and ``edit_file`` keep, in ``session``, what a file held before
    they change it (once per file and turn), for :func:`rewind` to restore."""
    kept: set[tuple[int, Path]] = set()

    def before_change(path: Path) -> None:
        turn = agent.state.turns + 1  # the turn running now
        if (turn, path) not in kept:
            session.keep_file(path, turn)
            kept.add((turn, path))

    context = agent.tool_context or ToolContext(root=Path.cwd())
    agent.tool_context = replace(context, before_change=before_change)


# --- the model ------------------------------------------------------------------------


def journal_model(session: Session, endpoint: Endpoint, model: str) -> None:
    """The ``model`` event: the provider, model and endpoint the session uses from now on
    (the endpoint never with a user or password in it)."""
    where = without_userinfo(endpoint.base_url)
    fields = {"base_url": where} if where is not None else {}
    session.append_event("model", provider=endpoint.provider, model=model, **fields)


def journal_budget(session: Session, budget: Budget) -> None:
    """The ``budget`` event: the limits the session keeps from now on."""
    session.append_event(
        "budget",
        max_cost=None if budget.max_cost is None else str(budget.max_cost),
        max_tokens=budget.max_tokens,
    )


def endpoint_for(
    current: Endpoint, name: str, env: Mapping[str, str] | None = None
) -> tuple[Endpoint, str]:
    """Where ``name`` is served: the current endpoint when the name points to no other
    provider (a local server or a gateway keeps serving); else the provider chosen as at
    start-up (by the name, then the credentials). Timeouts and retries stay as they were."""
    env = os.environ if env is None else env
    named = provider_for_model(name)
    if named is None or named == current.provider:
        endpoint, model = choose(env, current.provider, name, current.base_url)
    else:
        endpoint, model = choose(env, None, name)
    kept = replace(
        endpoint,
        max_retries=current.max_retries,
        connect_timeout=current.connect_timeout,
        first_byte_timeout=current.first_byte_timeout,
        read_timeout=current.read_timeout,
        home=current.home,
    )
    return kept, model


def switch_model(
    agent: Agent, session: Session, name: str, env: Mapping[str, str] | None = None
) -> None:
    """Go on with model ``name`` (and its provider); a ``model`` event says so. Usage stays
    per model: every record names the model that served it. Nothing changes when the new
    model cannot be used: no credentials, or a cost budget and no price known for it
    (:class:`BadInput`, as at start-up)."""
    if not name.strip():
        raise BadInput("name a model: /model NAME (/model alone lists them)")
    endpoint, model = endpoint_for(agent.endpoint, name.strip(), env)
    before = agent.endpoint, agent.model
    agent.endpoint, agent.model = endpoint, model
    try:
        agent.check_prices()
        provider = connect(endpoint)
    except BaseException:
        agent.endpoint, agent.model = before
        raise
    agent.provider.close()
    agent.provider = provider
    journal_model(session, endpoint, model)


# --- turns and rewinding ----------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One finished turn of the conversation as it stands."""

    number: int
    """Its number (never reused)."""
    messages: list[Message]
    """Its messages: the user's, the answers, the tool calls and results."""
    records: list[RequestRecord]
    """Every request it made."""

    @property
    def totals(self) -> Totals:
        """Its requests summed."""
        return Totals.of(self.records)

    @property
    def prompt(self) -> str:
        """What the user asked."""
        return next((m.text for m in self.messages if m.role == "user"), "")


def turns(agent: Agent, session: Session) -> list[Turn]:
    """The finished turns the conversation holds now, oldest first (turns a rewind left
    behind are not among them; their tokens still count in every total)."""
    loaded = session.as_read()
    if loaded is None:
        return []
    messages = loaded.state.messages
    out: list[Turn] = []
    start = 0
    for number, length in loaded.lineage():
        records = [r for r in agent.state.records if r.turn == number]
        out.append(Turn(number, messages[start:length], records))
        start = length
    return out


def rewind(agent: Agent, session: Session, turn: int) -> list[FileChange]:
    """Take the conversation back to just after turn ``turn`` (0: empty); the files the
    tools changed since, each with what it held then, to :func:`restore` if wanted.
    :class:`BadInput` when there is no such turn."""
    read = session.as_read()  # once, for the rewind and the files both
    state = session.rewind(turn, read)
    if state is None:
        raise BadInput(f"there is no turn {turn} to go back to (/rewind lists the turns)")
    agent.state = state
    return session.changed_after(turn, read)


def restore(session: Session, changes: list[FileChange]) -> None:
    """Put each file back as it was (one that did not exist is removed)."""
    for change in changes:
        change.restore(session.files)


# --- new sessions -----------------------------------------------------------------------


def fork(agent: Agent, session: Session) -> Session:
    """Go on in a new session holding this one's lines, naming it as its parent; the old
    one is left as it is, its lock released. Returns the new session."""
    forked = session.fork()
    session.close()
    _move(agent, forked, agent.state)
    return forked


def clear(agent: Agent, session: Session) -> Session:
    """Go on with an empty conversation in a new session (same model and budget); the
    old one is kept, closed and unlocked. Returns the new session."""
    fresh = Session.create(
        session.home,
        cwd=os.getcwd(),
        provider=agent.endpoint.provider,
        model=agent.model,
        base_url=without_userinfo(agent.endpoint.base_url),
    )
    if agent.budget.max_cost is not None or agent.budget.max_tokens is not None:
        journal_budget(fresh, agent.budget)
    session.close()
    _move(agent, fresh, AgentState())
    return fresh


def _move(agent: Agent, session: Session, state: AgentState) -> None:
    state.session_id = session.session_id
    agent.state = state
    agent.journal = session
    track_files(agent, session)
