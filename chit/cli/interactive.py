"""The interactive chat: a prompt with a live toolbar, answers rendered as they stream,
tools shown compactly with a diff before each edit, and slash commands.

This module draws the prompt and runs the loop; the parts live in :mod:`chit.cli.repl`.
The prompt is drawn first: the agent, the console and the provider's modules
(:class:`chit.cli.repl.chat.Chat`) are built in the background while the user types, and
the first line sent waits for them only if they are not ready. Ctrl-C during an answer
stops it (the loop records the request) and comes back to the prompt; Ctrl-C twice on an
empty prompt, Ctrl-D, or ``/exit`` leaves.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText

from chit.checkpoint import home_dir
from chit.cli.repl.prompt import Toolbar, make_session, prompts_for_this_terminal
from chit.cli.setup import Opening, open_all
from chit.cli.text import plain_terminal, short_model
from chit.errors import BadInput
from chit.later import Later

if TYPE_CHECKING:
    from chit.agent import Agent
    from chit.cli.repl.chat import Chat


def run_interactive(args: argparse.Namespace) -> int:
    """Run the chat until it is left; returns the exit status."""
    if not sys.stdin.isatty():
        raise BadInput("chit needs a terminal for a chat: use chit -p PROMPT (or -p - for stdin)")
    root = Path.cwd()
    opening = open_all(args, background=True)
    # Once built, the toolbar has the whole tab to show.
    chat = Later(lambda: _build(args, opening, root), "chit-chat", lambda: prompt.app.invalidate())
    try:
        with prompts_for_this_terminal():

            def agent() -> Agent | None:
                ready = chat.ready()
                return None if ready is None else ready.repl.agent

            def commands() -> Mapping[str, str]:
                if chat.ready() is None:
                    return {}
                from chit.cli.repl.commands import descriptions

                return descriptions()

            toolbar = Toolbar(agent, opening.model, on_change=lambda: prompt.app.invalidate())
            prompt = make_session(home_dir(args.home) / "history", commands, root, toolbar)
            # Once the prompt is drawn, the rest loads while the user types.
            prompt.app.after_render += lambda _: chat.start()
            _banner(opening)
            if opening.loaded is not None and opening.loaded.state.messages:
                from chit.cli.repl.chat import show_resumed

                show_resumed(opening.loaded.state)
            _loop(chat, prompt)
    finally:
        _close(chat, opening)
    return 0


def _build(args: argparse.Namespace, opening: Opening, root: Path) -> Chat:
    from chit.cli.repl import context, conversation  # noqa: F401  (they register commands)
    from chit.cli.repl.chat import Chat

    return Chat.build(args, opening, root)


def _close(chat: Later[Chat], opening: Opening) -> None:
    built = None
    if chat.started:
        try:
            built = chat.get()
        except Exception:
            built = None
    if built is not None:
        built.close()
    else:
        opening.close()


def _banner(opening: Opening) -> None:
    """``chit · session 1a2b3c4d · claude-sonnet-4-5 · /help for commands``."""
    middle = f" · session {opening.session_id[:8]} · {short_model(opening.model)} · "
    if plain_terminal():
        print(f"chit{middle}/help for commands", flush=True)
        return
    print_formatted_text(
        FormattedText(
            [("bold ansicyan", "chit"), ("", middle), ("ansibrightblack", "/help for commands")]
        )
    )


def _loop(chat: Later[Chat], prompt: PromptSession[str]) -> None:
    interrupts = 0
    while True:
        try:
            line = prompt.prompt([("class:prompt", "› ")])
        except KeyboardInterrupt:  # Ctrl-C on an empty line
            interrupts += 1
            if interrupts >= 2:
                break
            chat.get().repl.console.print("press Ctrl-C again or Ctrl-D to leave", style="dim")
            continue
        except EOFError:
            break
        interrupts = 0
        if not line.strip():
            continue
        from chit.cli.repl.chat import keys_unechoed, run_turn
        from chit.cli.repl.commands import dispatch, is_command

        built = chat.get()
        if is_command(line):
            with keys_unechoed():
                dispatch(built.repl, line)
            if not built.repl.running:
                break
            continue
        run_turn(built.repl, line, built.telemetry)
