"""chit in a real pseudo-terminal, read through a terminal emulator (pyte): the screen as a
person sees it, not the bytes written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
from helpers import CHIT, KEY, env_for
from replay import ReplayServer

COLS, ROWS = 100, 50


class _Screen(pyte.Screen):  # type: ignore[misc]
    """A screen that answers the terminal's queries (the cursor position prompt-toolkit
    asks for before it draws a bottom toolbar), as a terminal does."""

    answer: Callable[[str], object] = staticmethod(lambda data: None)

    def write_process_input(self, data: str) -> None:
        self.answer(data)


class Terminal:
    """A chit process in a pty of ``COLS`` x ``ROWS``, its output fed to a pyte screen."""

    def __init__(
        self,
        replay: ReplayServer,
        home: Path,
        *args: str,
        cols: int = COLS,
        rows: int = ROWS,
        **env: str,
    ) -> None:
        self.screen = _Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        environ = env_for(home, ANTHROPIC_API_KEY=KEY, TERM="xterm-256color")
        environ.pop("NO_COLOR", None)
        environ.pop("PROMPT_TOOLKIT_NO_CPR", None)
        environ.update(COLUMNS=str(cols), LINES=str(rows), **env)
        self.child = pexpect.spawn(
            CHIT[0],
            [*CHIT[1:], "--provider", "anthropic", "--base-url", replay.url, *args],
            env=environ,
            cwd=str(home),
            dimensions=(rows, cols),
            timeout=10,
        )
        self.screen.answer = self.child.send

    def pump(self, wait: float = 0.05) -> bool:
        """Feed what the child wrote to the screen; False once it has ended."""
        try:
            data = self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def settle(self, quiet: float = 0.3, timeout: float = 5) -> str:
        """Wait until the child has written nothing for ``quiet`` seconds; the screen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            before = len(self.raw)
            if not self.pump(quiet) or len(self.raw) == before:
                break
        return self.text

    @property
    def text(self) -> str:
        """The screen, line by line, trailing spaces dropped."""
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 10) -> str:
        """Wait until ``needle`` is on the screen; returns the screen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text:
                return self.text
            if not self.pump():
                break
        if needle in self.text:
            return self.text
        raise AssertionError(f"{needle!r} never showed; the screen:\n{self.text}")

    def type(self, text: str) -> None:
        """Keys, as typed."""
        self.child.send(text)

    def exit_status(self, timeout: float = 10) -> int | None:
        """Wait for the end; its exit status."""
        end = time.monotonic() + timeout
        while self.pump() and time.monotonic() < end:
            pass
        self.child.close()
        return self.child.exitstatus


def start(replay: ReplayServer, home: Path, *args: str, **kw: str) -> Terminal:
    """A chat started in a terminal, waiting at its first prompt."""
    t = Terminal(replay, home, *args, **kw)
    t.wait_for("/help for commands")
    t.wait_for("›")
    return t
