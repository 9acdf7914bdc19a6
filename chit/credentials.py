"""Credentials in the environment, and the one way their values are kept out of what chit writes.

A variable is credential-named when its name (any case) contains ``API_KEY``, ``APIKEY``,
``SECRET``, ``PASSWORD``, ``PASSWD`` or ``CREDENTIAL``, contains ``TOKEN`` not followed by a
letter (``GITHUB_TOKEN``, ``ANTHROPIC_AUTH_TOKEN``; not ``MAX_TOKENS`` or
``TOKENIZERS_PARALLELISM``, which hold counts and switches), or ends in ``_KEY``.

Its value is redacted when it holds at least :data:`MIN_LENGTH` characters once surrounding
whitespace is trimmed. Shorter values (``1``, ``on``, ``yes``) are switches, not secrets, and
blanking them out would garble every word holding them. A value of several lines is also
redacted line by line, and in the escaped form it takes inside JSON text (a tool call's
arguments are JSON), so no part of a session shows it whatever characters it holds.

This module imports nothing else of chit: the session writer and the REPL history use it.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping

#: The fewest characters of a credential value that is redacted.
MIN_LENGTH = 4

#: What a credential value is replaced with.
MARK = "[redacted]"

_NAME = re.compile(r"API_?KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|TOKEN(?![A-Z])|_KEY$", re.I)


def is_credential_name(name: str) -> bool:
    """Whether an environment variable of that name holds a credential."""
    return _NAME.search(name) is not None


def credential_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every string to redact, longest first: each credential value of :data:`MIN_LENGTH`
    characters or more, each such line of it, and the forms they take in JSON text."""
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in env.items():
        if not is_credential_name(name):
            continue
        for part in (value, *value.splitlines()):
            part = part.strip()
            if len(part) >= MIN_LENGTH:
                found.update(_forms(part))
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


def _forms(value: str) -> set[str]:
    # Bytes that are not UTF-8 reach Python as surrogates: a tool that reads them shows
    # U+FFFD, and a writer that must produce UTF-8 shows "?".
    try:
        read = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        read = value
    shown = {value, read, value.encode("utf-8", "replace").decode("utf-8")}
    escaped = {json.dumps(v, ensure_ascii=ascii)[1:-1] for v in shown for ascii in (True, False)}
    return shown | escaped


def redact_text(text: str, values: tuple[str, ...] | None = None) -> str:
    """``text`` with every credential value replaced by :data:`MARK`.

    ``values`` defaults to :func:`credential_values` of the environment now. The result
    never contains a value, even one that replacing would form again.
    """
    values = credential_values() if values is None else values
    if not any(v in text for v in values):
        return text
    pattern = _pattern(values)
    for _ in range(3):
        text = pattern.sub(MARK, text)
        if not any(v in text for v in values):
            return text
    # Only a value built to survive its own replacement gets here.
    return "" if any(v in MARK for v in values) else MARK


@functools.lru_cache(maxsize=8)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so a value holding another is replaced whole.
    return re.compile("|".join(map(re.escape, sorted(values, key=len, reverse=True))))
