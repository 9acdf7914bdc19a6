"""Choosing a provider: --provider, else the model's name, else which credentials are set."""

from __future__ import annotations

import pytest

from chit.errors import BadInput, NoCredentials
from chit.providers import choose


def test_explicit_provider_wins() -> None:
    ep, model = choose({"OPENAI_API_KEY": "k"}, provider="openai", model="claude-x")
    assert ep.provider == "openai" and model == "claude-x"


def test_model_name_picks_the_provider() -> None:
    env = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    assert choose(env, model="claude-sonnet-4-5")[0].provider == "anthropic"
    assert choose(env, model="gpt-4.1")[0].provider == "openai"


def test_credentials_pick_the_provider_and_default_model() -> None:
    ep, model = choose({"ANTHROPIC_API_KEY": "a"})
    assert ep.provider == "anthropic" and ep.api_key_env == "ANTHROPIC_API_KEY"
    assert model.startswith("claude-")
    ep, _ = choose({"OLLAMA_HOST": "http://127.0.0.1:9"})
    assert ep.provider == "ollama" and ep.base_url == "http://127.0.0.1:9"


def test_compatible_service_from_its_own_key() -> None:
    ep, _ = choose({"DEEPSEEK_API_KEY": "d"}, model="deepseek-chat")
    assert ep.provider == "openai"
    assert ep.api_key_env == "DEEPSEEK_API_KEY"
    assert ep.base_url == "https://api.deepseek.com"


def test_base_url_from_environment_and_flag() -> None:
    env = {"OPENAI_API_KEY": "o", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}
    assert choose(env)[0].base_url == "http://127.0.0.1:1/v1"
    assert choose(env, base_url="http://127.0.0.1:2/v1")[0].base_url == "http://127.0.0.1:2/v1"


def test_local_server_needs_no_key() -> None:
    ep, _ = choose({}, provider="openai", base_url="http://127.0.0.1:8000/v1")
    assert ep.api_key


def test_no_credentials_names_the_variables() -> None:
    with pytest.raises(NoCredentials, match=r"ANTHROPIC_API_KEY.*OPENAI_API_KEY") as e:
        choose({})
    assert e.value.exit_code == 2
    with pytest.raises(NoCredentials, match="ANTHROPIC_API_KEY"):
        choose({}, provider="anthropic")


def test_unknown_provider() -> None:
    with pytest.raises(BadInput, match="unknown provider"):
        choose({}, provider="nope")


def test_endpoint_repr_hides_the_key() -> None:
    ep, _ = choose({"ANTHROPIC_API_KEY": "sk-ant-secret-123"})
    assert "secret" not in repr(ep)


def test_ollama_takes_a_key_only_when_one_is_set() -> None:
    ep, _ = choose({}, provider="ollama")
    assert (ep.base_url, ep.api_key, ep.api_key_env) == ("http://127.0.0.1:11434", None, "")
    ep, _ = choose({"OLLAMA_HOST": "0.0.0.0", "OLLAMA_API_KEY": "ok-1"}, provider="ollama")
    assert (ep.base_url, ep.api_key, ep.api_key_env) == ("0.0.0.0", "ok-1", "OLLAMA_API_KEY")


def test_endpoint_defaults_are_the_documented_limits() -> None:
    ep, _ = choose({"ANTHROPIC_API_KEY": "a"})
    assert (ep.max_retries, ep.connect_timeout, ep.first_byte_timeout, ep.read_timeout) == (
        2,
        10.0,
        60.0,
        120.0,
    )
