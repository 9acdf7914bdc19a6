"""``/export``: the conversation as Markdown, with a usage table per turn, written to a
new file (an existing one is never replaced)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from chit.agent.conversation import Turn
from chit.cli.render import usd
from chit.credentials import redact_text
from chit.errors import BadInput
from chit.messages import Message
from chit.state import RequestRecord, Totals

#: The most lines of a tool's result shown.
RESULT_LINES = 20

_HEADINGS = "| request | model | input (all) | cache read | cache write | output | cost |"
_ALIGN = "|---:|---|---:|---:|---:|---:|---:|"


def markdown(session_id: str, turns: Sequence[Turn], totals: Totals) -> str:
    """The conversation, turn by turn, each with its requests' usage; then the session's
    totals (every request it made, those of turns rewound included). Credential values
    are redacted."""
    out = [f"# chit session {session_id[:8]}", "", f"Session `{session_id}`.", ""]
    for turn in turns:
        out += [f"## Turn {turn.number}", ""]
        for message in turn.messages:
            out += _message(message)
        out += [_HEADINGS, _ALIGN]
        out += [_row(str(i), r.response.model_name, r) for i, r in enumerate(turn.records, 1)]
        if len(turn.records) > 1:
            out.append(_total_row("turn", turn.totals))
        out.append("")
    out += ["## Session total", "", _HEADINGS, _ALIGN, _total_row("session", totals), ""]
    return redact_text("\n".join(out))


def _message(m: Message) -> list[str]:
    lines: list[str] = []
    if m.role == "user":
        lines += ["**You:**", "", _quoted(m.text), ""]
    elif m.role == "assistant":
        if m.text:
            lines += ["**chit:**", "", m.text.strip(), ""]
        for call in m.tool_calls:
            lines += [f"Tool call `{call.name}`:", "", _fenced(call.arguments, "json"), ""]
        if m.interrupted:
            lines += ["*(cut short)*", ""]
    for result in m.tool_results:
        shown = result.content.splitlines()
        if len(shown) > RESULT_LINES:
            shown = [*shown[:RESULT_LINES], f"[{len(shown) - RESULT_LINES} more lines]"]
        failed = " (failed)" if result.is_error else ""
        lines += [f"Result of `{result.name}`{failed}:", "", _fenced("\n".join(shown)), ""]
    return lines


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def _fenced(text: str, lang: str = "") -> str:
    """A code block whose fence no run of backticks in ``text`` closes."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _row(label: str, model: str, r: RequestRecord) -> str:
    u = r.response.usage
    cells = [u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.output_tokens]
    return "| " + " | ".join([label, model, *map(_count, cells), usd(r.cost)]) + " |"


def _total_row(label: str, t: Totals) -> str:
    u = t.usage
    cells = [u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.output_tokens]
    requests = f"{t.requests} request(s)"
    return f"| **{label}** | {requests} | " + " | ".join([*map(_count, cells), usd(t.cost)]) + " |"


def new_path(given: str, session_id: str, cwd: Path) -> Path:
    """Where to write: ``given``, else ``./chit-<id8>.md`` (numbered ``-2``, ``-3``... when
    taken); a folder gets the default name in it. A file named that exists is refused."""
    name = f"chit-{session_id[:8]}"
    if given:
        path = Path(given).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_dir():
            if path.exists():
                raise BadInput(f"{path} exists: name another file")
            return path
        cwd = path
    path, n = cwd / f"{name}.md", 1
    while path.exists():
        n += 1
        path = cwd / f"{name}-{n}.md"
    return path


def write_new(path: Path, text: str) -> None:
    """Write a file that must not exist yet (readable by its owner only)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)
