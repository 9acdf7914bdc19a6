"""What chit learned about an endpoint, kept between runs in ``<home>/endpoints.json``.

Today one thing: that a base URL refuses a request parameter (``stream_options``, which
Mistral and some gateways answer with a 400). Each new ``chit -p`` would otherwise pay that
400 and a retry. A refusal is remembered for a week, then the parameter is tried again; it
is forgotten at once when the server accepts it, or when a request sent without it came
back with no usage (the server may have changed, and the usage is worth one 400 to ask).

The file is small JSON, 0600, replaced atomically; one that cannot be read or written is
ignored: remembering saves a request, it never stops one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE = "endpoints.json"
#: How long a refusal is trusted before the parameter is tried again.
RECHECK = dt.timedelta(days=7)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Remembered:
    """The refusals remembered for one base URL; ``home`` ``None`` remembers nothing."""

    def __init__(self, home: Path | None, base_url: str) -> None:
        self.path = None if home is None else Path(home) / FILE
        self.key = base_url.rstrip("/")

    def refuses(self, param: str) -> bool:
        """Whether the endpoint refused ``param`` less than a week ago."""
        when = self._entry(self._read()).get(param)
        try:
            day = dt.date.fromisoformat(when) if isinstance(when, str) else None
        except ValueError:
            return False
        # A date ahead of today (a clock set back) is not trusted either.
        return day is not None and dt.timedelta(0) <= _today() - day < RECHECK

    def refused(self, param: str) -> None:
        """Remember, as of today, that the endpoint refused ``param``."""
        self._change(param, _today().isoformat())

    def forget(self, param: str) -> None:
        """Forget that the endpoint refused ``param`` (no write when nothing was kept)."""
        if param in self._entry(self._read()):
            self._change(param, None)

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _entry(self, data: dict[str, Any]) -> dict[str, Any]:
        entry = data.get(self.key)
        refuses = entry.get("refuses") if isinstance(entry, dict) else None
        return refuses if isinstance(refuses, dict) else {}

    def _change(self, param: str, when: str | None) -> None:
        if self.path is None:
            return
        data = self._read()
        refuses = dict(self._entry(data))
        if when is None:
            refuses.pop(param, None)
        else:
            refuses[param] = when
        if refuses:
            data[self.key] = {"refuses": refuses}
        else:
            data.pop(self.key, None)
        # A read-only or full home: the next run asks again, nothing is lost.
        with contextlib.suppress(OSError):
            _write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, the new file 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
