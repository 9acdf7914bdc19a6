"""Fail loudly on any attempt to reach a non-loopback address (tests only).

Uses an audit hook, so it sees every socket connect and name lookup in the process,
whichever library makes it, without replacing any function.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_installed = False


class NetworkBlocked(RuntimeError):
    """A test tried to reach the network."""


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise NetworkBlocked(f"test tried to connect to {address!r}: only loopback is allowed")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host is not None and not _is_loopback(host):
            raise NetworkBlocked(f"test tried to resolve {host!r}: only loopback is allowed")


def install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
