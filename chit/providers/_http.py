"""HTTP details the SDK-based provider modules share (imported by them only, never at start-up)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2

from chit.providers.base import MAX_ERROR_BODY


class BoundedBody(httpx2.SyncByteStream):
    """The first ``MAX_ERROR_BODY`` bytes of a body; a gateway can send megabytes of HTML."""

    def __init__(self, stream: httpx2.SyncByteStream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        left = MAX_ERROR_BODY
        for chunk in self._stream:
            yield chunk[:left]
            left -= len(chunk)
            if left <= 0:
                return

    def close(self) -> None:
        self._stream.close()


def bound_error_body(response: httpx2.Response) -> None:
    """Response hook: the SDK then reads at most ``MAX_ERROR_BODY`` bytes of an error body."""
    if response.status_code >= 400 and isinstance(response.stream, httpx2.SyncByteStream):
        response.stream = BoundedBody(response.stream)


def read_error_body(response: httpx2.Response) -> bytes:
    """The (bounded) error body the SDK read, or nothing."""
    try:
        return response.content[:MAX_ERROR_BODY]
    except httpx2.ResponseNotRead:
        return b""
