"""The tools the model may call, and the registry a Python user can extend.

The read tools run without asking while they stay inside the working folder (symlinks
followed); a read outside it, and every tool that writes or executes, runs only after the
front end's permission callback says yes (see :meth:`Tool.needs_permission`). A tool that
fails returns an error result to the model; it never crashes the loop.
"""

from chit.agent.tools.base import (
    MAX_ENTRIES,
    MAX_RESULT,
    Tool,
    ToolContext,
    ToolFailed,
    ToolRegistry,
    cap,
    schema,
)
from chit.agent.tools.command import PROVIDER_KEYS, run_command
from chit.agent.tools.files import edit_file, list_files, read_file, search, write_file

__all__ = [
    "MAX_ENTRIES",
    "MAX_RESULT",
    "PROVIDER_KEYS",
    "Tool",
    "ToolContext",
    "ToolFailed",
    "ToolRegistry",
    "cap",
    "default_tools",
]

_STR = {"type": "string"}
_INT = {"type": "integer"}


def default_tools() -> ToolRegistry:
    """The built-in tools."""
    reg = ToolRegistry()
    reg.register(
        Tool(
            "read_file",
            "Read a text file (lines from offset, at most limit).",
            schema(["path"], path=_STR, offset=_INT, limit=_INT),
            read_file,
            reads="path",
        )
    )
    reg.register(
        Tool(
            "list_files",
            "List files matching a glob pattern (default **/*).",
            schema([], pattern=_STR, path=_STR),
            list_files,
            reads="path",
        )
    )
    reg.register(
        Tool(
            "search",
            "Search files for a regular expression; lines as path:line: text.",
            schema(["pattern"], pattern=_STR, path=_STR, glob=_STR),
            search,
            reads="path",
        )
    )
    reg.register(
        Tool(
            "write_file",
            "Write a whole file (created or replaced).",
            schema(["path", "content"], path=_STR, content=_STR),
            write_file,
            asks=True,
        )
    )
    reg.register(
        Tool(
            "edit_file",
            "Replace an exact string in a file (unique unless replace_all).",
            schema(
                ["path", "old", "new"],
                path=_STR,
                old=_STR,
                new=_STR,
                replace_all={"type": "boolean"},
            ),
            edit_file,
            asks=True,
        )
    )
    reg.register(
        Tool(
            "run_command",
            "Run a shell command in the working folder; output capped.",
            schema(["command"], command=_STR, timeout=_INT),
            run_command,
            asks=True,
        )
    )
    return reg
