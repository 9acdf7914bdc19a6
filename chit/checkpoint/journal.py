"""The session file's line format, and the one way lines reach a disk.

A session is one append-only JSON Lines file (UTF-8, orjson). Every line has ``type``; the
names below are settled for good (a later version may add fields and line types, never
rename them). Every field but ``type`` and the header's ``format`` is optional to the reader
(see :mod:`chit.checkpoint.reader` for the defaults).

``session`` (the header, first line)
    ``format`` ("chit.session"), ``schema_version``, ``session_id``, ``created_at``
    (ISO-8601 UTC), ``chit_version``, ``cwd``, ``provider`` and ``model`` the session started
    with, and ``forked_from`` (the parent's id) on a fork.
``message``
    ``role`` (user / assistant / tool), ``text``, ``reasoning``,
    ``tool_calls`` [{``id``, ``name``, ``arguments``}],
    ``tool_results`` [{``call_id``, ``name``, ``content``, ``is_error``}], ``interrupted``.
``usage`` (one per provider request, fsynced)
    ``turn``, ``provider``, ``model_requested``, ``model`` (as the response named it),
    ``ended`` (complete / interrupted / error), ``stop_reason``,
    ``error`` {``type``, ``message``, ``status``} or null,
    ``usage`` {the five counts of spec/usage.md, null = never reported},
    ``extras`` (what the provider said beyond them, raw usage objects included),
    ``cost`` {``usd``, ``saved_usd``, ``unpriced``, ``partial``, ``prices_version``}, ``at``,
    and ``compaction`` (true, only on a request that summarised the conversation).
``checkpoint`` (after every finished turn, fsynced)
    ``turn``, ``messages`` (how many the conversation then holds), ``token_snapshot``
    {``requests``, ``usage`` {five counts}, ``unknown`` {``input_tokens``, ``output_tokens``},
    ``cost`` {as above}}, ``models`` (reported models so far, in order of first use), ``at``,
    and ``seal`` {``bytes``, ``crc32``}: the file's length before this line, and the
    CRC-32 of those bytes continued over this line's ``turn``, ``token_snapshot`` and
    ``models`` (:func:`chit.checkpoint.codec.seal`). Written only where those figures are
    the ones a reader derives from the lines before it.
``rewind``
    ``to_turn``: the checkpoint the conversation goes back to (0: the empty conversation), ``at``.
``compact`` (schema 2)
    ``summary``: the conversation from here on is the summary (one user message,
    :func:`chit.messages.summary_message`) and the messages after this line; ``replaced``
    (how many messages it stands for), ``focus`` (what the summary was asked to keep), ``at``.
    A file begun by schema 1 keeps its header's version when a later chit continues it:
    a ``compact`` line in it is an event to chit 0.1.0, which then sends the whole
    conversation, the messages before the summary included.
any other type
    an event for the runtime, kept in order as written: ``model`` {``provider``, ``model``},
    ``budget`` {``max_cost`` (USD string or null), ``max_tokens``}, ``snapshot`` {``path``,
    ``turn``, ``sha256`` (null: the file did not exist)} before a tool changed a file (the
    content kept beside the session, :mod:`chit.checkpoint.snapshots`), each with ``at``.

Money is written as exact decimal strings (``"0.0003651"``), so totals re-derived from the
file equal the ones kept in memory. Turn numbers are never reused: a turn after a rewind
or a crash takes the next number.

Every command reads a file with :class:`chit.checkpoint.reader.Reader`, which decodes each
line whole, whatever the order of its keys. ``chit sessions`` starts it after the last
checkpoint whose seal holds (the bytes before it are as they were when it was written), and
from the top when none does.
"""

from __future__ import annotations

import functools
import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from chit.credentials import MARK, redact_text
from chit.errors import ChitError

#: The session file format's version; a reader refuses files with a larger one.
#: History:
#:   1 - chit 0.1.0: header, message, usage, checkpoint, rewind and event lines.
#:   2 - the compact line (a summary replaces the conversation).
SCHEMA_VERSION = 2

FORMAT = "chit.session"

#: Line types the reader interprets itself; any other type is an event.
CORE_TYPES = frozenset({"session", "message", "usage", "checkpoint", "rewind", "compact"})

_TORN_MARK = b" [torn]\n"


class JournalWriteError(ChitError):
    """A session file could not be written (disk full, permissions, ...)."""


def now_iso(ms: bool = True) -> str:
    """The current UTC time, ``2026-11-22T23:59:00.123Z``."""
    t = time.time()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return f"{base}.{int(t * 1000) % 1000:03d}Z" if ms else f"{base}Z"


