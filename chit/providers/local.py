"""What a server serves (``GET`` its model list), and finding a model server on this machine.

When nothing is configured, chit looks on loopback, all at once, for Ollama (``/api/tags``)
and the OpenAI-compatible servers of llama.cpp, LM Studio and vLLM (``/v1/models``), giving
each ``PROBE_TIMEOUT`` seconds to connect and to answer, and the lot ``PROBE_DEADLINE``.
``CHIT_LOCAL_SERVERS`` replaces the list: ``KIND=URL`` pairs separated by commas (``KIND``
one of :data:`KINDS`); set but empty, chit looks for none.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from chit.errors import BadInput, ChitError
from chit.providers.contract import Endpoint
from chit.providers.transport import tls_context

#: The variable that replaces the servers looked for.
ENV = "CHIT_LOCAL_SERVERS"
#: Seconds to connect to a local server, and to each read of its answer.
PROBE_TIMEOUT = 0.2
#: Seconds the whole look may take; a server slower than this is not waited for.
PROBE_DEADLINE = 0.4
#: A ``CHIT_LOCAL_SERVERS`` kind -> (the wire format chit speaks to it, its name).
KINDS = {
    "ollama": ("ollama", "Ollama"),
    "llama.cpp": ("openai", "llama.cpp"),
    "lmstudio": ("openai", "LM Studio"),
    "vllm": ("openai", "vLLM"),
    "openai": ("openai", "an OpenAI-compatible server"),
}
#: The servers looked for when the variable is not set, in order of preference.
DEFAULT_SERVERS = (
    ("llama.cpp", "http://127.0.0.1:8080/v1"),
    ("lmstudio", "http://127.0.0.1:1234/v1"),
    ("vllm", "http://127.0.0.1:8000/v1"),
)
#: Model families that only embed text (Ollama's ``details.family``): no chat.
_EMBEDDING_FAMILIES = {"bert", "nomic-bert", "xlm-roberta"}


@dataclass(frozen=True, slots=True)
class Server:
    """A model server chit may find on this machine."""

    provider: str
    """The wire format chit speaks to it: ``ollama`` or ``openai``."""
    name: str
    """What it is called in messages: ``Ollama``, ``llama.cpp``, ``LM Studio``, ``vLLM``."""
    url: str
    """Its base URL, as ``--base-url`` takes it."""


@dataclass(frozen=True, slots=True)
class Served:
    """One model a server lists."""

    name: str
    """The model's id, as a request names it."""
    context_window: int | None = None
    """The most tokens it reads, when the server says (vLLM, llama.cpp)."""
    chat: bool = True
    """False for a model that only embeds text."""


@dataclass(frozen=True, slots=True)
class Looked:
    """What one server answered when chit looked."""

    server: Server
    models: tuple[Served, ...] = ()
    """What it serves, chat models first, the most recently modified first (Ollama)."""
    error: str | None = None
    """Why it could not be listed (no server there, most often); ``None`` when it answered."""

    @property
    def chat_model(self) -> str | None:
        """The model to use on it: its first chat model, if any."""
        return next((m.name for m in self.models if m.chat), None)


def servers(env: Mapping[str, str]) -> tuple[Server, ...]:
    """The servers to look for, in order of preference: Ollama (at ``OLLAMA_HOST`` if set),
    then llama.cpp, LM Studio and vLLM, unless ``CHIT_LOCAL_SERVERS`` says otherwise."""
    spec = env.get(ENV)
    if spec is None:
        ollama = env.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        pairs = [("ollama", ollama), *DEFAULT_SERVERS]
    else:
        pairs = []
        for item in filter(None, (s.strip() for s in spec.split(","))):
            kind, sep, url = item.partition("=")
            if not sep or kind.strip() not in KINDS or not url.strip():
                raise BadInput(
                    f"{ENV}: {item!r} is not KIND=URL with KIND one of {', '.join(KINDS)}"
                )
            pairs.append((kind.strip(), url.strip()))
    return tuple(Server(KINDS[kind][0], KINDS[kind][1], url) for kind, url in pairs)


