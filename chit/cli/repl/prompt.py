"""The input line: keys, completion, the history file (redacted, private) and the bottom
toolbar (model, context used, the session's tokens and cost, budget left)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import is_searching
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import is_dumb_terminal

from chit.cli.text import short_model
from chit.credentials import redact_text

if TYPE_CHECKING:
    from chit.agent import Agent
    from chit.state import Totals

STYLE = Style.from_dict(
    {
        "prompt": "bold ansicyan",
        "bottom-toolbar": "noreverse bg:ansiblack ansigray",
        "bottom-toolbar.key": "ansiwhite",
    }
)


class _TextOnly(Vt100_Output):
    """prompt-toolkit's output with every escape code left out: text only."""

    def write_raw(self, data: str) -> None:
        pass


@contextmanager
def prompts_for_this_terminal() -> Iterator[None]:
    """On a dumb terminal (``TERM=dumb``), the prompts made inside write text only:
    prompt-toolkit gives such a terminal a plain prompt, but still shows the cursor with
    an escape code when a prompt is made."""
    if not is_dumb_terminal():
        yield
        return
    with create_app_session(output=_TextOnly.from_pty(sys.stdout)):
        yield


class RedactedHistory(FileHistory):
    """Prompt history on disk with every credential value replaced (a key pasted into the
    prompt must not land in a file), in a file only its owner can read."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        super().__init__(str(path))

    def store_string(self, string: str) -> None:
        super().store_string(redact_text(string))


class ChitCompleter(Completer):
    """Slash commands at the start of the line; file paths in a word holding ``/``, or
    starting with ``.``, ``~`` or ``@``."""

    def __init__(self, commands: Callable[[], Mapping[str, str]], root: Path) -> None:
        self.commands = commands
        self.paths = PathCompleter(expanduser=True, get_paths=lambda: [str(root)])

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor.lstrip()
        if text.startswith("/") and " " not in text:
            typed = text[1:].lower()
            for name, doc in self.commands().items():
                if name.startswith(typed):
                    yield Completion("/" + name, -len(text), display_meta=doc)
            return
        word = document.get_word_before_cursor(WORD=True).removeprefix("@")
        if word and ("/" in word or word[0] in ".~"):
            yield from self.paths.get_completions(Document(word), event)


def key_bindings() -> KeyBindings:
    """Enter sends; Alt-Enter, Esc-Enter or Ctrl-J add a line; Ctrl-C clears the line, or
    on an empty line ends the prompt with ``KeyboardInterrupt`` (twice leaves chit).
    While Ctrl-R searches the history, the keys are the search's own (Enter takes the line
    found, Ctrl-C gives up)."""
    kb = KeyBindings()
    editing = ~is_searching

    @kb.add("enter", filter=editing)
    def _send(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)
            if not buffer.text.lstrip().startswith("/"):
                return  # a path was completed: go on typing
        buffer.validate_and_handle()

    @kb.add("escape", "enter", filter=editing)
    @kb.add("c-j", filter=editing)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c", filter=editing)
    def _cancel(event: KeyPressEvent) -> None:
        if event.current_buffer.text:
            event.current_buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt())

    return kb


class Toolbar:
    """The bottom toolbar. The context window is looked up once a request has been made
    (genai-prices, loaded by then to price it, knows it), in the background, so neither
    the first prompt nor a keystroke waits for it. Until the agent is built (while the
    first prompt is up) it shows the model alone."""

    def __init__(
        self, agent: Callable[[], Agent | None], model: str, on_change: Callable[[], None]
    ) -> None:
        self._agent = agent
        self._model = model
        self.window: int | None = None
        self._on_change = on_change
        self._looking: str | None = None  # the model looked up, once a request was made
        self._looked = False
        # The session's totals, summed again only when a record comes: the toolbar is drawn
        # on every keystroke, and summing 10,000 records takes 70 ms.
        self._summed: tuple[tuple[int, int], Totals] | None = None

    def _look_up(self, agent: Agent) -> None:
        model = agent.model
        from chit.agent.context import context_window

        window = context_window(agent.state, model, agent.endpoint)
        if self._looking == model:  # not switched meanwhile
            self.window, self._looked = window, True
            self._on_change()

    def _totals(self, agent: Agent) -> Totals:
        records = agent.state.records
        key = (id(records), len(records))  # records are only appended; /clear makes new ones
        if self._summed is None or self._summed[0] != key:
            self._summed = (key, agent.state.totals())
        return self._summed[1]

    def text(self) -> str:
        """``claude-sonnet-4-5 · context 6% of 200k · 12,345 tokens · $0.0123 · $0.88 left``."""
        agent = self._agent()
        if agent is None:
            return f" {short_model(self._model)} "
        totals = self._totals(agent)
        parts = [short_model(agent.model)]
        if agent.state.records and self._looking != agent.model:  # again after /model
            self._looking = agent.model
            self.window, self._looked = None, False
            threading.Thread(target=self._look_up, args=(agent,), daemon=True).start()
        from chit.agent.context import context_use  # loaded with the agent, by now

        shown = context_use(agent.state, self.window).describe() if self._looked else None
        if shown is not None:
            parts.append(f"context {shown}")
        tokens = f"{totals.usage.total_tokens:,} tokens"
        if not totals.usage.complete:
            tokens = "≥ " + tokens
        usd = totals.cost.usd
        parts.append(tokens + ("" if usd is None else f" · ${usd:.4f}"))
        budget = agent.budget
        left = []
        if budget.max_cost is not None:
            left.append(f"${max(budget.max_cost - (usd or Decimal(0)), Decimal(0)):.4f}")
        tokens_left = budget.tokens_left(totals)
        if tokens_left is not None:
            left.append(f"{tokens_left:,} tokens")
        if left:
            parts.append("budget " + " / ".join(left) + " left")
        return " " + " · ".join(parts) + " "

    def __call__(self) -> FormattedText:
        return FormattedText([("class:bottom-toolbar", self.text())])


def make_session(
    history: Path, commands: Callable[[], Mapping[str, str]], root: Path, toolbar: Toolbar | None
) -> PromptSession[str]:
    """The prompt of the chat."""
    return PromptSession(
        history=RedactedHistory(history),
        multiline=True,
        key_bindings=key_bindings(),
        completer=ChitCompleter(commands, root),
        complete_while_typing=True,
        bottom_toolbar=toolbar,
        prompt_continuation="  ",
        style=STYLE,
        enable_suspend=True,
    )
