"""Providers: one module per wire format, each turning a stream into typed events.

This package chooses the provider and endpoint and loads the wire module on demand. Every
request of a key-based provider is made with httpx (:mod:`chit.providers.transport`), no
provider SDK imported; the clouds (:mod:`chit.providers.clouds`) and a user's own client
(:mod:`chit.providers.sdk`) send through an SDK client, and the same wire module reads.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chit.errors import BadInput, NoCredentials
from chit.later import Later
from chit.providers.contract import Endpoint, Provider, Request

if TYPE_CHECKING:
    from chit.messages import Event

__all__ = [
    "HTTP_PROVIDERS",
    "PROVIDERS",
    "Connecting",
    "Endpoint",
    "Provider",
    "Request",
    "choose",
    "configured",
    "connect",
    "provider_for_model",
    "without_userinfo",
]

#: provider name -> "module:class"
PROVIDERS = {
    "anthropic": "chit.providers.anthropic:AnthropicProvider",
    "openai": "chit.providers.openai_chat:OpenAIChatProvider",
    "openai-responses": "chit.providers.openai_responses:OpenAIResponsesProvider",
    "ollama": "chit.providers.ollama:OllamaProvider",
    "bedrock": "chit.providers.clouds:BedrockProvider",
    "vertex": "chit.providers.clouds:VertexProvider",
    "azure": "chit.providers.clouds:AzureProvider",
}

DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-5",
    "openai": "gpt-5-mini",
    "openai-responses": "gpt-5-mini",
    "ollama": "llama3.2",
    "bedrock": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex": "claude-sonnet-4-5@20250929",
    "azure": "gpt-5-mini",  # the name of a deployment
}

#: What a cloud's auth errors name (the SDKs read these variables themselves).
_CLOUD_VARIABLES = {
    "bedrock": "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE",
    "vertex": "GOOGLE_APPLICATION_CREDENTIALS and ANTHROPIC_VERTEX_PROJECT_ID",
}


@dataclass(frozen=True, slots=True)
class _Compatible:
    """A well-known OpenAI-compatible service: its key variable and endpoint."""

    prefixes: tuple[str, ...]
    key_env: str
    base_url: str


# Services reached through the OpenAI Chat Completions wire format.
_COMPATIBLE = (
    _Compatible(("deepseek-",), "DEEPSEEK_API_KEY", "https://api.deepseek.com"),
    _Compatible(("grok-",), "XAI_API_KEY", "https://api.x.ai/v1"),
    _Compatible(
        ("mistral-", "magistral-", "codestral-"), "MISTRAL_API_KEY", "https://api.mistral.ai/v1"
    ),
    _Compatible((), "GROQ_API_KEY", "https://api.groq.com/openai/v1"),
    _Compatible((), "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"),
)

_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "codex-")


def provider_for_model(model: str) -> str | None:
    """The provider a model's name points to (``claude-`` Anthropic, ``gpt-`` OpenAI, a
    Bedrock or Vertex id, ...); ``None`` when the name says nothing."""
    if "anthropic.claude-" in model:  # a Bedrock model id or inference profile
        return "bedrock"
    if model.startswith("claude-") and "@" in model:  # a Vertex model version
        return "vertex"
    if model.startswith("claude-"):
        return "anthropic"
    if model.startswith(_OPENAI_PREFIXES) or any(
        model.startswith(c.prefixes) for c in _COMPATIBLE if c.prefixes
    ):
        return "openai"
    return None


def choose(
    env: Mapping[str, str],
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    *,
    on_local: Callable[[str], None] | None = None,
) -> tuple[Endpoint, str]:
    """The endpoint and model to use: ``--provider``, else the model's name, else credentials.

    With ``on_local``, when nothing is configured, a model server found on this machine
    (:mod:`chit.providers.local`) is used as ``--provider`` and ``--base-url`` would use it,
    and ``on_local`` is given one line saying which server and model. Raises
    :class:`NoCredentials` (exit 2) naming the variables to set (and the servers looked
    for) when nothing fits.
    """
    provider = provider or env.get("CHIT_PROVIDER") or None
    if provider is not None and provider not in PROVIDERS:
        raise BadInput(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    if provider is None and model:
        provider = provider_for_model(model)
        if provider == "openai" and _azure_instead(env, model, base_url):
            provider = "azure"
    if provider is None:
        provider = _provider_from_credentials(env, base_url)
    if provider is None:
        return _local(env, model, on_local)
    model = model or env.get("CHIT_MODEL") or DEFAULT_MODELS[provider]

    if provider in _CLOUD_VARIABLES:  # the SDK and its auth library read the environment
        return Endpoint(provider, base_url, None, _CLOUD_VARIABLES[provider]), model
    if provider == "azure":
        return _azure(env, base_url), model

    if provider == "ollama":
        # The host as given (the provider resolves OLLAMA_HOST's forms); a key only for a
        # server that wants one (ollama.com), as the ollama package reads it.
        host = base_url or env.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        key = env.get("OLLAMA_API_KEY") or None
        return Endpoint("ollama", host, key, "OLLAMA_API_KEY" if key else ""), model
    if provider == "anthropic":
        key_env = "ANTHROPIC_API_KEY"
        url = base_url or env.get("ANTHROPIC_BASE_URL")
    else:
        key_env, url = "OPENAI_API_KEY", base_url or env.get("OPENAI_BASE_URL")
        for service in _COMPATIBLE:
            fits = not service.prefixes or model.startswith(service.prefixes)
            if fits and not env.get("OPENAI_API_KEY") and not url and env.get(service.key_env):
                key_env, url = service.key_env, service.base_url
                break
    key = env.get(key_env)
    if not key:
        if url and _is_local(url):
            key = "not-needed"  # local servers (vLLM, llama.cpp) take any key
        else:
            raise NoCredentials(f"no API key for {provider}: set {key_env} in the environment")
    return Endpoint(provider, url, key, key_env), model


def _provider_from_credentials(env: Mapping[str, str], base_url: str | None) -> str | None:
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    if env.get("OPENAI_API_KEY") or base_url or any(env.get(c.key_env) for c in _COMPATIBLE):
        return "openai"
    if env.get("AZURE_OPENAI_ENDPOINT"):
        return "azure"
    if env.get("OLLAMA_HOST"):
        return "ollama"
    return None


def _local(
    env: Mapping[str, str], model: str | None, on_local: Callable[[str], None] | None
) -> tuple[Endpoint, str]:
    """Nothing configured: the first local server serving a chat model, if chit may look."""
    names = [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        *(c.key_env for c in _COMPATIBLE),
        "AZURE_OPENAI_ENDPOINT",
        "OLLAMA_HOST",
    ]
    message = (
        f"no provider configured: set one of {', '.join(names)} "
        "(or pass --provider ollama, bedrock or vertex)"
    )
    if on_local is None:
        raise NoCredentials(message)
    from chit.providers.local import first_found, look

    looked = look(env)
    found = first_found(looked)
    if found is None:
        where = ", ".join(f"{a.server.name} at {a.server.url}" for a in looked)
        empty = [a.server for a in looked if a.error is None]
        raise NoCredentials(
            f"{message}, or start a local model server ("
            + (f"looked for {where}" if where else "CHIT_LOCAL_SERVERS names none to look for")
            + ")"
            + "".join(f"; {s.name} at {s.url} serves no chat model" for s in empty)
        )
    server, served = found
    endpoint, chosen = choose(
        env, server.provider, model or env.get("CHIT_MODEL") or served, server.url
    )
    on_local(f"no API key set; using {chosen} on {server.name} at {server.url}")
    return endpoint, chosen


def configured(env: Mapping[str, str]) -> list[Endpoint]:
    """The endpoints the environment sets up with a key or an address (the clouds aside):
    Anthropic, OpenAI, each OpenAI-compatible service, Ollama at ``OLLAMA_HOST``."""
    endpoints: list[Endpoint] = []
    if env.get("ANTHROPIC_API_KEY"):
        endpoints.append(choose(env, "anthropic")[0])
    if env.get("OPENAI_API_KEY") or _is_local(env.get("OPENAI_BASE_URL") or ""):
        endpoints.append(choose(env, "openai")[0])
    endpoints += [
        Endpoint("openai", c.base_url, env[c.key_env], c.key_env)
        for c in _COMPATIBLE
        if env.get(c.key_env)
    ]
    if env.get("OLLAMA_HOST"):
        endpoints.append(choose(env, "ollama")[0])
    return endpoints


def _azure_instead(env: Mapping[str, str], model: str, base_url: str | None) -> bool:
    """An OpenAI model name goes to Azure when AZURE_OPENAI_ENDPOINT is set and nothing
    else could serve it: no OpenAI key or endpoint, no compatible service's key."""
    if not env.get("AZURE_OPENAI_ENDPOINT") or base_url or env.get("OPENAI_BASE_URL"):
        return False
    if env.get("OPENAI_API_KEY"):
        return False
    return not any(
        env.get(c.key_env) for c in _COMPATIBLE if not c.prefixes or model.startswith(c.prefixes)
    )


