"""Bearer tokens from a string, bytes, a file that may change, or a callable.

A file is re-read when its modification time, size or inode changes, as Kubernetes does when
it rotates a projected service-account token. After a 401 the transport asks for a fresh token
once (:meth:`TokenProvider.refresh`) and retries only if it changed. Tokens never appear in
``repr`` or in error messages.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

__all__ = ["TokenProvider", "TokenSource"]

#: What a token may be given as: the token itself (``str``/``bytes``), a file holding it
#: (``pathlib.Path`` or any ``os.PathLike``), or a callable (sync or async) returning it.
_TokenValue: TypeAlias = "str | bytes | None"
TokenSource: TypeAlias = (
    "str | bytes | os.PathLike[str] | Callable[[], _TokenValue | Awaitable[_TokenValue]]"
)


def _clean(raw: str | bytes | None) -> str | None:
    if raw is None:
        return None
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    text = text.strip()
    # Accept a token given with its scheme; the header adds it back.
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    return text or None


class TokenProvider:
    """Supplies the current bearer token.

    Args:
        source: The token, a path to a file holding it, or a callable returning it; ``None``
            for no authentication. A plain ``str`` is always the token itself: pass a
            ``pathlib.Path`` for a file.
    """

    def __init__(self, source: TokenSource | None) -> None:
        self._static: str | None = None
        self._path: Path | None = None
        self._func: Callable[[], object] | None = None
        self._file_key: tuple[int, int, int] | None = None
        self._cached: str | None = None
        if source is None:
            self._kind = "none"
        elif isinstance(source, str | bytes):
            self._kind = "static"
            self._static = _clean(source)
        elif isinstance(source, os.PathLike):
            self._kind = "file"
            self._path = Path(os.fspath(source))
        elif callable(source):
            self._kind = "callable"
            self._func = source
        else:
            raise TypeError(
                f"user_token must be str, bytes, a path or a callable, got {type(source).__name__}"
            )

    @property
    def enabled(self) -> bool:
        """Whether a token source was given."""
        return self._kind != "none"

    def _read_file(self, force: bool) -> str | None:
        assert self._path is not None
        try:
            st = self._path.stat()
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            if force or key != self._file_key:
                self._cached = _clean(self._path.read_bytes())
                self._file_key = key
        except OSError as exc:
            raise ValueError(f"cannot read the token file {self._path}: {exc.strerror}") from None
        return self._cached

    async def _call(self) -> str | None:
        assert self._func is not None
        value = self._func()
        if inspect.isawaitable(value):
            value = await value
        if value is not None and not isinstance(value, str | bytes):
            raise TypeError(f"the token callable returned {type(value).__name__}, not str/bytes")
        return _clean(value)

    async def get(self) -> str | None:
        """The token to send now (``None``: send no Authorization header)."""
        if self._kind == "static":
            return self._static
        if self._kind == "file":
            return self._read_file(force=False)
        if self._kind == "callable":
            return await self._call()
        return None

    async def refresh(self) -> str | None:
        """Read the token again from its source, bypassing any cache (after a 401)."""
        if self._kind == "file":
            return self._read_file(force=True)
        return await self.get()

    def __repr__(self) -> str:
        if self._kind == "file":
            return f"TokenProvider(file={str(self._path)!r})"
        if self._kind == "callable":
            return f"TokenProvider(callable={getattr(self._func, '__name__', 'callable')!r})"
        return f"TokenProvider({self._kind})"


def bearer_header(token: str) -> str:
    """The ``Authorization`` header value for a token."""
    return f"Bearer {token}"
