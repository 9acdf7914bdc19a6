"""Endings by signal: Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the request in flight, and
it is recorded before chit goes.

A front end calls :func:`install` once, from the main thread. From then on the first of
these signals in a turn raises :class:`Stop` (a ``KeyboardInterrupt``, so the providers and
the loop record the interrupted request as for Ctrl-C); later ones are only noted, since a
second exception could land while the first one's record is being priced and written.
Inside :func:`shielded` even the first one waits: the loop shields the writing of a
record, then asks :func:`pending` and stops at the next safe point. Each turn starts with
:func:`rearm`; :func:`received` tells the front end which signal to exit with.

Without :func:`install` (chit embedded in another program) nothing changes: Ctrl-C raises
``KeyboardInterrupt`` wherever it lands, as Python does by default.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

#: The signals that end a request: Ctrl-C, a job stopped, a terminal closed.
ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(KeyboardInterrupt):
    """A signal asked chit to stop; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class _State:
    installed: bool = False
    shields: int = 0
    raised: bool = False
    """A signal was raised as :class:`Stop` in this turn: later ones are only noted."""
    pending: bool = False
    """A signal arrived that was not raised (shielded, or after the first)."""
    received: int | None = None
    """The first signal of this turn."""


_state = _State()


def _handle(signum: int, frame: FrameType | None) -> None:
    if _state.received is None:
        _state.received = signum
    if _state.shields or _state.raised:
        _state.pending = True
        return
    _state.raised = True
    raise Stop(signum)


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP through chit (main thread only). A signal the
    parent set to be ignored stays ignored: ``nohup chit ...`` survives a closed terminal,
    and a background job of a script is not stopped by the terminal's Ctrl-C."""
    for signum in ENDING:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handle)
    _state.installed = True


def quiet() -> None:
    """Ignore the ending signals from now on: the work is done and saved, and a late signal
    must not turn a clean exit into a death by signal."""
    for signum in ENDING:
        signal.signal(signum, signal.SIG_IGN)


def rearm() -> None:
    """Start a new turn: the next signal raises again."""
    _state.raised = _state.pending = False
    _state.received = None


@contextmanager
def shielded() -> Iterator[None]:
    """While inside, a signal is noted, not raised (see :func:`pending`)."""
    _state.shields += 1
    try:
        yield
    finally:
        _state.shields -= 1


def pending() -> bool:
    """Whether a signal arrived that was not raised: the turn should stop."""
    return _state.pending


def received() -> int | None:
    """The first signal of this turn, or ``None``."""
    return _state.received


def exit_status(signum: int) -> int:
    """The conventional status of a process ended by ``signum`` (130, 143, 129)."""
    return 128 + signum