def _azure(env: Mapping[str, str], base_url: str | None) -> Endpoint:
    """Azure OpenAI: the resource from AZURE_OPENAI_ENDPOINT (or ``--base-url``); the key from
    AZURE_OPENAI_AD_TOKEN, else AZURE_OPENAI_API_KEY, as the SDK prefers them."""
    url = base_url or env.get("AZURE_OPENAI_ENDPOINT")
    key_env = (
        "AZURE_OPENAI_AD_TOKEN" if env.get("AZURE_OPENAI_AD_TOKEN") else "AZURE_OPENAI_API_KEY"
    )
    key = env.get(key_env)
    if not url or not key:
        raise NoCredentials(
            "azure needs AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY "
            "(or AZURE_OPENAI_AD_TOKEN) in the environment"
        )
    return Endpoint("azure", url, key, key_env)


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def connect(endpoint: Endpoint, client: object | None = None) -> Provider:
    """The provider for an endpoint (its wire module is imported now); close it when done.

    With ``client``, a user's own SDK client, requests go through that client (its auth,
    base URL, retries and timeouts) and chit reads the body as always. The endpoint still
    names the wire format: ``anthropic``, ``bedrock`` and ``vertex`` take an ``anthropic``
    client, ``openai``, ``openai-responses`` and ``azure`` an ``openai`` one, ``ollama`` an
    ``ollama.Client``. Closing the provider leaves the client open: it is the user's.
    """
    module_name, _, class_name = PROVIDERS[endpoint.provider].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if client is None:
        provider: Provider = cls(endpoint)
        return provider
    from chit.providers.sdk import sender_for

    sender = sender_for(client, cls.path)
    # The client's base URL tells the wire module which server it speaks to.
    provider = cls(replace(endpoint, base_url=endpoint.base_url or sender.base_url), sender)
    return provider


