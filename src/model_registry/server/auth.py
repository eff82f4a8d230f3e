"""Bearer-token checks shared by the REST and gRPC front doors.

The accepted tokens come from the command line / ``run_server(auth_tokens=...)`` and from a
token file (one token per line, blank lines and ``#`` comments ignored). The file is read again
whenever its identity, size or modification time changes, so tokens rotate without a restart.

A presented token is compared with every accepted one by :func:`hmac.compare_digest`, all of
them every time, so the answer time does not tell how much of a guess matched. Tokens are never
logged: errors say only "missing or invalid bearer token".
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from model_registry.server.errors import Unauthorized
from model_registry.server.principal import AUTH_OFF, SERVER_ADMIN, Principal

if TYPE_CHECKING:
    from model_registry.server.service import RegistryService

log = logging.getLogger("model_registry.server.auth")

__all__ = [
    "API_KEY_HEADER",
    "PROJECT_HEADER",
    "PROJECT_METADATA",
    "RequestAuth",
    "TokenAuthenticator",
    "parse_token_file",
]

PROJECT_HEADER = "X-Model-Registry-Project"
"""The REST header naming the project of a request (name or id)."""

PROJECT_METADATA = "x-model-registry-project"
"""The gRPC metadata key naming the project of a call (name or id)."""

API_KEY_HEADER = "rime-api-key"
"""A REST header that carries a token as ``Authorization: Bearer`` does (seed 003's form)."""


def parse_token_file(text: str) -> list[str]:
    """The tokens in a token file's text: one per line, blank lines and ``#`` comments skipped.

    Args:
        text: The file's content.

    Returns:
        The tokens in file order (surrounding whitespace stripped).
    """
    tokens = []
    for line in text.splitlines():
        token = line.strip()
        if token and not token.startswith("#"):
            tokens.append(token)
    return tokens


def bearer_token(header: str | bytes | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None for any other form."""
    if header is None:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("utf-8", "surrogateescape")


class TokenAuthenticator:
    """Decides whether an ``Authorization`` header carries one of the accepted bearer tokens.

    Args:
        tokens: Tokens accepted as given (command line, environment, code).
        token_file: A file of further tokens, re-read when it changes.

    Raises:
        OSError: The token file cannot be read at start.
        ValueError: Neither source yields a single token (a server nobody could use).
    """

    def __init__(
        self, tokens: Iterable[str] = (), token_file: str | os.PathLike[str] | None = None
    ) -> None:
        self._static = [t.strip().encode() for t in tokens if t.strip()]
        self._file = Path(token_file) if token_file is not None else None
        self._file_tokens: list[bytes] = []
        self._file_key: tuple[int, int, int, int] | None = None
        # gRPC handlers may run on other threads than the REST loop's; the re-read is guarded.
        self._lock = threading.Lock()
        if self._file is not None:
            self._reload(self._stat_key(), initial=True)
        if not self._static and not self._file_tokens:
            raise ValueError("authentication is on but no token is configured")

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _stat_key(self) -> tuple[int, int, int, int]:
        assert self._file is not None
        return self._key(self._file.stat())

    def _reload(self, key: tuple[int, int, int, int], *, initial: bool = False) -> None:
        assert self._file is not None
        text = self._file.read_text(encoding="utf-8")
        self._file_tokens = [t.encode() for t in parse_token_file(text)]
        self._file_key = key
        if not initial:
            log.info("token file %s re-read: %d token(s)", self._file, len(self._file_tokens))

    def _current(self) -> list[bytes]:
        if self._file is not None:
            try:
                key = self._stat_key()
                if key != self._file_key:
                    with self._lock:
                        if key != self._file_key:
                            self._reload(key)
            except (OSError, UnicodeDecodeError) as exc:
                # Mid-rotation (file briefly absent) or unreadable: keep the last good tokens
                # rather than lock everyone out; the next request tries again.
                log.warning(
                    "token file %s unreadable, keeping the previous tokens: %s", self._file, exc
                )
        return self._static + self._file_tokens

    def accepts(self, token: bytes | None) -> bool:
        """Whether ``token`` is one of the accepted tokens (constant time in its content)."""
        if not token:
            return False
        matched = False
        for accepted in self._current():
            # No short cut: every accepted token is compared, whatever matched before.
            matched |= hmac.compare_digest(token, accepted)
        return matched

    def allows(self, authorization: str | bytes | None) -> bool:
        """Whether an ``Authorization`` header value is ``Bearer <an accepted token>``."""
        return self.accepts(bearer_token(authorization))


class RequestAuth:
    """Resolves the principal of a request once, for both front doors.

    The server's admin tokens (a :class:`TokenAuthenticator`) act as
    :data:`~model_registry.server.principal.SERVER_ADMIN`; any other token is looked up among
    the issued tokens (:meth:`RegistryService.principal_for_secret
    <model_registry.server.projects.ProjectRules.principal_for_secret>`). With auth off every
    request acts as :data:`~model_registry.server.principal.AUTH_OFF`.

    Args:
        service: The registry service (its issued tokens and projects).
        authenticator: The admin tokens, or None when auth is off.
    """

    def __init__(self, service: RegistryService, authenticator: TokenAuthenticator | None) -> None:
        self._service = service
        self._auth = authenticator

    @property
    def service(self) -> RegistryService:
        """The registry service the views come from."""
        return self._service

    @property
    def on(self) -> bool:
        """Whether tokens are checked."""
        return self._auth is not None

    async def principal(self, token: bytes | None) -> Principal:
        """The principal of a request carrying ``token`` (None: no token).

        Raises:
            Unauthorized: Auth is on and the token is missing, unknown, revoked or expired.
        """
        if self._auth is None:
            return AUTH_OFF
        if not token:
            raise Unauthorized("missing or invalid bearer token")
        if self._auth.accepts(token):
            return SERVER_ADMIN
        found = await self._service.principal_for_secret(token)
        if found is None:
            raise Unauthorized("missing or invalid bearer token")
        return found

    async def view(self, token: bytes | None, project: str | None) -> RegistryService:
        """The service view of a request: its principal, in the project it selects.

        Raises:
            Unauthorized: As :meth:`principal`.
            NotFound: The project does not exist or the caller has no role in it.
        """
        return await self._service.acting_as(await self.principal(token), project)
