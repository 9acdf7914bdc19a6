"""The file tools: read, list and search (inside the working folder unless the user allows
more), write and edit (always with permission).

Only regular files are opened, and never a running process's files under ``/proc`` (its
environment holds credentials), whatever was allowed. Reads stop at the result cap; a
search stops at its budget of time and bytes.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from io import BufferedReader, TextIOWrapper
from pathlib import Path
from typing import Any

from chit.agent.tools.base import MAX_ENTRIES, ROOM, ToolContext, ToolFailed, int_arg
from chit.agent.tools.walk import Budget, glob_regex, walk

#: Bytes read at a time from a line longer than the part kept of it.
_CHUNK = 1 << 16
#: The most characters of a matching line ``search`` shows.
_HIT_WIDTH = 300


def open_regular(path: Path) -> BufferedReader:
    """``path`` opened for reading when it is a regular file; :class:`ToolFailed` for
    anything else (a folder, a FIFO or device that would hang or never end, a socket)."""
    try:
        real = path.resolve()
        if real.parts[1:2] == ("proc",) and real.parts[2:3] and real.parts[2].isdigit():
            raise ToolFailed(f"refused: {path} belongs to a running process")
        _check_regular(path, os.stat(real).st_mode)
        # O_NONBLOCK: should the file have been swapped for a FIFO since, the open cannot hang.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise ToolFailed(f"no such file: {path}") from None
    except (OSError, RuntimeError) as e:
        raise ToolFailed(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        _check_regular(path, os.fstat(fd).st_mode)
    except ToolFailed:
        os.close(fd)
        raise
    return open(fd, "rb")


def _check_regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise ToolFailed(f"{path} is a folder: use list_files")
    if not stat.S_ISREG(mode):
        raise ToolFailed(f"refused: {path} is not a regular file (a device, FIFO or socket)")


def _lines(f: BufferedReader, longest: int, budget: Budget | None = None) -> Iterator[bytes]:
    """The file's lines, each cut to ``longest`` bytes (the rest of a longer one is read and
    dropped), so memory stays bounded whatever the file holds."""
    while line := f.readline(longest):
        if budget is not None:
            budget.read += len(line)
        yield line
        # Only when the next line is wanted: the rest of this one, read and dropped.
        rest = line
        while rest and not rest.endswith(b"\n"):
            if budget is not None and budget.spent():
                return
            rest = f.readline(_CHUNK)
            if budget is not None:
                budget.read += len(rest)


def read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    """Lines from ``offset`` (1-based), at most ``limit``, stopping before the result cap."""
    path = ctx.resolve(str(args.get("path", "")))
    offset = max(int_arg(args, "offset", 1), 1)
    limit = max(int_arg(args, "limit", 2000), 1)
    with open_regular(path) as f:
        lines = _lines(f, ROOM + 1)  # a line longer than the room is cut without reading on
        skipped = sum(1 for _ in zip(range(offset - 1), lines, strict=False))
        if skipped < offset - 1:
            return f"[{path} has {skipped} lines: nothing from line {offset}]"
        out: list[str] = []
        size = 0
        for number, raw in enumerate(lines, offset):
            line = raw.decode("utf-8", "replace")
            if number - offset == limit:
                return _noted(out, f"[more lines: read on with offset={number}]")
            if size + len(line) > ROOM:
                if out:
                    return _noted(out, f"[stopped at the size cap: read on with offset={number}]")
                return _noted([line[:ROOM]], f"[line {number} cut at {ROOM:,} characters]")
            out.append(line)
            size += len(line)
    return "".join(out)


def _noted(out: list[str], note: str) -> str:
    text = "".join(out)
    return text + ("" if text.endswith("\n") else "\n") + note


def list_files(args: dict[str, Any], ctx: ToolContext) -> str:
    """Paths under ``path`` matching a glob pattern (folders end in ``/``)."""
    match = glob_regex(str(args.get("pattern") or "**/*"))
    base = ctx.resolve(str(args.get("path") or "."))
    if not base.is_dir():
        raise ToolFailed(f"{base} is not a folder")
    budget = Budget(ctx.search_seconds, ctx.search_bytes)
    found: list[str] = []
    size = 0
    for entry in walk(base, ctx.root, budget):
        if match.fullmatch(entry.rel):
            found.append(entry.rel + ("/" if entry.is_dir else ""))
            size += len(found[-1]) + 1
            if len(found) == MAX_ENTRIES or size > ROOM:
                return "\n".join(found) + "\n[more entries cut: narrow the pattern or path]"
    notes = [f"[listing {budget.stopped}: narrow the pattern or path]"] if budget.stopped else []
    return "\n".join(found + notes) or "no files match"


def search(args: dict[str, Any], ctx: ToolContext) -> str:
    """Lines matching a regular expression, as ``path:line: text``, within the budget."""
    try:
        regex = re.compile(str(args.get("pattern", "")))
    except re.error as e:
        raise ToolFailed(f"bad regular expression: {e}") from None
    base = ctx.resolve(str(args.get("path") or "."))
    budget = Budget(ctx.search_seconds, ctx.search_bytes)
    if not base.is_dir():
        with open_regular(base) as f:  # one file named: say why it cannot be searched
            hits = _search_file(f, base.name, regex, budget, ROOM)
        return "\n".join(hits) or "no matches"
    match = glob_regex(str(args.get("glob") or "**/*"))
    hits, outside, size = [], 0, 0
    for entry in walk(base, ctx.root, budget):
        if entry.is_dir or not match.fullmatch(entry.rel):
            continue
        if entry.is_link and not ctx.readable(entry.path):
            outside += 1
            continue
        try:
            with open_regular(entry.path) as f:
                found = _search_file(f, entry.rel, regex, budget, ROOM - size)
        except ToolFailed:
            continue  # a FIFO, a device, a file gone since: nothing to search
        hits += found
        size += sum(len(h) + 1 for h in found)
        if len(hits) >= MAX_ENTRIES or size > ROOM:
            hits = [*hits[:MAX_ENTRIES], "[more matches cut: narrow the pattern, path or glob]"]
            break
        if budget.spent():
            break
    if budget.stopped:
        hits.append(f"[search {budget.stopped}: narrow the path or glob]")
    if outside:
        hits.append(f"[skipped {outside} link(s) leading outside the working folder]")
    return "\n".join(hits) or "no matches"


def _search_file(
    f: BufferedReader, name: str, regex: re.Pattern[str], budget: Budget, room: int
) -> list[str]:
    if b"\0" in f.peek(8192)[:8192]:
        return []  # binary
    hits: list[str] = []
    size = 0
    for number, raw in enumerate(_lines(f, _CHUNK, budget), 1):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if regex.search(line):
            hits.append(f"{name}:{number}: {line[:_HIT_WIDTH]}")
            size += len(hits[-1]) + 1
            if len(hits) > MAX_ENTRIES or size > room:
                break
        if budget.spent():
            break
    return hits


def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    """Write a whole file (created or replaced)."""
    path = ctx.resolve(str(args.get("path", "")))
    content = str(args.get("content", ""))
    if path.exists() and not path.is_file():
        raise ToolFailed(f"refused: {path} is not a regular file")
    if ctx.before_change is not None:
        ctx.before_change(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return f"wrote {len(content):,} characters to {path}"


def edit_file(args: dict[str, Any], ctx: ToolContext) -> str:
    """Replace an exact string in a file (unique unless ``replace_all``)."""
    path = ctx.resolve(str(args.get("path", "")))
    old, new = str(args.get("old", "")), str(args.get("new", ""))
    with open_regular(path) as f:
        text = TextIOWrapper(f, encoding="utf-8").read()
    count = text.count(old) if old else 0
    if count == 0:
        raise ToolFailed("the text to replace was not found (it must match exactly)")
    if count > 1 and not args.get("replace_all"):
        raise ToolFailed(f"the text to replace occurs {count} times: give more context")
    if ctx.before_change is not None:
        ctx.before_change(path)
    path.write_text(text.replace(old, new))
    return f"replaced {count} occurrence(s) in {path}"
