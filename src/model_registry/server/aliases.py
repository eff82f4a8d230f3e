"""The rules of aliases (our extension): named, movable pointers from a registered model to one
of its versions (``champion``, ``staging``), as MLflow, W&B, Vertex AI and Unity Catalog have.

An alias is unique within its registered model; a version may carry several. Names follow
MLflow's rule, so MLflow aliases import as they are: 1 to 255 characters out of ASCII letters,
digits, ``_`` and ``-``; ``latest`` and ``v`` followed by digits (``v3``), in any case, are
reserved (MLflow resolves them to versions itself). Aliases are case-sensitive otherwise.

Pure: no I/O.
"""

from __future__ import annotations

import re

from model_registry.server.errors import BadRequest
from model_registry.server.store.queries import Change

__all__ = ["ALIAS_EVENT_KIND", "ALIAS_PATTERN", "alias_change", "check_alias"]

ALIAS_EVENT_KIND = "model_version_alias"
"""The event kind of a change of an alias (set, moved, removed)."""

ALIAS_PATTERN = r"^[A-Za-z0-9_-]{1,255}$"
"""The characters and length an alias may have (the spec's pattern too)."""

_ALIAS = re.compile(ALIAS_PATTERN)
_RESERVED = re.compile(r"(?i:latest|v[0-9]+)")


def check_alias(alias: str) -> str:
    """Return ``alias`` when it is a valid alias name.

    Raises:
        BadRequest: Empty, too long, a character outside ``A-Z a-z 0-9 _ -``, or reserved.
    """
    if not isinstance(alias, str) or _ALIAS.fullmatch(alias) is None:
        shown = repr(alias)[:60]
        raise BadRequest(
            f"invalid alias {shown}: 1 to 255 characters out of A-Z, a-z, 0-9, '_' and '-'"
        )
    if _RESERVED.fullmatch(alias) is not None:
        raise BadRequest(
            f"alias {alias!r} is reserved: 'latest' and 'v' followed by digits name versions "
            "themselves"
        )
    return alias


def alias_change(action: str, model: int, alias: str, version: int) -> Change:
    """The change (event) of an alias set (``created``), moved (``updated``) or removed
    (``deleted``, also by a cascading delete of its version or model)."""
    entity = {"registeredModelId": str(model), "alias": alias, "modelVersionId": str(version)}
    return Change(None, action, f"{model}:{alias}", event_kind=ALIAS_EVENT_KIND, entity=entity)
