"""Slash commands that steer the conversation: ``/model``, ``/rewind``, ``/fork``,
``/export`` and ``/clear``, each over :mod:`chit.agent.conversation`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from rich.text import Text

from chit.agent import Agent, conversation
from chit.checkpoint import Session
from chit.cli.render import tokens_and_cost
from chit.cli.repl.commands import Repl, command
from chit.errors import BadInput, ChitError

#: Characters of a turn's prompt shown by ``/rewind``.
PROMPT_WIDTH = 60


def _failed(repl: Repl, e: ChitError | OSError) -> None:
    why = e.strerror or str(e) if isinstance(e, OSError) else str(e)
    repl.console.print(f"! {why}", style="red")


@command("model")
def _model(repl: Repl, arg: str) -> None:
    """Switch to another model (and its provider); alone, list the models known."""
    agent = repl.agent
    try:
        if not arg:
            from chit.cli.models import known_models, models_text

            warn = lambda line: repl.console.print(f"! {line}", style="yellow")  # noqa: E731
            rows = known_models(os.environ, current=agent.endpoint, warn=warn)
            repl.console.print(Text(models_text(rows).rstrip() or "no models listed"))
            repl.console.print(f"using {agent.model} · /model NAME switches", style="dim")
            return
        conversation.switch_model(agent, repl.session, arg)
    except ChitError as e:
        _failed(repl, e)
        return
    repl.console.print(f"now using {agent.model} ({agent.endpoint.provider})", style="dim")


@command("rewind")
def _rewind(repl: Repl, arg: str) -> None:
    """List the turns; /rewind N goes back to after turn N (and offers the files back)."""
    try:
        session = repl.session
        if not arg:
            _list_turns(repl, session)
            return
        if not arg.isdigit():
            raise BadInput(f"/rewind takes a turn number, not {arg!r} (/rewind lists them)")
        turn = int(arg)
        changes = conversation.rewind(repl.agent, session, turn)
    except ChitError as e:
        _failed(repl, e)
        return
    left = len(conversation.turns(repl.agent, session))
    repl.console.print(
        f"back to after turn {turn}: {left} turn(s) in the conversation "
        "(the tokens spent since still count)",
        style="dim",
    )
    if changes:
        _offer_files(repl, session, turn, changes)


def _list_turns(repl: Repl, session: Session) -> None:
    turns = conversation.turns(repl.agent, session)
    if not turns:
        repl.console.print("no finished turn to go back to", style="dim")
        return
    for turn in turns:
        words = " ".join(turn.prompt.split())
        if len(words) > PROMPT_WIDTH:
            words = words[: PROMPT_WIDTH - 1] + "…"
        repl.console.print(
            Text.assemble(
                (f"{turn.number:>4}  ", "bold"),
                f"{words:<{PROMPT_WIDTH}}  ",
                (tokens_and_cost(turn.totals), "dim"),
            )
        )
    repl.console.print("/rewind N goes back to after turn N (0: the start)", style="dim")


def _offer_files(
    repl: Repl, session: Session, turn: int, changes: list[conversation.FileChange]
) -> None:
    root = Path.cwd()
    repl.console.print(f"files changed after turn {turn}:")
    for change in changes:
        shown = change.path.relative_to(root) if change.path.is_relative_to(root) else change.path
        what = "remove it (it did not exist)" if change.sha256 is None else "restore it"
        repl.console.print(f"  {shown} · changed in turn {change.turn} · {what}")
    try:
        answer = PromptSession[str]().prompt("Restore these files? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        repl.console.print("files left as they are", style="dim")
        return
    try:
        conversation.restore(session, changes)
    except (ChitError, OSError) as e:
        _failed(repl, e)
        return
    repl.console.print(f"restored {len(changes)} file(s)", style="dim")


def _go_on_in(repl: Repl, move: Callable[[Agent, Session], Session]) -> Session | None:
    """Move the chat on to the session ``move`` makes (a fork, a fresh one); the old one."""
    try:
        old = repl.session
        new = move(repl.agent, old)
    except ChitError as e:
        _failed(repl, e)
        return None
    repl.session = new
    return old


@command("fork")
def _fork(repl: Repl, arg: str) -> None:
    """Go on in a new session from here (this one stays as it is)."""
    old = _go_on_in(repl, conversation.fork)
    if old is not None:
        new_id = repl.session.session_id
        repl.console.print(
            Text.assemble(
                "forked: now in session ", (new_id, "bold"), f" (from {old.session_id[:8]})"
            )
        )


@command("clear")
def _clear(repl: Repl, arg: str) -> None:
    """Start afresh in a new session (this one is kept: chit -r resumes it)."""
    old = _go_on_in(repl, conversation.clear)
    if old is not None:
        repl.run_start = 0
        repl.reasoning = ""
        repl.console.print(
            Text.assemble(
                "new session ",
                (repl.session.session_id[:8], "bold"),
                f" · the last one is kept: chit -r {old.session_id[:8]} resumes it",
            )
        )


@command("export")
def _export(repl: Repl, arg: str) -> None:
    """Write the conversation as Markdown with its usage (./chit-<id>.md, or PATH)."""
    from chit.cli.markdown import markdown, new_path, write_new

    agent = repl.agent
    try:
        session = repl.session
        path = new_path(arg, session.session_id, Path.cwd())
        text = markdown(
            session.session_id, conversation.turns(agent, session), agent.state.totals()
        )
        write_new(path, text)
    except (ChitError, OSError) as e:
        _failed(repl, e)
        return
    repl.console.print(f"wrote {path}", style="dim")