def look(env: Mapping[str, str]) -> list[Looked]:
    """Ask every server in :func:`servers` what it serves, all at once; their answers in
    order of preference. A server not answering within ``PROBE_DEADLINE`` counts as absent."""
    wanted = servers(env)
    answers: queue.Queue[tuple[int, Looked]] = queue.Queue()

    def ask(i: int, server: Server) -> None:
        key = "not-needed" if server.provider == "openai" else None
        try:
            found = tuple(list_models(Endpoint(server.provider, server.url, key), PROBE_TIMEOUT))
            answers.put((i, Looked(server, found)))
        except ChitError as err:
            answers.put((i, Looked(server, error=str(err))))

    for i, server in enumerate(wanted):
        # Daemon threads: one stuck on a slow server neither delays chit nor its exit.
        threading.Thread(target=ask, args=(i, server), daemon=True).start()
    got: dict[int, Looked] = {}
    deadline = time.monotonic() + PROBE_DEADLINE
    while len(got) < len(wanted) and (left := deadline - time.monotonic()) > 0:
        try:
            i, looked = answers.get(timeout=left)
        except queue.Empty:
            break
        got[i] = looked
    late = f"no answer within {PROBE_DEADLINE:g} s"
    return [got.get(i) or Looked(s, error=late) for i, s in enumerate(wanted)]


def first_found(looked: list[Looked]) -> tuple[Server, str] | None:
    """The first server, in order of preference, that serves a chat model, and that model."""
    for answer in looked:
        if (model := answer.chat_model) is not None:
            return answer.server, model
    return None


def list_models(endpoint: Endpoint, timeout: float) -> list[Served]:
    """The models a provider's endpoint serves: Ollama's ``/api/tags``, Anthropic's and
    OpenAI's (and compatible servers') ``/v1/models``.

    Raises :class:`ChitError` with one line saying why when there is no list to read.
    """
    url, headers = _models_request(endpoint)
    https = url.startswith("https:")
    try:
        # A loopback server is reached directly, never through a proxy from the environment.
        with httpx.Client(
            timeout=timeout,
            verify=tls_context() if https else False,
            follow_redirects=https,
            trust_env=https,
            headers=headers,
        ) as client:
            response = client.get(url)
    except httpx.HTTPError as err:
        raise ChitError(f"could not reach {url} ({err or type(err).__name__})") from None
    if not response.is_success:
        raise ChitError(f"{url} answered {response.status_code}")
    try:
        data = response.json()
        if endpoint.provider == "ollama":
            return _ollama_models(data["models"])
        return [_openai_model(m) for m in data["data"]]
    except (ValueError, LookupError, TypeError, AttributeError):
        raise ChitError(f"{url} answered something that is not a list of models") from None


def _models_request(endpoint: Endpoint) -> tuple[str, dict[str, str]]:
    """The URL that lists an endpoint's models, and the headers it wants."""
    if endpoint.provider == "ollama":
        from chit.providers.ollama import parse_host

        auth = {"authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        return parse_host(endpoint.base_url) + "/api/tags", auth
    if endpoint.provider == "anthropic":
        from chit.providers.anthropic import API_VERSION

        base = (endpoint.base_url or "https://api.anthropic.com").rstrip("/")
        headers = {"x-api-key": endpoint.api_key or "", "anthropic-version": API_VERSION}
        return base + "/v1/models?limit=1000", headers
    from chit.providers.openai_chat import openai_endpoint

    base, headers = openai_endpoint(endpoint)
    return base.rstrip("/") + "/models", headers


def _ollama_models(models: list[dict[str, Any]]) -> list[Served]:
    """Ollama's tags: chat models first, each group the most recently modified first."""
    ordered = sorted(models, key=lambda m: _modified(m.get("modified_at")), reverse=True)
    served = [Served(str(m["name"]), None, _chats(m)) for m in ordered]
    return sorted(served, key=lambda s: not s.chat)  # a stable sort keeps the dates' order


def _chats(model: dict[str, Any]) -> bool:
    """False for an embedding model: ``embed`` in its name, or a BERT family."""
    details = model.get("details") or {}
    families = {details.get("family"), *(details.get("families") or ())}
    return "embed" not in str(model["name"]).lower() and not families & _EMBEDDING_FAMILIES


def _openai_model(model: dict[str, Any]) -> Served:
    """One entry of ``/v1/models``: vLLM says ``max_model_len``, llama.cpp ``n_ctx_train``."""
    name = str(model["id"])
    window = model.get("max_model_len") or (model.get("meta") or {}).get("n_ctx_train")
    lowered = name.lower()
    chat = "embed" not in lowered and "rerank" not in lowered
    return Served(name, window if isinstance(window, int) else None, chat)


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


def _modified(value: object) -> datetime:
    """Ollama's ``modified_at`` (nanoseconds, any offset); long ago when unreadable."""
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        return _LONG_AGO
    whole, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{whole}.{micro}{offset}")
