"""Tools on screen: one line per call, its result folded to one line, and the permission
question with exactly what will change (a coloured unified diff, a new file's first lines,
the command's text)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from chit.agent import Decision, ToolDone
from chit.messages import ToolCall

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

#: The most lines of a diff or a new file shown before the question.
PREVIEW_LINES = 40
#: The first lines of a new file shown.
NEW_FILE_LINES = 12
#: What the main argument of each tool is, for its one line.
_MAIN_ARGUMENT = ("path", "command", "pattern")


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        return call.parsed_arguments()
    except ValueError:
        return {}


def call_line(call: ToolCall) -> Text:
    """``● edit_file chit/app.py``: the tool and what it works on."""
    args = _arguments(call)
    main = next((str(args[k]) for k in _MAIN_ARGUMENT if args.get(k)), "")
    if not main and not args:
        main = call.arguments
    main = " ".join(main.split())
    if len(main) > 100:
        main = main[:99] + "…"
    return Text.assemble(("● ", "cyan"), (call.name, "bold"), f" {main}" if main else "")


def result_line(done: ToolDone) -> Text:
    """``  ⎿ replaced 1 occurrence(s) … (+12 lines)``: the first line of the result."""
    lines = done.result.content.strip().splitlines() or [""]
    first = lines[0] if len(lines[0]) <= 100 else lines[0][:99] + "…"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    if done.result.is_error:
        return Text.assemble(("  ✗ ", "red"), (first, "red"), (more, "dim"))
    return Text.assemble(("  ⎿ ", "dim"), (first, "dim"), (more, "dim"))


def _diff_text(old: str, new: str, name: str) -> Text:
    """A unified diff of two texts, coloured: ``-`` red, ``+`` green, hunks cyan."""
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""
        )
    )
    if not lines:
        return Text("  (no change)", style="dim")
    out = Text()
    for line in lines[:PREVIEW_LINES]:
        style = ""
        if line.startswith(("---", "+++")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("+"):
            style = "green"
        out.append(line + "\n", style=style)
    if len(lines) > PREVIEW_LINES:
        out.append(f"… {len(lines) - PREVIEW_LINES} more lines\n", style="dim")
    out.rstrip()
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def preview(call: ToolCall, root: Path) -> RenderableType:
    """What the call will do, as the permission question shows it."""
    args = _arguments(call)
    raw = str(args.get("path", ""))
    path = (Path(raw).expanduser() if Path(raw).is_absolute() else root / raw) if raw else None
    if call.name == "run_command":
        return Syntax(str(args.get("command", "")), "bash", theme="monokai", word_wrap=True)
    if call.name == "edit_file" and path is not None:
        old, new = str(args.get("old", "")), str(args.get("new", ""))
        text = _read(path)
        if text is None or not old or old not in text:
            why = "no such file" if text is None else "the text to replace is not in the file"
            warning = Text(f"{why}: the edit will fail", style="yellow")
            return Group(warning, _diff_text(old, new, raw))
        count = -1 if args.get("replace_all") else 1
        return _diff_text(text, text.replace(old, new, count), raw)
    if call.name == "write_file" and path is not None:
        content = str(args.get("content", ""))
        before = _read(path)
        if before is not None:
            return _diff_text(before, content, raw)
        lines = content.splitlines()
        head = "\n".join(lines[:NEW_FILE_LINES])
        parts: list[RenderableType] = [
            Text(f"new file {raw} · {len(lines):,} lines", style="bold green")
        ]
        if head:
            lexer = Syntax.guess_lexer(raw, head)
            parts.append(Syntax(head, lexer, theme="monokai", line_numbers=True, word_wrap=True))
        if len(lines) > NEW_FILE_LINES:
            parts.append(Text(f"… {len(lines) - NEW_FILE_LINES} more lines", style="dim"))
        return Group(*parts)
    if raw:
        return Text(f"{call.name} {raw} (outside the working folder)")
    return Text(f"{call.name} {call.arguments[:300]}")


_ANSWERS: dict[str, Decision] = {
    "": "yes",
    "y": "yes",
    "yes": "yes",
    "n": "no",
    "no": "no",
    "a": "always",
    "always": "always",
}


def ask(console: Console, session: PromptSession[str], call: ToolCall, root: Path) -> Decision:
    """Show what the call will change and ask: Enter or y is yes, n (or Ctrl-D) is no,
    a is yes for this tool from now on; anything else asks again. Ctrl-C stops the turn
    (the ``KeyboardInterrupt`` goes on to the loop)."""
    console.print(preview(call, root))
    while True:
        try:
            answer = session.prompt(f"Allow {call.name}? [Y/n/a] ")
        except EOFError:
            return "no"
        decision = _ANSWERS.get(answer.strip().lower())
        if decision is not None:
            return decision
        console.print("answer y (yes), n (no) or a (always, for this tool)", style="yellow")
