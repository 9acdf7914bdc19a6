"""Team telemetry: every provider request, tool call and turn exported to an OpenTelemetry
collector over OTLP/HTTP, by the GenAI semantic conventions.

On only when the standard variables say so (``OTEL_EXPORTER_OTLP_ENDPOINT`` or a
per-signal endpoint, and not ``OTEL_SDK_DISABLED=true``); otherwise nothing of
OpenTelemetry is imported and :func:`start_telemetry` gives :data:`OFF`, which changes nothing.
The SDK comes with the ``otel`` extra (``pip install 'chit[otel]'``); without it, one
warning line and chit works on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from chit.telemetry.settings import Handler, settings, warn


class Telemetry(Protocol):
    """What a front end holds: :class:`Off`, or :class:`~chit.telemetry.live.Live`."""

    def watch(self, handle: Handler, session_id: str) -> Handler:
        """The handler to give :func:`~chit.agent.drain` for one turn of the session."""
        ...

    def close(self) -> None:
        """Send what is left (once, at exit)."""
        ...


class Off:
    """Telemetry off: the handler is the front end's own, closing does nothing."""

    def watch(self, handle: Handler, session_id: str) -> Handler:
        """``handle`` itself."""
        return handle

    def close(self) -> None:
        """Nothing to send."""


#: Telemetry off, for callers that have none.
OFF = Off()


def start_telemetry(env: Mapping[str, str] | None = None) -> Telemetry:
    """Telemetry for this process, as the environment asks; :data:`OFF` when it does not
    (or when the ``otel`` extra is missing, said in one warning line)."""
    wanted = settings(env)
    if wanted is None:
        return OFF
    try:
        from chit.telemetry.live import Live
    except ImportError as e:
        if not (e.name or "").startswith("opentelemetry"):
            raise
        warn(
            f"OTEL_* variables are set but {e.name} is not installed "
            "(pip install 'chit[otel]'); nothing is exported"
        )
        return OFF
    return Live(wanted)
