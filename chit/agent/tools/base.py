"""What every tool is made of: its context, its schema, the registry and the result cap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chit.messages import ToolSpec

#: The most characters of a tool result sent back to the model.
MAX_RESULT = 30_000
#: The most entries ``list_files`` and ``search`` return.
MAX_ENTRIES = 500
#: Characters a tool's own output may take, leaving room under :data:`MAX_RESULT` for the
#: note that says where it stopped (so the loop's :func:`cap` never cuts that note off).
ROOM = MAX_RESULT - 300


class ToolFailed(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may rely on."""

    root: Path
    """The folder chit works in; relative paths resolve against it, and the read tools stay
    inside it unless the user allows more."""
    command_timeout: float = 120.0
    """Seconds before ``run_command`` stops a command."""
    allowed_reads: tuple[Path, ...] = ()
    """Files and folders outside the root the read tools may read without asking
    (``--allow-read PATH``)."""
    search_seconds: float = 10.0
    """Seconds ``search`` and ``list_files`` may spend; they stop and say so after that."""
    search_bytes: int = 64 * 2**20
    """Bytes ``search`` may read; it stops and says so after that."""
    before_change: Callable[[Path], None] | None = None
    """Called with a file's path before ``write_file`` or ``edit_file`` changes it, so that
    what it held can be kept (a session keeps it for ``/rewind``); ``None``: nothing kept.
    Should it raise, the file is left as it is."""

    def resolve(self, path: str) -> Path:
        """A path from the model, relative to the root."""
        if not path:
            raise ToolFailed("no path given")
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    def readable(self, path: str | Path) -> bool:
        """Whether the read tools may read ``path`` without asking: with every symlink
        followed, it is inside the root or a path of :attr:`allowed_reads`."""
        try:
            real = self.resolve(str(path)).resolve()
            return any(
                real.is_relative_to(Path(p).expanduser().resolve())
                for p in (self.root, *self.allowed_reads)
            )
        except (OSError, RuntimeError):  # a symlink loop: nothing to read there anyway
            return False


@dataclass(frozen=True)
class Tool:
    """A tool: its schema for the model and the function that runs it."""

    name: str
    """The name the model calls it by."""
    description: str
    """What it does, for the model."""
    parameters: dict[str, Any]
    """JSON schema of its arguments."""
    run: Callable[[dict[str, Any], ToolContext], str]
    """Runs the tool; raises :class:`ToolFailed` (or any exception) on failure."""
    asks: bool = False
    """True for tools that write or execute: they run only with permission."""
    reads: str | None = None
    """For tools that read: the argument naming the path read (``"."`` when absent). A call
    whose path is not :meth:`ToolContext.readable` runs only with permission."""

    def spec(self) -> ToolSpec:
        """The tool as offered to the model."""
        return ToolSpec(self.name, self.description, self.parameters)

    def needs_permission(self, args: dict[str, Any], ctx: ToolContext) -> bool:
        """Whether this call runs only with the user's permission: the tool writes or
        executes, or it reads outside the working folder."""
        if self.asks:
            return True
        return self.reads is not None and not ctx.readable(str(args.get(self.reads) or "."))


@dataclass
class ToolRegistry:
    """The tools offered to the model, in a stable order (so the prompt cache holds)."""

    tools: dict[str, Tool] = field(default_factory=dict)
    """Tools by name."""

    def register(self, tool: Tool) -> Tool:
        """Add or replace a tool."""
        self.tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        """The tool of that name, if any."""
        return self.tools.get(name)

    def specs(self) -> tuple[ToolSpec, ...]:
        """Every tool's spec."""
        return tuple(t.spec() for t in self.tools.values())

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools.values())


def cap(text: str, limit: int = MAX_RESULT) -> str:
    """Cut a result to ``limit`` characters, saying so."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters cut]"


def schema(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema for a tool's arguments."""
    return {"type": "object", "properties": props, "required": required}


def int_arg(args: dict[str, Any], name: str, default: int) -> int:
    """An integer argument; ``default`` when absent, :class:`ToolFailed` when not a number."""
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolFailed(f"{name} must be a whole number, not {value!r}") from None
