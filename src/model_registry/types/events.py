"""The change events a registry reports (``ModelRegistryAPIClient.watch``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event"]


@dataclass(frozen=True)
class Event:
    """One change of the registry, in the order the changes committed.

    Attributes:
        cursor: The event's position in the registry's event log; ``watch(since=cursor)``
            resumes after it.
        type: ``kind.action`` in MLflow's style, e.g. ``"model_version.created"``.
        kind: What changed: ``"registered_model"``, ``"model_version"``,
            ``"model_artifact"``, ``"model_version_alias"``...
        action: ``"created"``, ``"updated"``, ``"state_changed"``, ``"deleted"`` or
            ``"uploaded"``.
        entity_id: The id of the entity that changed.
        time_since_epoch: When the change was made, in milliseconds since the epoch.
        entity: The entity as it was after the change, as the REST API shows it (camelCase
            JSON: ``{"id", "name", "state", "customProperties", ...}``).
        project: The entity's project, when the registry has projects.
        subject: Who made the change (a token's subject), when known.
    """

    cursor: int
    type: str
    kind: str
    action: str
    entity_id: str
    time_since_epoch: int
    entity: Mapping[str, Any] = field(default_factory=dict)
    project: str | None = None
    subject: str | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Event:
        """Read an event from its REST JSON form.

        Raises:
            KeyError, ValueError, TypeError: Not an event.
        """
        kind, action = str(data["kind"]), str(data["action"])
        entity = data.get("entity") or {}
        if not isinstance(entity, Mapping):
            raise TypeError("an event's entity is a JSON object")
        return cls(
            cursor=int(data["cursor"]),
            type=str(data.get("type") or f"{kind}.{action}"),
            kind=kind,
            action=action,
            entity_id=str(data["entityId"]),
            time_since_epoch=int(data["timeSinceEpoch"]),
            entity=entity,
            project=data.get("project"),
            subject=data.get("subject"),
        )
