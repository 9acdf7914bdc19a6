"""Sending through an SDK client: the clouds' auth, and a user's own client.

A provider normally sends with chit's own :class:`~chit.providers.transport.Transport`.
Given an SDK client instead (``anthropic.Anthropic``, ``AnthropicBedrock``,
``AnthropicVertex``, ``openai.OpenAI``, ``AzureOpenAI``, ``ollama.Client``), it sends
through that client: its auth, base URL and retries. The client only opens the streaming
response; the wire module reads the body with the same framing and accumulator as
everywhere. Nothing here imports an SDK before a client of it exists: its exceptions are
taken from the package the client came from, already loaded.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from chit.errors import BadInput

# The transport's bound on an error body, shared rather than written twice.
from chit.messages import Retrying
from chit.providers.transport import (
    MAX_ERROR_BODY,
    StatusError,
    Tries,
    Unreachable,
    bounded_body,
)

if TYPE_CHECKING:
    import httpx2
    import ollama

#: The path a wire module posts to -> the SDK resource that creates it.
RESOURCES = {
    "/v1/messages": ("messages",),
    "/chat/completions": ("chat", "completions"),
    "/responses": ("responses",),
}
#: The path of Ollama's chat, which an ``ollama.Client`` sends.
OLLAMA_PATH = "/api/chat"


class SDKSender:
    """Opens streaming responses with an Anthropic or OpenAI SDK client (httpx2 inside)."""

    def __init__(self, client: Any, *, owned: bool = False, read_timeout: float | None = None):
        self.client = client
        """The SDK client."""
        self.owned = owned
        """Whether chit made the client (and so closes it); a user's client is the user's."""
        self.read_timeout = read_timeout
        """The longest silence in a body once its status came, for a client chit made."""
        package = sys.modules[type(client).__module__.partition(".")[0]]
        self._status_error: type[Exception] = package.APIStatusError
        self._timeout: type[Exception] = package.APITimeoutError
        self._unreachable: type[Exception] = package.APIConnectionError

    @property
    def base_url(self) -> str:
        """Where the client sends."""
        return str(self.client.base_url)

    def close(self) -> None:
        """Close the client's connections, if chit made it."""
        if self.owned:
            self.client.close()

    def open(
        self, path: str, content: bytes, tries: Tries
    ) -> Generator[Retrying, None, httpx.Response]:
        """The open response of :meth:`post`, closing what the SDK opened when it closes.
        The SDK retries by itself, announcing nothing; a try that timed out may have been
        processed, so its cost is unknown."""
        yield from ()  # the SDK announces no retries
        return _opened(self.post(path, content), tries)

    @contextmanager
    def post(self, path: str, content: bytes) -> Iterator[httpx.Response]:
        """Create through the client's resource for ``path`` (the SDK may rewrite the path
        and body, as Bedrock, Vertex and Azure do); the open response once its status is a
        success. Raises :class:`StatusError` or :class:`Unreachable` after the SDK's retries.
        """
        resource = self.client
        for name in RESOURCES[path]:
            resource = getattr(resource, name)
        with ExitStack() as stack:
            try:
                opened = resource.with_streaming_response.create(**orjson.loads(content))
                raw: httpx2.Response = stack.enter_context(opened).http_response
            except self._status_error as err:
                response: httpx2.Response = err.response  # type: ignore[attr-defined]
                raise StatusError(response.status_code, response.content[:MAX_ERROR_BODY]) from err
            except self._unreachable as err:
                timed_out = isinstance(err, self._timeout)
                what = "timed out" if timed_out else "failed"
                cause = err.__cause__ or err
                message = f"connection to {self.base_url} {what}: {cause}"
                raise Unreachable(message, timed_out=timed_out) from err
            if self.read_timeout is not None:
                # As the transport does: the first byte had its own timeout, the body has this.
                extensions = raw.request.extensions
                extensions["timeout"] = {**extensions["timeout"], "read": self.read_timeout}
            yield as_httpx(raw)


