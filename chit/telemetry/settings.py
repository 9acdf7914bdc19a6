"""Whether telemetry is on: what the standard OTEL_* variables ask for, read without
importing OpenTelemetry."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chit.agent import AgentEvent

Handler = Callable[[AgentEvent], None]

#: The protocol chit speaks; the SDK's gRPC exporter is not one of its dependencies.
PROTOCOL = "http/protobuf"
#: Seconds chit waits at exit for what is still to be sent.
DEADLINE = 2.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Which signals the environment asks for."""

    traces: bool
    """Spans: requests, tool calls, turns."""
    metrics: bool
    """Token usage, operation duration, cost."""


def settings(env: Mapping[str, str] | None = None) -> Settings | None:
    """What the standard variables ask for; ``None`` when telemetry is off. A protocol chit
    cannot speak is said in one warning line, and telemetry is off."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    wanted = Settings(_signal(env, "TRACES"), _signal(env, "METRICS"))
    if not (wanted.traces or wanted.metrics):
        return None
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", *_per_signal(env, wanted, "PROTOCOL")):
        protocol = env.get(name, "").strip()
        if protocol and protocol != PROTOCOL:
            warn(f"{name}={protocol} is not supported (chit sends {PROTOCOL}): telemetry is off")
            return None
    return wanted


def _signal(env: Mapping[str, str], signal: str) -> bool:
    endpoint = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    exporter = env.get(f"OTEL_{signal}_EXPORTER", "otlp").strip().lower()
    return bool(endpoint and endpoint.strip()) and exporter != "none"


def _per_signal(env: Mapping[str, str], wanted: Settings, what: str) -> list[str]:
    on = [s for s, w in (("TRACES", wanted.traces), ("METRICS", wanted.metrics)) if w]
    return [f"OTEL_EXPORTER_OTLP_{s}_{what}" for s in on]


def warn(text: str) -> None:
    """The one line telemetry says when something is wrong with it."""
    print(f"chit: warning: telemetry: {text}", file=sys.stderr)


def where() -> str:
    """The endpoint, as a person can tell it (no userinfo, no query)."""
    env = os.environ
    url = (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        or ""
    ).strip()
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port: the URL as far as it can be read
        port = ""
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "the OTLP endpoint"