def _default(value: object) -> Any:
    # Extras come from provider modules: keep odd values readable rather than fail a write.
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def _scrub(value: Any, secrets_: tuple[str, ...] = ()) -> Any:
    """``value`` as plain JSON data that orjson can write: every string UTF-8 (a lone
    surrogate becomes ``?``) with each credential value in ``secrets_`` blanked out, keys
    included, and integers past 64 bits kept as text."""
    if isinstance(value, str):
        return redact_text(value.encode("utf-8", "replace").decode("utf-8"), secrets_)
    if isinstance(value, dict):
        return {
            # orjson writes keys of these types as text; any other becomes its text here.
            _scrub(k if k is None or isinstance(k, str | int | float) else str(k), secrets_): (
                _scrub(v, secrets_)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets_) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        # Past orjson's 64-bit range: keep the digits as text.
        return value if -(2**63) <= value < 2**64 else str(value)
    if value is None or isinstance(value, bool | float):
        return value
    # Anything else (Decimal, bytes, a dataclass, ...) is scrubbed as the JSON it is written as.
    try:
        plain = orjson.loads(orjson.dumps(value, default=_default))
    except orjson.JSONEncodeError:
        plain = _default(value)
    return _scrub(plain, secrets_)


def encode(line: dict[str, Any], secrets_: tuple[str, ...] = ()) -> bytes:
    """One line as bytes, newline included, with any credential value blanked out of every
    string it holds (before encoding: an escaped value would not match the encoded line)."""
    try:
        data = orjson.dumps(line, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # A lone surrogate (a provider's odd escape) is not UTF-8: write a stand-in for it.
        data = orjson.dumps(_scrub(line), option=_OPTIONS)
    if _may_hold(data, secrets_):
        data = orjson.dumps(_scrub(line, secrets_), option=_OPTIONS)
    return data


def redact(data: bytes, secrets_: tuple[str, ...]) -> bytes:
    """An encoded line (a fork's or an export's copy, any fields) with every credential
    value blanked out of its decoded strings: decoded, scrubbed and encoded again."""
    if not _may_hold(data, secrets_):
        return data
    try:
        line = orjson.loads(data)
    except orjson.JSONDecodeError:
        # Not JSON (a reader never hands such a line on): blank out what shows.
        for secret in _utf8(secrets_):
            data = data.replace(secret, MARK.encode())
        return data
    return orjson.dumps(_scrub(line, secrets_), option=_OPTIONS)


def _may_hold(data: bytes, secrets_: tuple[str, ...]) -> bool:
    # An encoded line without a backslash has no escapes, so each of its strings is there
    # byte for byte: if no secret's bytes are either, none of its strings holds a secret.
    return bool(secrets_) and (b"\\" in data or any(s in data for s in _utf8(secrets_)))


@functools.lru_cache(maxsize=8)
def _utf8(secrets_: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(s.encode("utf-8", "surrogatepass") for s in secrets_)


class FileOps:
    """The operating-system calls the journal makes: a seam for fault-injection tests."""

    def open(self, path: Path, flags: int, mode: int = 0o600) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


OS_OPS = FileOps()


def write_all(ops: FileOps, fd: int, data: bytes) -> None:
    """Write every byte (a regular file takes a whole line in one call; loop if not)."""
    while data:
        data = data[ops.write(fd, data) :]


class _End(NamedTuple):
    """What a file holds so far, as its appender knows it."""

    size: int
    """Its length in bytes."""
    crc: int
    """The CRC-32 of its bytes."""
    clean: bool
    """Whether it ends with a newline (or is empty)."""


@dataclass
class Appender:
    """Appends whole lines to one file opened with ``O_APPEND``; the fd is opened lazily."""

    path: Path
    """The session file."""
    ops: FileOps = OS_OPS
    """The OS calls to use."""
    secrets: tuple[str, ...] = ()
    """Credential values to blank out of every line."""
    size: int | None = None
    """The file's length when its opener read it (``None``: not read)."""
    _fd: int | None = None
    _end: _End | None = None  # None: not known, read from the file before the next write
    _alone = True  # no other writer seen: the file is what was read, then what we wrote

    def position(self) -> tuple[int, int] | None:
        """Where the next line will start and the CRC-32 of the bytes before it (with the
        mark that closes a torn last line, if one is to be written first); ``None`` once
        another writer has been seen (lines its opener never read)."""
        try:
            end = self._known_end()
        except OSError as e:
            raise JournalWriteError(f"cannot read {self.path}: {e.strerror or e}") from None
        if not self._alone:
            return None
        if end.clean:
            return end.size, end.crc
        return end.size + len(_TORN_MARK), zlib.crc32(_TORN_MARK, end.crc)

    def append(self, lines: Sequence[dict[str, Any]], sync: bool = False) -> list[bytes]:
        """Write lines in one ``write``; ``fsync`` after them when ``sync``. Returns each
        line as written (newline included)."""
        encoded = [encode(line, self.secrets) for line in lines]
        data = b"".join(encoded)
        try:
            if self._fd is None:
                self._fd = self.ops.open(self.path, os.O_WRONLY | os.O_APPEND)
            end = self._known_end()
            if self.ops.size(self._fd) != end.size:  # written by someone else meanwhile
                self._end, self._alone = None, False
                end = self._known_end()
            # A torn last line (crash, failed write): end it with a mark that no JSON value
            # can end with, so it stays ignored (reported by line number) even when the cut
            # fell just before its newline; ours starts whole.
            self._write(self._fd, data if end.clean else _TORN_MARK + data, end)
            if sync:
                self.ops.fsync(self._fd)
        except OSError as e:
            raise JournalWriteError(f"cannot write to {self.path}: {e.strerror or e}") from None
        return encoded

    def _known_end(self) -> _End:
        if self._end is None:
            self._end = _read_end(self.path)
            if self.size is not None and self._end.size != self.size:
                self._alone = False
            self.size = None  # checked once: later the appender knows every byte it wrote
        return self._end

    def _write(self, fd: int, data: bytes, end: _End) -> None:
        try:
            write_all(self.ops, fd, data)
        except OSError:
            # Take back the part of our line that reached the file, so the caller's retry
            # cannot leave the line twice; if even that fails, the next append looks.
            try:
                self.ops.truncate(fd, end.size)
            except OSError:
                self._end = None
            raise
        self._end = _End(end.size + len(data), zlib.crc32(data, end.crc), True)

    def close(self) -> None:
        """Close the file (the next append opens it again)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self.ops.close(fd)


def _read_end(path: Path) -> _End:
    size, crc, last = 0, 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            size, crc, last = size + len(chunk), zlib.crc32(chunk, crc), chunk[-1:]
    return _End(size, crc, last == b"\n")
