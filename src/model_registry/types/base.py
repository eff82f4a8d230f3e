"""The common base of every registry entity."""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

__all__ = ["BaseResource"]


@dataclass(repr=False)
class BaseResource:
    """Fields every registry entity has.

    Server-set fields (``id``, ``create_time_since_epoch``, ``last_update_time_since_epoch``)
    are ``None`` until the entity has been stored. Times are milliseconds since the epoch.

    Attributes:
        id: Server-assigned id (a decimal string), ``None`` before creation.
        description: Free text.
        external_id: An id from the caller's system, unique among the entity's kind group.
        custom_properties: User properties as plain Python values (str, int, float, bool,
            bytes, dict); see :mod:`model_registry.types.custom_properties`.
        create_time_since_epoch: Creation time (ms), set by the server.
        last_update_time_since_epoch: Last update time (ms), set by the server.
    """

    _: KW_ONLY
    id: str | None = None
    description: str | None = None
    external_id: str | None = None
    custom_properties: dict[str, Any] = field(default_factory=dict)
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None

    def __repr__(self) -> str:
        # Only fields that differ from their default: a fresh RegisteredModel("x") reads as
        # RegisteredModel(name='x') rather than a wall of Nones.
        parts = []
        # Positional fields (the name) first, then the keyword ones in declaration order.
        ordered = sorted(dataclasses.fields(self), key=lambda f: bool(f.kw_only))
        for f in ordered:
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING:
                default: Any = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                parts.append(f"{f.name}={value!r}")
                continue
            if value != default:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
