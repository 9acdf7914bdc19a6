"""A loopback HTTP server that answers with recorded provider bodies, and injects faults.

Every provider test stands on it: the real SDKs talk real HTTP to 127.0.0.1, and the
server answers from a queue of :class:`Reply` objects, keeping the requests it received.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CHIT_SHARED", REPO.parent / "shared"))
RECORDED = SHARED / "fixtures" / "recorded"


@cache
def manifest() -> list[dict[str, Any]]:
    """The entries of the recorded-streams manifest."""
    entries: list[dict[str, Any]] = json.loads((RECORDED / "manifest.json").read_text())
    return entries


def entry(entry_id: str) -> dict[str, Any]:
    """One manifest entry by id."""
    for e in manifest():
        if e["id"] == entry_id:
            return e
    raise KeyError(entry_id)


def body(entry_id: str) -> bytes:
    """The recorded response body of a manifest entry."""
    return (RECORDED / entry(entry_id)["response"]).read_bytes()


@dataclass
class Reply:
    """One answer the server gives, with optional faults."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    """Send only this many body bytes."""
    clean_cut: bool = False
    """With ``cut_after``: end the body properly (a short but well-formed response)
    instead of dropping the connection mid-body."""
    chunk_size: int | None = None
    """Send the body in fragments of this many bytes."""
    delay: float = 0.0
    """Seconds to wait before each fragment (a slow trickle)."""
    pause_after: int | None = None
    """Stall once this many body bytes are sent ..."""
    pause: float = 0.0
    """... for this many seconds, then go on."""
    delay_first: bool = True
    """With ``delay``: wait before the first fragment too (else it goes at once)."""
    head_delay: float = 0.0
    """Seconds to wait before the status line (a slow first byte)."""
    hang_up: bool = False
    """Close the connection without any answer."""

    @classmethod
    def recorded(cls, entry_id: str, **faults: Any) -> Reply:
        """The recorded body of a manifest entry, served with its content type."""
        e = entry(entry_id)
        return cls(body=body(entry_id), content_type=e["content_type"], **faults)

    @classmethod
    def error(cls, status: int, payload: dict[str, Any], **kw: Any) -> Reply:
        """An HTTP error with a JSON body."""
        return cls(
            body=json.dumps(payload).encode(),
            status=status,
            content_type="application/json",
            **kw,
        )


@dataclass
class Received:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int] = ("", 0)
    """The client's address and port: one port for requests over one pooled connection."""
    at: float = field(default_factory=time.perf_counter)
    """When the request had arrived whole (``time.perf_counter``, this process's clock)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Loopback:
    """A threaded HTTP server on a loopback ephemeral port, serving while in a ``with``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # A client that hangs up early (a cut test, a provider stopping at [DONE]) is normal here.
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class ReplayServer:
    """A loopback server answering with queued replies; use as a context manager."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = Loopback(_handler(self))

    @property
    def url(self) -> str:
        return self._server.url

    def queue(self, *replies: Reply) -> ReplayServer:
        """Add answers, served in order, one per request."""
        with self._lock:
            self.replies.extend(replies)
        return self

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if self.replies:
                return self.replies.popleft()
        return Reply.error(500, {"error": {"message": "replay server: no reply queued"}})

    def __enter__(self) -> ReplayServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            data = self.rfile.read(length) if length else b""
            client = (str(self.client_address[0]), int(self.client_address[1]))
            received = Received(self.command, self.path, dict(self.headers.items()), data, client)
            reply = server._next(received)
            if reply.hang_up:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            time.sleep(reply.head_delay)
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            payload = reply.body
            if reply.cut_after is not None:
                payload = payload[: reply.cut_after]
            step = reply.chunk_size or max(len(payload), 1)
            paused = reply.pause_after is None
            try:
                for i in range(0, len(payload), step):
                    if not paused and i >= reply.pause_after:  # type: ignore[operator]
                        paused = True
                        time.sleep(reply.pause)
                    if reply.delay and (i or reply.delay_first):
                        time.sleep(reply.delay)
                    piece = payload[i : i + step]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                if reply.cut_after is not None and not reply.clean_cut:
                    # Drop the connection mid-body: no terminating chunk.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = _serve
        do_POST = _serve
        do_DELETE = _serve

    return Handler
