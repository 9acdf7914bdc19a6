"""An answer drawn as it streams: Markdown rendered with rich, reasoning dimmed, a spinner
until the first token, and the finished answer left in the scrollback as rendered text.

Finished Markdown blocks (up to a blank line outside a code fence) are printed once, into
the scrollback; only the block still growing is redrawn, in a ``Live`` region at the
bottom that also holds the spinner line. So the cost of a long answer grows with its
length, not with its square, and nothing already printed flickers. On a terminal that
cannot redraw (``TERM=dumb``, output to a file) the text is written as it comes.
"""

from __future__ import annotations

import re
import time
from typing import ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Heading, Markdown
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

#: A line that opens or closes a fenced code block.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
#: Seconds between printings of finished blocks: each printing redraws the live region
#: too, so a fast stream prints a few blocks at a time (the live region shows them meanwhile).
_PRINT_EVERY = 0.1
#: Reasoning lines kept on screen while it streams (folded; in full it takes the screen).
_REASONING_LINES = 4


class _LeftHeading(Heading):
    """Headings flush left, as a terminal reader expects (rich centres ``#``)."""

    LEVEL_ALIGN: ClassVar[dict[str, str]] = dict.fromkeys(  # type: ignore[assignment]
        ("h1", "h2", "h3", "h4", "h5", "h6"), "left"
    )


class Answer(Markdown):
    """Markdown as chit shows it: code in a dark theme, headings flush left."""

    elements: ClassVar = {**Markdown.elements, "heading_open": _LeftHeading}

    def __init__(self, text: str) -> None:
        super().__init__(text, code_theme="monokai", hyperlinks=False)


class _Trimmed:
    """A renderable without the blank lines rich puts around a lone list, quote or table
    (chit puts one blank line between blocks itself), cut to its last ``height`` lines
    when given: a growing block never overflows the live region at the bottom."""

    def __init__(self, renderable: RenderableType, height: int | None = None) -> None:
        self.renderable, self.height = renderable, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        while lines and _blank(lines[0]):
            lines.pop(0)
        while lines and _blank(lines[-1]):
            lines.pop()
        for line in lines[-self.height :] if self.height else lines:
            yield from line
            yield Segment.line()


def _blank(line: list[Segment]) -> bool:
    # A code block's padding has a background: it is part of the block, not a gap.
    return all(not s.text.strip() and (s.style is None or s.style.bgcolor is None) for s in line)


