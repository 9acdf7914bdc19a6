"""The tools the model may call, and the registry a Python user can extend.

Read-only tools run without asking; tools that write or execute set ``asks`` and run only
after the front end's permission callback says yes. A tool that fails returns an error
result to the model; it never crashes the loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chit.messages import ToolSpec

#: The most characters of a tool result sent back to the model.
MAX_RESULT = 30_000
#: The most entries ``list_files`` and ``search`` return.
MAX_ENTRIES = 500


class ToolFailed(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may rely on."""

    root: Path
    """The folder chit works in; relative paths resolve against it."""
    command_timeout: float = 120.0
    """Seconds before ``run_command`` stops a command."""

    def resolve(self, path: str) -> Path:
        """A path from the model, relative to the root."""
        if not path:
            raise ToolFailed("no path given")
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p


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

    def spec(self) -> ToolSpec:
        """The tool as offered to the model."""
        return ToolSpec(self.name, self.description, self.parameters)


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


def _schema(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


_STR = {"type": "string"}
_INT = {"type": "integer"}


def _read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.resolve(str(args.get("path", "")))
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise ToolFailed(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ToolFailed(f"{path} is a folder: use list_files") from None
    lines = text.splitlines(keepends=True)
    offset = max(int(args.get("offset") or 1), 1)
    limit = int(args.get("limit") or 2000)
    return "".join(lines[offset - 1 : offset - 1 + limit])


def _list_files(args: dict[str, Any], ctx: ToolContext) -> str:
    pattern = str(args.get("pattern") or "**/*")
    base = ctx.resolve(str(args.get("path") or "."))
    found = sorted(str(p.relative_to(base)) for p in base.glob(pattern) if not _hidden(p, base))
    if not found:
        return "no files match"
    more = f"\n[{len(found) - MAX_ENTRIES} more]" if len(found) > MAX_ENTRIES else ""
    return "\n".join(found[:MAX_ENTRIES]) + more


def _hidden(p: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(base).parts)


def _search(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        regex = re.compile(str(args.get("pattern", "")))
    except re.error as e:
        raise ToolFailed(f"bad regular expression: {e}") from None
    base = ctx.resolve(str(args.get("path") or "."))
    files = [base] if base.is_file() else sorted(base.glob(str(args.get("glob") or "**/*")))
    hits: list[str] = []
    for f in files:
        if not f.is_file() or (f != base and _hidden(f, base)):
            continue
        try:
            text = f.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if regex.search(line):
                hits.append(f"{f.relative_to(base) if f != base else f.name}:{n}: {line[:300]}")
                if len(hits) >= MAX_ENTRIES:
                    return "\n".join(hits) + "\n[more matches cut]"
    return "\n".join(hits) or "no matches"


def _write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.resolve(str(args.get("path", "")))
    content = str(args.get("content", ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return f"wrote {len(content):,} characters to {path}"


def _edit_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.resolve(str(args.get("path", "")))
    old, new = str(args.get("old", "")), str(args.get("new", ""))
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ToolFailed(f"no such file: {path}") from None
    count = text.count(old) if old else 0
    if count == 0:
        raise ToolFailed("the text to replace was not found (it must match exactly)")
    if count > 1 and not args.get("replace_all"):
        raise ToolFailed(f"the text to replace occurs {count} times: give more context")
    path.write_text(text.replace(old, new))
    return f"replaced {count} occurrence(s) in {path}"


def _run_command(args: dict[str, Any], ctx: ToolContext) -> str:
    command = str(args.get("command", ""))
    if not command.strip():
        raise ToolFailed("no command given")
    timeout = min(float(args.get("timeout") or ctx.command_timeout), ctx.command_timeout)
    # Its own process group, so a timeout or Ctrl-C stops the command and its children.
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=ctx.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    with proc:  # closes the pipe whatever happens
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, _ = proc.communicate()
            return cap(out) + f"\n[stopped after {timeout:g} s]"
        except BaseException:
            _kill(proc)
            proc.wait()
            raise
    return cap(out) + f"\n[exit status {proc.returncode}]"


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def default_tools() -> ToolRegistry:
    """The built-in tools."""
    reg = ToolRegistry()
    reg.register(
        Tool(
            "read_file",
            "Read a text file (lines from offset, at most limit).",
            _schema(["path"], path=_STR, offset=_INT, limit=_INT),
            _read_file,
        )
    )
    reg.register(
        Tool(
            "list_files",
            "List files matching a glob pattern (default **/*).",
            _schema([], pattern=_STR, path=_STR),
            _list_files,
        )
    )
    reg.register(
        Tool(
            "search",
            "Search files for a regular expression; lines as path:line: text.",
            _schema(["pattern"], pattern=_STR, path=_STR, glob=_STR),
            _search,
        )
    )
    reg.register(
        Tool(
            "write_file",
            "Write a whole file (created or replaced).",
            _schema(["path", "content"], path=_STR, content=_STR),
            _write_file,
            asks=True,
        )
    )
    reg.register(
        Tool(
            "edit_file",
            "Replace an exact string in a file (unique unless replace_all).",
            _schema(
                ["path", "old", "new"],
                path=_STR,
                old=_STR,
                new=_STR,
                replace_all={"type": "boolean"},
            ),
            _edit_file,
            asks=True,
        )
    )
    reg.register(
        Tool(
            "run_command",
            "Run a shell command in the working folder; output capped.",
            _schema(["command"], command=_STR, timeout=_INT),
            _run_command,
            asks=True,
        )
    )
    return reg
