"""The clouds: Anthropic on AWS Bedrock and on Google Vertex AI, OpenAI on Azure.

Each is a wire module's provider (its body, framing and accumulator) that sends through the
SDK client implementing the cloud's auth: ``anthropic.AnthropicBedrock`` (SigV4),
``anthropic.AnthropicVertex`` (Google OAuth), ``openai.AzureOpenAI`` (``api-key``). The
SDK is imported when the provider is made, never on the path of a key-based provider.
Bedrock streams in AWS event-stream framing: the SDK's decoder turns it back into the
Anthropic events the same accumulator takes.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

from chit.errors import BadInput, ChitError, NoCredentials
from chit.providers.anthropic import AnthropicProvider
from chit.providers.base import Sender, decode
from chit.providers.contract import Endpoint
from chit.providers.openai_chat import OpenAIChatProvider
from chit.providers.sdk import SDKSender

if TYPE_CHECKING:
    import httpx2

#: The Azure OpenAI API version when neither variable sets one (the latest GA version).
AZURE_API_VERSION = "2024-10-21"

_GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: Bedrock's in-stream exceptions as the Anthropic error types they stand for.
_BEDROCK_ERRORS = {
    "throttlingException": "rate_limit_error",
    "serviceUnavailableException": "overloaded_error",
    "internalServerException": "api_error",
    "modelStreamErrorException": "api_error",
    "modelTimeoutException": "api_error",
    "validationException": "invalid_request_error",
}


class BedrockProvider(AnthropicProvider):
    """Anthropic's Messages API on AWS Bedrock, read from its event-stream framing."""

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        super().__init__(endpoint, sender or _owned(bedrock_client(endpoint), endpoint))

    def events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        return aws_events(response)


class VertexProvider(AnthropicProvider):
    """Anthropic's Messages API on Google Vertex AI (server-sent events, as Anthropic's)."""

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        super().__init__(endpoint, sender or _owned(vertex_client(endpoint), endpoint))


class AzureProvider(OpenAIChatProvider):
    """OpenAI Chat Completions on Azure: the model is the deployment's name."""

    def __init__(self, endpoint: Endpoint, sender: Sender | None = None) -> None:
        super().__init__(endpoint, sender or _owned(azure_client(endpoint), endpoint))
        self._azure = True  # whatever the host: openai.azure.com, cognitiveservices.azure.com


def bedrock_client(endpoint: Endpoint) -> Any:
    """An ``AnthropicBedrock`` client from the AWS variables (which the SDK and boto3 read:
    AWS_REGION or AWS_DEFAULT_REGION, the keys or AWS_PROFILE, or AWS_BEARER_TOKEN_BEDROCK)."""
    _require("bedrock", "boto3", "boto3", "botocore")
    import boto3
    import botocore.exceptions
    from anthropic import AnthropicBedrock

    try:
        client = AnthropicBedrock(base_url=endpoint.base_url, **_settings(endpoint))
    except ValueError as err:  # no region anywhere
        raise NoCredentials("no AWS region for bedrock: set AWS_REGION") from err
    if client.api_key is None:
        # SigV4: the credentials must resolve now, not as a failure of the first request.
        try:
            session = boto3.Session(profile_name=client.aws_profile, region_name=client.aws_region)
            found = session.get_credentials()
        except botocore.exceptions.BotoCoreError as err:
            raise NoCredentials(f"AWS credentials for bedrock: {err}") from err
        if found is None:
            raise NoCredentials(
                "no AWS credentials for bedrock: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or AWS_BEARER_TOKEN_BEDROCK"
            )
    return client


