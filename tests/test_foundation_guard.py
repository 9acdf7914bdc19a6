"""The suite's own safety nets work: the network guard and the replay server."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest
from _chit_netguard import NetworkBlocked
from replay import ReplayServer, Reply, manifest


def test_connecting_outside_loopback_fails_loudly() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(NetworkBlocked, match="only loopback"):
        s.connect(("93.184.216.34", 80))
    s.close()


def test_resolving_a_public_name_fails_loudly() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.anthropic.com", 443)


def test_child_processes_are_guarded_too() -> None:
    code = "import socket; socket.create_connection(('10.1.2.3', 80), timeout=1)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "only loopback" in proc.stderr


def test_loopback_is_allowed(replay: ReplayServer) -> None:
    replay.queue(Reply(body=b"hello", content_type="text/plain"))
    r = httpx.post(replay.url + "/x", json={"a": 1})
    assert r.text == "hello"
    assert replay.received[0].json == {"a": 1}
    assert replay.received[0].path == "/x"


def test_cut_mid_body_is_a_protocol_error(replay: ReplayServer) -> None:
    replay.queue(Reply(body=b"0123456789", cut_after=4, content_type="text/plain"))
    with httpx.stream("GET", replay.url) as r, pytest.raises(httpx.RemoteProtocolError):
        b"".join(r.iter_bytes())


def test_trickle_arrives_whole(replay: ReplayServer) -> None:
    replay.queue(Reply(body=b"abcdef", chunk_size=1, delay=0.001, content_type="text/plain"))
    with httpx.stream("GET", replay.url) as r:
        pieces = list(r.iter_raw())
    assert b"".join(pieces) == b"abcdef"


def test_error_status_with_headers(replay: ReplayServer) -> None:
    replay.queue(Reply.error(429, {"error": "slow down"}, headers={"retry-after": "0"}))
    r = httpx.get(replay.url)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "0"


def test_an_empty_queue_answers_500(replay: ReplayServer) -> None:
    assert httpx.get(replay.url).status_code == 500


def test_manifest_has_every_recording() -> None:
    entries = manifest()
    assert len(entries) >= 43
    for e in entries:
        assert Reply.recorded(e["id"]).body, e["id"]
