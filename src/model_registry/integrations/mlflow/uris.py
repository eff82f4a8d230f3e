"""Model URIs: checking them and telling registry references from MLflow locations.

A model URI is either a reference into a registry, ``models:/NAME/VERSION``,
``models:/NAME/latest`` or ``models:/NAME@ALIAS``, or a location MLflow loads from directly
(``runs:/RUN_ID/PATH``, ``models:/m-MODEL_ID``, ``file:///...``, ``s3://...``, a local
path...). Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from model_registry.integrations.mlflow.errors import InvalidModelUri

__all__ = ["LATEST", "RegistryRef", "check_model_uri", "mlflow_location", "parse_registry_ref"]

#: The version word that asks for the newest version of a registered model.
LATEST = "latest"

# RFC 3986 scheme; a single letter is left out so Windows drive letters ("C:\\...") read as paths.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")


@dataclass(frozen=True)
class RegistryRef:
    """A ``models:/NAME/VERSION`` (or ``models:/NAME@ALIAS``) reference into a registry.

    Attributes:
        name: The registered model name.
        version: The version name, or ``None`` for the newest version (``latest``) or an alias.
        alias: The alias naming the version (``models:/NAME@ALIAS``), if any.
    """

    name: str
    version: str | None
    alias: str | None = None

    @property
    def uri(self) -> str:
        """The reference written back as a ``models:/`` URI."""
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version or LATEST}"


def check_model_uri(uri: object) -> str:
    """Check that ``uri`` is a plausible model URI and return it without surrounding blanks.

    Args:
        uri: What the caller passed as a model URI.

    Returns:
        The URI, stripped.

    Raises:
        InvalidModelUri: It is not a string, is blank, holds control characters, or is a
            ``models:``/``runs:`` URI missing its parts.
    """
    if not isinstance(uri, str):
        raise InvalidModelUri(uri, f"expected a string, got {type(uri).__name__}")
    text = uri.strip()
    if not text:
        raise InvalidModelUri(uri, "it is empty")
    if any(ord(ch) < 32 for ch in text):
        raise InvalidModelUri(uri, "it contains control characters")
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme == "models":
        _models_parts(uri, text)
    elif scheme == "runs":
        rest = text[len("runs:") :]
        if not rest.startswith("/"):
            raise InvalidModelUri(uri, "expected runs:/RUN_ID/PATH")
        run_id, _, path = rest.lstrip("/").partition("/")
        if not run_id or not path.strip("/"):
            raise InvalidModelUri(uri, "expected runs:/RUN_ID/PATH")
    return text


_MODELS_FORMS = (
    "expected models:/NAME/VERSION, models:/NAME/latest, models:/NAME@ALIAS or models:/ID"
)


def _models_parts(uri: object, text: str) -> list[str]:
    rest = text[len("models:") :]
    if not rest.startswith("/"):
        raise InvalidModelUri(uri, _MODELS_FORMS)
    parts = rest.lstrip("/").split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidModelUri(uri, _MODELS_FORMS)
    return parts


def parse_registry_ref(uri: object) -> RegistryRef | None:
    """Read a registry reference out of a model URI.

    Args:
        uri: A model URI.

    Returns:
        The reference for ``models:/NAME/VERSION``, ``models:/NAME/latest`` and
        ``models:/NAME@ALIAS`` (an alias of our registry); ``None`` for any other valid URI
        (an MLflow location, including ``models:/m-ID`` logged models).

    Raises:
        InvalidModelUri: The URI is malformed (see :func:`check_model_uri`).
    """
    text = check_model_uri(uri)
    match = _SCHEME.match(text)
    if not match or match.group(1).lower() != "models":
        return None
    parts = _models_parts(uri, text)
    if len(parts) == 1:
        name, at, alias = parts[0].partition("@")
        if not at:
            return None
        if not name or not alias:
            raise InvalidModelUri(uri, _MODELS_FORMS)
        return RegistryRef(name=name, version=None, alias=alias)
    name, version = parts
    if "@" in name:
        raise InvalidModelUri(uri, "an alias takes no version: use models:/NAME@ALIAS")
    return RegistryRef(name=name, version=None if version.lower() == LATEST else version)


def mlflow_location(uri: str) -> str:
    """Return ``uri`` in the form MLflow reads: a ``file:`` URI becomes a local path.

    MLflow's ``Model.load`` looks for a ``file://`` URI on disk verbatim and misses it, while
    every MLflow entry point takes the plain path.
    """
    parts = urlsplit(uri)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return uri
    return url2pathname(unquote(parts.path))