#: Providers reached over chit's own transport: connecting one only imports modules.
HTTP_PROVIDERS = frozenset({"anthropic", "openai", "openai-responses", "ollama"})


class Connecting:
    """A provider of :data:`HTTP_PROVIDERS` connected in the background: its wire module and
    httpx load in a thread, started by :meth:`start` (a chat starts it once its prompt is
    drawn) or by the first request, which waits for them only if they are not loaded yet."""

    def __init__(self, endpoint: Endpoint) -> None:
        if endpoint.provider not in HTTP_PROVIDERS:
            raise ValueError(f"{endpoint.provider} is connected at once, not in the background")
        self.endpoint = endpoint
        self._provider = Later(lambda: connect(endpoint), "chit-connect")

    @property
    def started(self) -> bool:
        """Whether loading has begun."""
        return self._provider.started

    def start(self) -> None:
        """Begin loading, once; later calls do nothing."""
        self._provider.start()

    def ready(self) -> Provider:
        """The connected provider, once it is (started now if it was not)."""
        return self._provider.get()

    def stream(self, request: Request) -> Generator[Event, None, None]:
        """The connected provider's stream (waiting for the connection first)."""
        return self.ready().stream(request)

    def close(self) -> None:
        """Close the provider's connections, if it ever connected."""
        if self.started:
            with contextlib.suppress(Exception):  # it never connected: nothing to close
                self._provider.get().close()


def without_userinfo(url: str | None) -> str | None:
    """An endpoint as a session file may keep it: never with a user or password in it."""
    if url is None:
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
