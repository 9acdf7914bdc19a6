"""Sending a request: where a provider is, one pooled ``httpx`` client, retries, timeouts.

The retry policy is the official SDKs' (``_base_client.py`` of ``anthropic`` 2.14 and
``openai`` 3.57): retry 408, 409, 429 and every 5xx, and connection errors and timeouts,
at most ``max_retries`` times (2); a server's ``x-should-retry: true|false`` overrides the
status; wait what ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date) asks,
else ``min(0.5 * 2**retries_taken, 8)`` seconds less up to 25 % jitter. A server asking
for more than two minutes is not retried (openai's ``MAX_RETRY_AFTER_DELAY``). An error
status that is not retried is read up to ``MAX_ERROR_BODY`` bytes and raised.
"""

from __future__ import annotations

import email.utils
import math
import random
import ssl
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus

import httpx

from chit import __version__
from chit.messages import Retrying
from chit.providers.contract import Endpoint as Endpoint

#: The most of an error body chit reads (a gateway can answer with megabytes of HTML).
MAX_ERROR_BODY = 64 * 1024
#: The longest backoff wait (the SDKs' MAX_RETRY_DELAY); the first is ``Endpoint.retry_delay``.
MAX_RETRY_DELAY = 8.0
#: A server asking to wait longer than this is not retried (openai's MAX_RETRY_AFTER_DELAY).
MAX_RETRY_AFTER = 120.0


class StatusError(Exception):
    """The server answered with an error status, and it was not (or no longer) retried."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        """At most ``MAX_ERROR_BODY`` bytes of the body."""


class Unreachable(Exception):
    """No response came: the connection failed or timed out, after the retries."""

    def __init__(self, message: str, *, timed_out: bool, refused: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        """No connection, or no answer, came in time."""
        self.refused = refused
        """No connection could be made (refused, a name that did not resolve)."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a server asks to wait: ``retry-after-ms``, else ``retry-after`` (seconds, or an
    HTTP date); ``None`` when it asks nothing readable."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds == math.inf and value.strip().lower() not in _INFINITY:
            return MAX_RETRY_AFTER + 1  # an overflowing number is an excessive wait (openai)
        return seconds / scale
    date = email.utils.parsedate_tz(headers.get("retry-after") or "")
    return None if date is None else float(email.utils.mktime_tz(date) - time.time())


