"""A small client of the OpenAI-compatible chat completion API (LiteLLM, vLLM, OpenAI...).

:class:`OpenAIChatCompletionClient` sends ``POST {base_url}/chat/completions`` with
``{model, messages, temperature, max_tokens}`` and a ``Bearer`` API key, and returns the first
choice's text. It is blocking (``urllib``) because MLflow calls ``predict`` synchronously, and
needs no dependency beyond the standard library. The API key is never logged nor shown in a
``repr`` or an error message.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from model_registry.integrations.mlflow.errors import ChatClientConfigError, ChatCompletionError

__all__ = ["CHAT_CONFIG_FIELDS", "ChatClientConfig", "OpenAIChatCompletionClient"]

_log = logging.getLogger(__name__)

#: The configuration fields of the chat client; all are required once any is present.
CHAT_CONFIG_FIELDS = ("model", "api_key", "base_url", "temperature", "max_tokens")

# Enough of an error body to say what went wrong, not enough to flood a log.
_BODY_EXCERPT = 300


def _text(config: Mapping[str, Any], name: str) -> str:
    value = config[name]
    if not isinstance(value, str) or not value.strip():
        raise ChatClientConfigError(name, "must be a non-empty string")
    return value.strip()


@dataclass(frozen=True)
class ChatClientConfig:
    """The settings of a chat completion client, checked.

    Attributes:
        model: The model name the server knows (e.g. ``"gpt-4o-mini"``, ``"ollama/llama3"``).
        api_key: Sent as ``Authorization: Bearer ...``; hidden from ``repr``.
        base_url: The API root, e.g. ``"https://api.openai.com/v1"`` (``/chat/completions`` is
            appended).
        temperature: Sampling temperature, 0 to 2.
        max_tokens: Upper bound of the completion's length, at least 1.
        timeout: Seconds to wait for an answer.
    """

    model: str
    api_key: str = field(repr=False)
    base_url: str
    temperature: float
    max_tokens: int
    timeout: float = 30.0

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> ChatClientConfig:
        """Check and take the chat client fields of a model configuration.

        Args:
            config: The model configuration; it must hold ``model``, ``api_key``, ``base_url``,
                ``temperature`` and ``max_tokens`` (``timeout`` is optional).

        Raises:
            ChatClientConfigError: (a ``ValueError``) a field is missing or invalid; the
                message names it.
        """
        for name in CHAT_CONFIG_FIELDS:
            if name not in config:
                raise ChatClientConfigError(name, "is missing")
        base_url = _text(config, "base_url").rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChatClientConfigError("base_url", "must be an http:// or https:// URL")
        temperature = config["temperature"]
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 <= temperature <= 2
        ):
            raise ChatClientConfigError("temperature", "must be a number from 0 to 2")
        max_tokens = config["max_tokens"]
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ChatClientConfigError("max_tokens", "must be a whole number of at least 1")
        timeout = config.get("timeout", 30.0)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ChatClientConfigError("timeout", "must be a positive number of seconds")
        return cls(
            model=_text(config, "model"),
            api_key=_text(config, "api_key"),
            base_url=base_url,
            temperature=float(temperature),
            max_tokens=max_tokens,
            timeout=float(timeout),
        )


class OpenAIChatCompletionClient:
    """A blocking client of an OpenAI-compatible ``/chat/completions`` endpoint.

    Example::

        client = OpenAIChatCompletionClient.from_config(
            {"model": "gpt-4o-mini", "api_key": "sk-...", "base_url": "https://api.openai.com/v1",
             "temperature": 0.0, "max_tokens": 256}
        )
        client.complete([{"role": "user", "content": "Say hi"}])  # 'Hi!'

    Attributes:
        config: The checked settings.
    """

    def __init__(self, config: ChatClientConfig) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OpenAIChatCompletionClient:
        """Build a client from a model configuration (see :meth:`ChatClientConfig.from_mapping`).

        Raises:
            ChatClientConfigError: A field is missing or invalid.
        """
        return cls(ChatClientConfig.from_mapping(config))

    @property
    def url(self) -> str:
        """The endpoint called: ``{base_url}/chat/completions``."""
        return f"{self.config.base_url}/chat/completions"

    def __repr__(self) -> str:
        return f"OpenAIChatCompletionClient(model={self.config.model!r}, url={self.url!r})"

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Ask for a completion of ``messages`` and return the first choice's text.

        Args:
            messages: Chat messages, each ``{"role": ..., "content": ...}``.

        Returns:
            ``choices[0].message.content`` of the answer.

        Raises:
            ChatCompletionError: No answer within the timeout, the connection failed, the
                server answered an error status, or the answer has no text.
        """
        body = json.dumps(
            {
                "model": self.config.model,
                "messages": [dict(message) for message in messages],
                "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens,
            }
        ).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.config.api_key}",
            },
        )
        _log.debug("chat completion: model %s at %s", self.config.model, self.url)
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            excerpt = exc.read()[:_BODY_EXCERPT].decode("utf-8", "replace")
            # Some servers quote the key they refused; it must not reach a log through us.
            excerpt = excerpt.replace(self.config.api_key, "***")
            raise ChatCompletionError(self.url, excerpt or exc.reason, status=exc.code) from exc
        # Refused, DNS, TLS, timeout, or a connection cut mid-answer.
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChatCompletionError(self.url, f"no answer: {reason}") from exc
        return self._content(raw)

    def _content(self, raw: bytes) -> str:
        try:
            answer = json.loads(raw)
            content = answer["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatCompletionError(
                self.url, f"the answer has no choices[0].message.content: {raw[:_BODY_EXCERPT]!r}"
            ) from exc
        if not isinstance(content, str):
            raise ChatCompletionError(self.url, "choices[0].message.content is not text")
        return content
