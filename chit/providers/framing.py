"""Framing: a streamed body as decoded events, server-sent events or JSON lines.

A piece of the body its format says is whole but that is no JSON object raises
:class:`BadChunk`: the provider sent something chit cannot read, and the request ends in
error rather than as a silent, shorter success. What a format says carries no data (an SSE
comment or ping, an event without data, a blank line) is passed over; a last piece cut off
mid-way is not whole, and is the cut the reader reports, not a bad chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource


class BadChunk(ValueError):
    """A whole piece of a body that is not a JSON object."""

    def __init__(self, data: str | bytes) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        shown = text if len(text) <= 80 else text[:80] + "..."
        super().__init__(f"the provider sent a chunk chit cannot read (not JSON): {shown!r}")


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The server-sent events of a body, each decoded: its JSON object, with ``type`` set
    from the ``event:`` field when the object has none. The OpenAI-style end marker
    ``[DONE]`` is ``{"type": "[DONE]"}``; any other data that is no JSON object raises
    :class:`BadChunk`."""
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" not in content_type.partition(";")[0]:
        # Checked here: httpx-sse's own check raises a transport error, which reads as a cut.
        raise ValueError(f"expected an event stream, got {content_type or 'no content type'}")
    for sse in EventSource(response).iter_sse():
        if sse.data == "[DONE]":
            yield {"type": "[DONE]"}
            continue
        if not sse.data.strip():
            continue  # an event without data: a bare ping, an id or retry field
        event = _object(sse.data)
        if sse.event != "message":  # the default name, when there was no event: field
            event.setdefault("type", sse.event)
        yield event


def ndjson_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON object of each line of a body; blank lines are passed over, any other line
    that is no JSON object raises :class:`BadChunk`.

    A last line that arrived whole counts, though its newline did not: also when the
    connection then fails (the failure is raised after it). One that does not decode is
    taken for a line cut off.
    """
    pending = b""
    try:
        for chunk in response.iter_bytes():
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.strip():
                    yield _object(line)
    except httpx.TransportError:
        if (event := decode(pending)) is not None:
            yield event
        raise
    if (event := decode(pending)) is not None:
        yield event


def decode(data: str | bytes) -> dict[str, Any] | None:
    """One JSON payload as a dict, or ``None`` when it is not a JSON object."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _object(data: str | bytes) -> dict[str, Any]:
    event = decode(data)
    if event is None:
        raise BadChunk(data)
    return event
