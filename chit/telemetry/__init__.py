"""Team telemetry: every provider request, tool call and turn exported to an OpenTelemetry
collector over OTLP/HTTP, by the GenAI semantic conventions.

On only when the standard variables say so (``OTEL_EXPORTER_OTLP_ENDPOINT`` or a
per-signal endpoint, and not ``OTEL_SDK_DISABLED=true``); otherwise nothing of
OpenTelemetry is imported and :func:`start_telemetry` gives :data:`OFF`, which changes nothing.
The SDK comes with the ``otel`` extra (``pip install 'chit[otel]'``); without it, one
warning line and chit works on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from chit.agent.events import AgentEvent, ToolDone, TurnDone, UsageRecorded
from chit.later import Later
from chit.telemetry.settings import Handler, Settings, settings, warn

if TYPE_CHECKING:
    from chit.telemetry.live import Live


class Telemetry(Protocol):
    """What a front end holds: :class:`Off`, or :class:`Loading`."""

    def watch(self, handle: Handler, session_id: str) -> Handler:
        """The handler to give :func:`~chit.agent.drain` for one turn of the session."""
        ...

    def close(self) -> None:
        """Send what is left (once, at exit)."""
        ...

    def preload(self) -> None:
        """Begin loading what telemetry needs now (a chat does, while the user types)."""
        ...


class Off:
    """Telemetry off: the handler is the front end's own, closing does nothing."""

    def watch(self, handle: Handler, session_id: str) -> Handler:
        """``handle`` itself."""
        return handle

    def close(self) -> None:
        """Nothing to send."""

    def preload(self) -> None:
        """Nothing to load."""


#: Telemetry off, for callers that have none.
OFF = Off()


def start_telemetry(env: Mapping[str, str] | None = None) -> Telemetry:
    """Telemetry for this process, as the environment asks; :data:`OFF` when it does not.
    The SDK loads in the background (:class:`Loading`)."""
    wanted = settings(env)
    return OFF if wanted is None else Loading(wanted)


class Loading:
    """Telemetry whose SDK loads in a thread (about 0.4 s of imports), begun with the turn's
    first event, once the request has gone out (its imports would hold the request back);
    the first event telemetry needs (a request's record) waits for it only if it has not
    loaded yet. Without the ``otel`` extra: one warning line, and nothing is sent."""

    def __init__(self, wanted: Settings) -> None:
        self._live: Later[Live | None] = Later(lambda: _live(wanted), "chit-telemetry")

    def preload(self) -> None:
        """Begin loading the SDK now."""
        self._live.start()

    def watch(self, handle: Handler, session_id: str) -> Handler:
        """``handle``, the turn's events seen by telemetry first once it has loaded."""
        started = time.time_ns()
        watched: list[Handler] = []

        def both(event: AgentEvent) -> None:
            self._live.start()
            if not watched and isinstance(event, UsageRecorded | ToolDone | TurnDone):
                live = self._live.get()
                watched.append(handle if live is None else live.watch(handle, session_id, started))
            (watched[0] if watched else handle)(event)

        return both

    def close(self) -> None:
        """Send what is left, within the deadline."""
        live = self._live.get()
        if live is not None:
            live.close()


def _live(wanted: Settings) -> Live | None:
    try:
        from chit.telemetry.live import Live
    except ImportError as e:
        if not (e.name or "").startswith("opentelemetry"):
            raise
        warn(
            f"OTEL_* variables are set but {e.name} is not installed "
            "(pip install 'chit[otel]'); nothing is exported"
        )
        return None
    return Live(wanted)
