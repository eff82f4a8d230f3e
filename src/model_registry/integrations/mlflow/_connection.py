"""Which registry the sync MLflow classes talk to: a ``ModelRegistry`` facade, or a URL."""

from __future__ import annotations

import getpass
import os
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from model_registry.client import ModelRegistry

__all__ = ["REGISTRY_URL_ENV", "RegistryHandle", "default_author", "open_registry"]

#: Environment variable naming the registry when no client is given.
REGISTRY_URL_ENV = "MODEL_REGISTRY_URL"
#: Environment variable holding the bearer token used with a registry given by URL.
REGISTRY_TOKEN_ENV = "MODEL_REGISTRY_TOKEN"


def default_author() -> str:
    """The login name, or ``"mlflow"`` where there is none (some containers)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "mlflow"


def open_registry(target: ModelRegistry | str | None) -> tuple[ModelRegistry, bool]:
    """Return a facade for ``target`` and whether the caller owns it (and must close it).

    Args:
        target: A ``ModelRegistry`` (used as is), a URL such as ``http://127.0.0.1:8080``
            (a facade is built for it, with ``$MODEL_REGISTRY_TOKEN`` as token), or ``None``
            to read the URL from ``$MODEL_REGISTRY_URL``.

    Raises:
        ValueError: No registry is given, or the URL is not ``http(s)://HOST[:PORT]``.
    """
    from model_registry.client import ModelRegistry

    if isinstance(target, ModelRegistry):
        return target, False
    url = target if target is not None else os.environ.get(REGISTRY_URL_ENV)
    if not url:
        raise ValueError(
            f"no registry given: pass client=ModelRegistry(...) or a URL, or set {REGISTRY_URL_ENV}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"registry URL must look like http://HOST:PORT, got {url!r}")
    secure = parts.scheme == "https"
    registry = ModelRegistry(
        f"{parts.scheme}://{parts.hostname}",
        parts.port or (443 if secure else 80),
        author=default_author(),
        is_secure=secure,
        user_token=os.environ.get(REGISTRY_TOKEN_ENV) or None,
    )
    return registry, True


class RegistryHandle:
    """Opens the registry on first use and closes it afterwards only when it built it."""

    def __init__(self, target: ModelRegistry | str | None) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._registry: ModelRegistry | None = None
        self._owned = False

    def get(self) -> ModelRegistry:
        """The facade, opened on first call (see :func:`open_registry`)."""
        with self._lock:  # threads sharing a loader or register open one facade
            if self._registry is None:
                self._registry, self._owned = open_registry(self._target)
            return self._registry

    def close(self) -> None:
        """Close the facade if this handle built it (idempotent)."""
        with self._lock:
            registry, self._registry = self._registry, None
        if registry is not None and self._owned:
            registry.close()
