"""``run_command``: a shell command in the working folder, its output kept within the cap.

The command starts without the provider credentials chit itself reads (:data:`PROVIDER_KEYS`),
so nothing it prints can hand them to the model; every other variable stays, a project's
own tooling may need them. Output is read as it comes: the first and last part up to the
cap are kept, the middle is counted and dropped.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from typing import Any

from chit.agent.tools.base import ROOM, ToolContext, ToolFailed

#: The variables chit reads its provider credentials from (the keys of Anthropic, OpenAI
#: and the OpenAI-compatible services it knows, and the Anthropic SDK's bearer token).
PROVIDER_KEYS = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "DEEPSEEK_API_KEY",
        "XAI_API_KEY",
        "MISTRAL_API_KEY",
        "GROQ_API_KEY",
        "OPENROUTER_API_KEY",
        "OLLAMA_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
    }
)

_READ = 1 << 16


class Output:
    """A command's output as it arrives: the first and the last ``keep`` bytes, and how
    many came in all."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        """Take in one chunk."""
        self.total += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * self.keep:  # trimmed now and then, not at every chunk
            del self.tail[: -self.keep]

    def text(self) -> str:
        """What was kept, saying how much of the middle was dropped."""
        tail = self.tail[-self.keep :]
        dropped = self.total - len(self.head) - len(tail)
        middle = f"\n[... {dropped:,} bytes of output cut ...]\n" if dropped else ""
        return self.head.decode("utf-8", "replace") + middle + tail.decode("utf-8", "replace")


def run_command(args: dict[str, Any], ctx: ToolContext) -> str:
    """Run a shell command in the root; its output (capped) and exit status."""
    command = str(args.get("command", ""))
    if not command.strip():
        raise ToolFailed("no command given")
    timeout = min(float(args.get("timeout") or ctx.command_timeout), ctx.command_timeout)
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    # Its own process group, so a timeout or Ctrl-C stops the command and its children.
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=ctx.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out = Output(ROOM // 2)
    with proc:  # closes the pipe whatever happens
        try:
            finished = _collect(proc, out, time.monotonic() + timeout)
        except BaseException:
            _kill(proc)
            proc.wait()
            raise
        if not finished:
            _kill(proc)
            proc.wait()
            return out.text() + f"\n[stopped after {timeout:g} s]"
    return out.text() + f"\n[exit status {proc.returncode}]"


def _collect(proc: subprocess.Popen[bytes], out: Output, deadline: float) -> bool:
    """Read the output into ``out`` until the command ends; False when the deadline passed."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if selector.select(left):
                data = os.read(fd, _READ)
                if not data:
                    break
                out.add(data)
    try:
        proc.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
