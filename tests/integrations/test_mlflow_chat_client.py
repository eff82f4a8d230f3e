"""OpenAIChatCompletionClient against a real OpenAI-compatible server over a socket."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from chat_server import API_KEY, REPLY, ChatServer

from model_registry.integrations.mlflow import (
    ChatClientConfig,
    ChatClientConfigError,
    ChatCompletionError,
    OpenAIChatCompletionClient,
)
from model_registry.integrations.mlflow.chat_client import CHAT_CONFIG_FIELDS

FULL: dict[str, Any] = {
    "model": "gpt-test",
    "api_key": API_KEY,
    "base_url": "http://127.0.0.1:9/v1",
    "temperature": 0.2,
    "max_tokens": 64,
}
MESSAGES = [{"role": "user", "content": "hello"}]


def test_complete_posts_model_messages_and_settings_with_the_bearer_key(
    chat_server: ChatServer,
) -> None:
    client = OpenAIChatCompletionClient.from_config(chat_server.config())

    assert client.complete(MESSAGES) == REPLY
    assert chat_server.requests == [
        {"model": "gpt-test", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 64}
    ]
    assert client.url == f"{chat_server.base_url}/chat/completions"


def test_a_trailing_slash_in_base_url_is_harmless(chat_server: ChatServer) -> None:
    client = OpenAIChatCompletionClient.from_config(
        chat_server.config(base_url=chat_server.base_url + "/")
    )
    assert client.complete(MESSAGES) == REPLY


def test_a_refused_key_is_an_error_with_the_status_and_without_the_key(
    chat_server: ChatServer,
) -> None:
    client = OpenAIChatCompletionClient.from_config(chat_server.config(api_key="sk-wrong-key"))

    with pytest.raises(ChatCompletionError, match="invalid api key") as caught:
        client.complete(MESSAGES)
    assert caught.value.status == 401
    assert "sk-wrong-key" not in str(caught.value)
    assert "invalid api key ***" in str(caught.value)
    assert chat_server.requests == []


@pytest.mark.parametrize(
    ("model", "status", "message"),
    [("broken", 500, "upstream exploded"), ("garbled", None, r"choices\[0\]")],
)
def test_server_errors_and_unreadable_answers_are_chat_completion_errors(
    chat_server: ChatServer, model: str, status: int | None, message: str
) -> None:
    client = OpenAIChatCompletionClient.from_config(chat_server.config(model=model))

    with pytest.raises(ChatCompletionError, match=message) as caught:
        client.complete(MESSAGES)
    assert caught.value.status == status
    assert caught.value.url == client.url


def test_no_answer_within_the_timeout_is_a_chat_completion_error(
    chat_server: ChatServer,
) -> None:
    client = OpenAIChatCompletionClient.from_config(chat_server.config(model="slow", timeout=0.2))
    with pytest.raises(ChatCompletionError, match="no answer"):
        client.complete(MESSAGES)


def test_a_refused_connection_is_a_chat_completion_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAIChatCompletionClient.from_config(
        {**FULL, "base_url": f"http://127.0.0.1:{port}/v1"}
    )
    with pytest.raises(ChatCompletionError, match="no answer") as caught:
        client.complete(MESSAGES)
    assert caught.value.status is None


def test_the_api_key_stays_out_of_reprs() -> None:
    client = OpenAIChatCompletionClient.from_config(FULL)
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(client.config)
    assert "gpt-test" in repr(client)


@pytest.mark.parametrize("field", CHAT_CONFIG_FIELDS)
def test_each_missing_field_is_a_value_error_naming_it(field: str) -> None:
    config = {name: value for name, value in FULL.items() if name != field}
    with pytest.raises(ValueError, match=f"'{field}': is missing") as caught:
        ChatClientConfig.from_mapping(config)
    assert isinstance(caught.value, ChatClientConfigError)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", ""),
        ("model", 3),
        ("api_key", None),
        ("base_url", "ftp://host/v1"),
        ("base_url", "not a url"),
        ("temperature", "0.5"),
        ("temperature", 2.5),
        ("temperature", True),
        ("max_tokens", 0),
        ("max_tokens", 12.5),
        ("timeout", -1),
    ],
)
def test_each_invalid_field_is_a_value_error_naming_it(field: str, value: object) -> None:
    with pytest.raises(ChatClientConfigError, match=f"'{field}'") as caught:
        ChatClientConfig.from_mapping({**FULL, field: value})
    assert caught.value.field == field
    assert API_KEY not in str(caught.value)


def test_a_valid_config_is_taken_as_given() -> None:
    config = ChatClientConfig.from_mapping({**FULL, "temperature": 1, "timeout": 5})
    assert config == ChatClientConfig(
        model="gpt-test",
        api_key=API_KEY,
        base_url="http://127.0.0.1:9/v1",
        temperature=1.0,
        max_tokens=64,
        timeout=5.0,
    )
