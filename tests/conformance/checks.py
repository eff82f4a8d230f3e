"""Assertions for the wire shapes COMPAT.md fixes (ids, times, lists)."""

from __future__ import annotations

import re
import time
from typing import Any

ID_PATTERN = re.compile(r"^[1-9][0-9]{0,8}$")
LIST_KEYS = {"items", "nextPageToken", "pageSize", "size"}

# Timestamps must be "now" in milliseconds: a seconds or microseconds clock would be off by
# three orders of magnitude, far outside this window.
_CLOCK_SLACK_MS = 10 * 60 * 1000


def assert_id(value: Any) -> str:
    """Assert ``value`` is an id as the API writes it (a decimal string) and return it."""
    assert isinstance(value, str), f"id {value!r} is not a string"
    assert ID_PATTERN.match(value), f"id {value!r} does not match {ID_PATTERN.pattern}"
    return value


def assert_ms_time(value: Any) -> int:
    """Assert ``value`` is a server timestamp: milliseconds since the epoch, as a string."""
    assert isinstance(value, str), f"time {value!r} is not a string"
    assert value.isdigit(), f"time {value!r} is not a decimal string"
    millis = int(value)
    now = int(time.time() * 1000)
    assert abs(now - millis) < _CLOCK_SLACK_MS, f"time {value} is not now in milliseconds"
    return millis


def assert_stored(entity: Any) -> dict[str, Any]:
    """Assert the server-owned fields of a stored entity (id and both times)."""
    assert isinstance(entity, dict), f"entity {entity!r} is not an object"
    assert_id(entity.get("id"))
    created = assert_ms_time(entity.get("createTimeSinceEpoch"))
    updated = assert_ms_time(entity.get("lastUpdateTimeSinceEpoch"))
    assert updated >= created, entity
    return entity


def assert_list(body: Any) -> list[dict[str, Any]]:
    """Assert the list envelope (all four keys, ``size`` = items on the page); return items."""
    assert isinstance(body, dict), f"list body {body!r} is not an object"
    assert set(body) >= LIST_KEYS, f"list body lacks {LIST_KEYS - set(body)}: {body}"
    items = body["items"]
    assert isinstance(items, list), body
    assert isinstance(body["nextPageToken"], str), body
    assert isinstance(body["pageSize"], int), body
    assert body["size"] == len(items), body
    for item in items:
        assert_stored(item)
    return items


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    """Return the ids of ``items`` in order."""
    return [item["id"] for item in items]


def custom_props(entity: dict[str, Any]) -> dict[str, Any]:
    """Return an entity's custom properties, treating an absent map as empty."""
    props = entity.get("customProperties") or {}
    assert isinstance(props, dict), entity
    return props


def string_prop(value: str) -> dict[str, str]:
    """Build a tagged string custom property."""
    return {"metadataType": "MetadataStringValue", "string_value": value}


def int_prop(value: int) -> dict[str, str]:
    """Build a tagged int custom property (``int_value`` travels as a string)."""
    return {"metadataType": "MetadataIntValue", "int_value": str(value)}


def double_prop(value: float) -> dict[str, Any]:
    """Build a tagged double custom property."""
    return {"metadataType": "MetadataDoubleValue", "double_value": value}


def bool_prop(value: bool) -> dict[str, Any]:
    """Build a tagged bool custom property."""
    return {"metadataType": "MetadataBoolValue", "bool_value": value}