def vertex_client(endpoint: Endpoint) -> Any:
    """An ``AnthropicVertex`` client: CLOUD_ML_REGION and ANTHROPIC_VERTEX_PROJECT_ID as the
    SDK reads them, Google's application default credentials, refreshed once now."""
    _require("vertex", "google-auth", "google.auth", "google.auth.transport.requests")
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests
    from anthropic import AnthropicVertex

    try:
        with warnings.catch_warnings():
            # gcloud's user credentials come with advice on quota projects, not for chit's user.
            warnings.filterwarnings("ignore", "Your application has authenticated using end user")
            credentials, project = google.auth.default(scopes=[_GOOGLE_SCOPE])
        credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.DefaultCredentialsError as err:
        raise NoCredentials(
            "no Google credentials for vertex: set GOOGLE_APPLICATION_CREDENTIALS "
            "or run `gcloud auth application-default login`"
        ) from err
    except google.auth.exceptions.RefreshError as err:
        raise NoCredentials(
            f"Google refused the credentials for vertex ({err}): check "
            "GOOGLE_APPLICATION_CREDENTIALS"
        ) from err
    except google.auth.exceptions.TransportError as err:
        raise ChitError(f"could not reach Google to sign in for vertex: {err}") from err
    project = os.environ.get("ANTHROPIC_VERTEX_PROJECT_ID") or project
    if not project:
        raise NoCredentials("no Google Cloud project for vertex: set ANTHROPIC_VERTEX_PROJECT_ID")
    try:
        return AnthropicVertex(
            project_id=project,
            credentials=credentials,
            base_url=endpoint.base_url,
            **_settings(endpoint),
        )
    except ValueError as err:  # no region
        raise NoCredentials("no region for vertex: set CLOUD_ML_REGION") from err


def azure_client(endpoint: Endpoint) -> Any:
    """An ``AzureOpenAI`` client for the endpoint's resource (AZURE_OPENAI_ENDPOINT) and key
    (AZURE_OPENAI_API_KEY, or AZURE_OPENAI_AD_TOKEN); the API version from
    AZURE_OPENAI_API_VERSION, else OPENAI_API_VERSION, else ``AZURE_API_VERSION``."""
    from openai import AzureOpenAI

    if not endpoint.base_url:
        raise NoCredentials("no Azure OpenAI resource: set AZURE_OPENAI_ENDPOINT")

    version = (
        os.environ.get("AZURE_OPENAI_API_VERSION")
        or os.environ.get("OPENAI_API_VERSION")
        or AZURE_API_VERSION
    )
    ad_token = endpoint.api_key_env == "AZURE_OPENAI_AD_TOKEN"
    return AzureOpenAI(
        azure_endpoint=endpoint.base_url,
        api_version=version,
        api_key=None if ad_token else endpoint.api_key,
        azure_ad_token=endpoint.api_key if ad_token else None,
        **_settings(endpoint),
    )


def aws_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The Anthropic events of a Bedrock body: AWS event-stream frames decoded by the
    SDK's decoder (each chunk's ``bytes`` is one event's JSON); an exception frame is an
    ``error`` event, its Bedrock name as the Anthropic error type it stands for."""
    content_type = response.headers.get("content-type", "")
    if content_type.partition(";")[0].strip() != "application/vnd.amazon.eventstream":
        raise ValueError(f"expected an AWS event stream, got {content_type or 'no content type'}")
    from anthropic.lib.bedrock._stream_decoder import AWSEventStreamDecoder

    for sse in AWSEventStreamDecoder().iter_bytes(response.iter_bytes()):
        event = decode(sse.data)
        if event is None:
            continue
        event.setdefault("type", sse.event)
        error = event.get("error")
        if event["type"] == "error" and isinstance(error, dict):
            code = str(error.get("type"))
            if code in _BEDROCK_ERRORS:
                error["type"] = _BEDROCK_ERRORS[code]
                error["message"] = f"{code}: {error.get('message')}"
        yield event


def _owned(client: Any, endpoint: Endpoint) -> SDKSender:
    return SDKSender(client, owned=True, read_timeout=endpoint.read_timeout)


def _settings(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint's retries and timeouts, as SDK client arguments."""
    import httpx2

    timeout: httpx2.Timeout = httpx2.Timeout(
        connect=endpoint.connect_timeout,
        read=endpoint.first_byte_timeout,
        write=endpoint.read_timeout,
        pool=endpoint.connect_timeout,
    )
    return {"max_retries": endpoint.max_retries, "timeout": timeout}


def _require(extra: str, package: str, *modules: str) -> None:
    """Each module importable, else one line naming the extra that installs the package."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise BadInput(
                f"the {extra} provider needs {package}: pip install 'chit[{extra}]'"
            ) from err