_INFINITY = ("inf", "+inf", "infinity", "+infinity")


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an error status is worth another try."""
    wait = retry_after(headers)
    if wait is not None and math.isfinite(wait) and wait > MAX_RETRY_AFTER:
        return False
    said = headers.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    return status in (408, 409, 429) or status >= 500


def retry_wait(retries_taken: int, headers: Mapping[str, str], first: float) -> float:
    """Seconds to wait before the next try: what the server asked, else backoff with jitter."""
    wait = retry_after(headers)
    if wait is not None and math.isfinite(wait) and 0 < wait <= MAX_RETRY_AFTER:
        return wait
    backoff = min(first * 2.0 ** min(retries_taken, 1000), MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * random.random())


@dataclass
class Tries:
    """What the tries of one request came to, for the bill.

    A try the provider answered with an error status was billed nothing, and so was one
    that never reached it (the connection refused, a name that did not resolve, no
    connection in time). One it may have received without answering (no first byte, the
    connection dropped after sending, Ctrl-C while waiting) may have been processed: its
    cost is unknown, and so is the request's.
    """

    unanswered: bool = False
    """A try may have reached the provider, and no answer came."""
    answered: bool = False
    """A try got a success status: its body says what was billed."""

    @property
    def billed_nothing(self) -> bool:
        """No try can have been billed."""
        return not (self.unanswered or self.answered)


class Transport:
    """One provider's pooled HTTP client: POSTs JSON, retries, bounds error bodies."""

    def __init__(self, endpoint: Endpoint, base_url: str, headers: Mapping[str, str]) -> None:
        self.endpoint = endpoint
        self.base_url = base_url
        # TLS roots cost tens of milliseconds to load: only an https endpoint loads them. A
        # plain-http endpoint (a local server) gets no redirects followed, so its client
        # never makes a TLS connection, and the context it holds is never used.
        tls = base_url.startswith("https:")
        self._client = httpx.Client(
            base_url=base_url,
            headers={
                "user-agent": f"chit/{__version__}",
                "content-type": "application/json",
                **headers,
            },
            timeout=httpx.Timeout(
                connect=endpoint.connect_timeout,
                read=endpoint.first_byte_timeout,
                write=endpoint.read_timeout,
                pool=endpoint.connect_timeout,
            ),
            follow_redirects=tls,
            verify=tls_context() if tls else False,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def open(
        self, path: str, content: bytes, tries: Tries
    ) -> Generator[Retrying, None, httpx.Response]:
        """POST ``content``; return the streaming response once its status is a success,
        and yield a :class:`Retrying` before each retry's wait (Ctrl-C may end the wait).

        Raises :class:`StatusError` for an error status and :class:`Unreachable` when no
        response came, each after the retries; ``tries`` says what they may have cost. The
        body is the caller's to read, and the response to close.
        """
        retries = self.endpoint.max_retries
        for taken in range(retries + 1):
            request = self._client.build_request("POST", path, content=content)
            # Until an answer comes, the provider may be processing this try.
            before, tries.unanswered = tries.unanswered, True
            try:
                response = self._client.send(request, stream=True)
            except httpx.TransportError as err:
                if isinstance(err, _NOT_SENT):
                    tries.unanswered = before
                if taken == retries:
                    raise self._unreachable(err, retries) from err
                status, headers, reason = None, httpx.Headers(), self._failure(err)
            else:
                tries.unanswered = before
                if response.is_success:
                    tries.answered = True
                    # The status line came within first_byte_timeout; from here on each piece
                    # of the body may take up to read_timeout. httpcore reads the timeouts from
                    # the request's extensions when the body starts, so they can still change.
                    extensions = response.request.extensions
                    read = {"read": self.endpoint.read_timeout}
                    extensions["timeout"] = {**extensions["timeout"], **read}
                    return response
                status, headers = response.status_code, response.headers
                if taken == retries or not should_retry(status, headers):
                    try:
                        body = bounded_body(response)
                    finally:
                        response.close()
                    raise StatusError(status, body)
                response.close()
                reason = f"the provider answered {status} ({_phrase(status)})"
            wait = retry_wait(taken, headers, self.endpoint.retry_delay)
            yield Retrying(taken + 1, retries, wait, reason, status)
            time.sleep(wait)
        raise AssertionError("unreachable: the last try returns or raises")

    def _failure(self, err: httpx.TransportError) -> str:
        """What went wrong when no response came, as a phrase."""
        endpoint, url = self.endpoint, self.base_url
        if isinstance(err, httpx.ConnectTimeout | httpx.PoolTimeout):
            return f"could not connect to {url} within {endpoint.connect_timeout:g} s"
        if isinstance(err, httpx.TimeoutException):
            return f"no answer from {url} within {endpoint.first_byte_timeout:g} s"
        if isinstance(err, httpx.ConnectError):
            return f"could not connect to {url} ({err})"
        return f"the connection to {url} failed before an answer ({_describe(err)})"

    def _unreachable(self, err: httpx.TransportError, retries: int) -> Unreachable:
        after = f" (after {retries} {'retry' if retries == 1 else 'retries'})" if retries else ""
        return Unreachable(
            self._failure(err) + after,
            timed_out=isinstance(err, httpx.TimeoutException),
            refused=isinstance(err, httpx.ConnectError),
        )


#: Failures that leave the request unsent: the provider never saw it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _phrase(status: int) -> str:
    """What a status means, in a few lower-case words."""
    if status == 529:
        return "overloaded"  # Anthropic's own
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "an error"


def _describe(err: Exception) -> str:
    """An exception as ``Type: message``, or its type when it says nothing."""
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's own TLS settings (certifi's roots), loaded once per process, not per client."""
    return httpx.create_ssl_context()


def bounded_body(response: httpx.Response) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of a body; the rest is never read."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= MAX_ERROR_BODY:
                break
    except httpx.TransportError:
        pass  # a body cut short still says what it said
    return b"".join(parts)[:MAX_ERROR_BODY]