class OllamaSender:
    """Opens streaming responses with a user's ``ollama.Client``.

    The package has no call that gives the open response, so this sends with the
    ``httpx.Client`` it keeps (``_client``: its host, headers and timeouts).
    """

    def __init__(self, client: ollama.Client) -> None:
        self.http: httpx.Client = client._client

    @property
    def base_url(self) -> str:
        """Where the client sends."""
        return str(self.http.base_url)

    def close(self) -> None:
        """Nothing: the client is the user's to close."""

    def open(
        self, path: str, content: bytes, tries: Tries
    ) -> Generator[Retrying, None, httpx.Response]:
        """The open response of :meth:`post`, closed with it."""
        yield from ()  # the SDK announces no retries
        return _opened(self.post(path, content), tries)

    @contextmanager
    def post(self, path: str, content: bytes) -> Iterator[httpx.Response]:
        """POST ``content``; the open response once its status is a success."""
        request = self.http.build_request("POST", path, content=content)
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as err:
            timed_out = isinstance(err, httpx.TimeoutException)
            what = "timed out" if timed_out else "failed"
            message = f"connection to {self.base_url} {what}: {err}"
            raise Unreachable(message, timed_out=timed_out) from err
        try:
            if not response.is_success:
                raise StatusError(response.status_code, bounded_body(response))
            yield response
        finally:
            response.close()


def _opened(post: AbstractContextManager[httpx.Response], tries: Tries) -> httpx.Response:
    """Enter ``post`` and return its response, which exits ``post`` when it is closed."""
    stack = ExitStack()
    try:
        response = stack.enter_context(post)
    except Unreachable as err:
        tries.unanswered = err.timed_out
        raise
    tries.answered = True
    response.stream = _ClosingStream(response.stream, stack.close)
    return response


class _ClosingStream(httpx.SyncByteStream):
    """A response body that runs ``on_close`` after closing."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, on_close: Any):
        assert isinstance(stream, httpx.SyncByteStream)
        self._stream = stream
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._on_close()


def sender_for(client: object, path: str) -> SDKSender | OllamaSender:
    """The sender for a user's SDK client, to a wire module's ``path``; :class:`BadInput`
    for a client that cannot send there (another SDK's, an async one)."""
    package = type(client).__module__.partition(".")[0]
    if path == OLLAMA_PATH and package == "ollama":
        import ollama

        if isinstance(client, ollama.Client):
            return OllamaSender(client)
    elif path in RESOURCES and package in ("anthropic", "openai"):
        resource = client
        for name in RESOURCES[path]:
            resource = getattr(resource, name, None)
        opens = hasattr(getattr(resource, "with_streaming_response", None), "create")
        if opens and not inspect.iscoroutinefunction(getattr(client, "close", None)):
            return SDKSender(client)
    raise BadInput(f"cannot send {path} requests through a {type(client).__name__}")


def as_httpx(raw: httpx2.Response) -> httpx.Response:
    """An SDK's open ``httpx2`` response as the ``httpx`` response the framing reads: the same
    status, headers and (decoded) body, whose failures mid-body are ``httpx``'s."""
    headers = [
        (name, value)
        for name, value in raw.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length")
    ]
    request = httpx.Request(raw.request.method, str(raw.request.url))
    return httpx.Response(raw.status_code, headers=headers, content=_chunks(raw), request=request)


def _chunks(raw: httpx2.Response) -> Iterator[bytes]:
    import httpx2

    try:
        yield from raw.iter_bytes()
    except httpx2.TransportError as err:
        # The same failure, as httpx names it, so that it reads as a cut stream.
        same = getattr(httpx, type(err).__name__, None)
        cls = same if isinstance(same, type) and issubclass(same, httpx.TransportError) else None
        raise (cls or httpx.ReadError)(str(err)) from err