class StreamView:
    """Draws one turn: :meth:`wait` shows the spinner, :meth:`text` and :meth:`reasoning`
    take the deltas, :meth:`pause` settles everything before other output (a tool line, a
    question), :meth:`finish` ends the turn's drawing."""

    reasoning_in_full: ClassVar[bool] = False
    """Reasoning shown in full as it streams and left so in the scrollback, instead of its
    last lines and then one folded line: for the rest of the chat (``/thinking`` toggles)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live_ok = console.is_terminal and not console.is_dumb_terminal
        self.tail = ""
        """Answer text not yet printed for good: the Markdown block still growing."""
        self.reasoning_text = ""
        """The turn's reasoning so far (kept for ``/thinking``)."""
        self._shown_reasoning = 0
        self._pos = 0  # where the next unscanned line of the tail starts
        self._fence: str | None = None
        self._after_blank = False
        self._printed_blocks = 0
        self._last_print = 0.0
        self._live: Live | None = None
        self._status = "thinking"
        self._started = time.monotonic()
        self._spinner = Spinner("dots", style="cyan")

    # --- the events ---------------------------------------------------------------------

    def wait(self, status: str = "thinking") -> None:
        """Show the spinner (a request is on its way; nothing has streamed yet)."""
        self._status = status
        self._started = time.monotonic()
        if self.live_ok and self._live is None:
            self._live = Live(
                self,
                console=self.console,
                refresh_per_second=8,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    def status(self, text: str) -> None:
        """What the spinner line says."""
        self._status = text

    def text(self, delta: str) -> None:
        """A piece of the answer."""
        self._fold_reasoning()
        if not self.live_ok:
            self.console.file.write(delta)
            self.console.file.flush()
            return
        self.tail += delta
        self._status = "writing"
        now = time.monotonic()
        if ("\n" in delta or self._after_blank) and now - self._last_print >= _PRINT_EVERY:
            self._last_print = now
            self._print_finished_blocks()

    def reasoning(self, delta: str) -> None:
        """A piece of reasoning: dimmed while it streams, folded to one line after (unless
        shown in full)."""
        self.reasoning_text += delta
        if not self.live_ok:
            self.console.file.write(delta)
            return
        self._status = "reasoning"

    def pause(self) -> None:
        """Print everything streamed so far for good and stop the live region."""
        self._fold_reasoning()
        if self.tail.strip():
            self._print_block(self.tail)
        elif self.tail and not self.live_ok:
            self.console.file.write("\n")
        self.tail, self._pos, self._fence, self._after_blank = "", 0, None, False
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def finish(self) -> None:
        """The turn is over."""
        self.pause()
        if not self.live_ok and self._printed_blocks == 0 and self.reasoning_text:
            self.console.file.write("\n")

    # --- Markdown blocks ----------------------------------------------------------------

    def _print_finished_blocks(self) -> None:
        """Print the blocks that can no longer change: up to a line that starts a new
        block after a blank line, outside any code fence (an indented line may still
        belong to a list item above, so it does not split)."""
        split = 0
        while (end := self.tail.find("\n", self._pos)) >= 0:
            line = self.tail[self._pos : end]
            if self._after_blank and line[:1] not in ("", " ", "\t") and self._fence is None:
                split = self._pos
            self._track_fence(line)
            self._after_blank = self._fence is None and not line.strip()
            self._pos = end + 1
        rest = self.tail[self._pos : self._pos + 1]
        if self._after_blank and rest and rest not in " \t\n" and self._fence is None:
            split = self._pos
        if split:
            self._print_block(self.tail[:split])
            self.tail = self.tail[split:]
            self._pos -= split

    def _track_fence(self, line: str) -> None:
        m = _FENCE.match(line)
        if m is None:
            return
        mark, info = m.group(1), line[m.end() :].strip()
        if self._fence is None:
            self._fence = mark
        elif mark[0] == self._fence[0] and len(mark) >= len(self._fence) and not info:
            self._fence = None  # a closing fence: the same kind, as long, no info string

    def _print_block(self, text: str) -> None:
        if not self.live_ok:
            return
        block = _Trimmed(Answer(text))
        self.console.print(Group(Text(), block) if self._printed_blocks else block)
        self._printed_blocks += 1

    def _fold_reasoning(self) -> None:
        """Reasoning done: leave one dim line in the scrollback (``/thinking`` shows it), or
        all of it when it is shown in full."""
        if len(self.reasoning_text) <= self._shown_reasoning:
            return
        new = self.reasoning_text[self._shown_reasoning :]
        self._shown_reasoning = len(self.reasoning_text)
        if not self.live_ok:
            self.console.file.write("\n")
            return
        if self.reasoning_in_full:
            self.console.print(Text(new.strip(), style="dim italic"))
            return
        words = len(new.split())
        self.console.print(
            Text(f"✻ thought for {words:,} words · /thinking shows it", style="dim italic")
        )

    # --- what the live region draws -----------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = max(console.size.height - 3, 3)
        parts: list[RenderableType] = []
        pending = self.reasoning_text[self._shown_reasoning :]
        if pending:
            if self.reasoning_in_full:
                parts.append(_Trimmed(Text(pending.strip(), style="dim italic"), height))
            else:
                lines = pending.rstrip().splitlines()[-_REASONING_LINES:]
                parts.append(Text("\n".join(lines), style="dim italic", overflow="ellipsis"))
        if self.tail.strip():
            if self._printed_blocks:
                parts.append(Text(""))
            parts.append(_Trimmed(Answer(self.tail), height))
        seconds = int(time.monotonic() - self._started)
        line = Text.assemble((f" {self._status}… ", "cyan"), (f"{seconds}s · Ctrl-C stops", "dim"))
        self._spinner.text = line
        parts.append(self._spinner)
        yield Group(*parts)
