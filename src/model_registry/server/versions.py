"""The REST API versions the server speaks, and the few wire quirks that tell them apart.

A version is a route prefix plus a short list of differences, never a second code path: both
versions call the same :class:`~model_registry.server.service.RegistryService` methods with the
same wire dicts. The REST front door (``server/rest.py``) builds its routes from
:data:`API_VERSIONS` and passes bodies and answers through :meth:`ApiVersion.body_in` and
:meth:`ApiVersion.artifact_out`.

The differences of ``v1`` from ``v1alpha3`` (COMPAT.md, "API v1"):

- no experiments, experiment runs or metric history (their routes are absent, so a 404);
- ``Metric.step`` is a decimal integer string (``"3"``) instead of a JSON integer; the service
  keeps it an int64, so the conversion happens here in both directions;
- artifacts have no ``experimentId``/``experimentRunId``: a body carrying one is a 400 naming
  the field, and answers leave them out;
- an unknown ``orderBy`` is a 400 (this server refuses it on ``v1alpha3`` too);
- our extensions (``openapi/extensions-v1.yaml``) are served on v1 only.

Everything here is pure: no I/O, no aiohttp.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from model_registry.server.errors import BadRequest
from model_registry.server.wire import int64_from_string, type_error

V1 = "v1"
V1ALPHA3 = "v1alpha3"

_EXPERIMENT_FIELDS = ("experimentId", "experimentRunId")


@dataclass(frozen=True)
class ApiVersion:
    """One REST API version: where it is served and how its wire differs.

    Attributes:
        name: ``"v1"`` or ``"v1alpha3"``.
        base_path: The route prefix, e.g. ``/api/model_registry/v1``.
        experiments: Whether experiments, runs and metric history are part of it.
        step_as_string: ``Metric.step`` is a decimal string on the wire (v1), not an integer.
        extensions: Whether our extensions (``openapi/extensions-v1.yaml``: projects, tokens,
            aliases, delete, ...) are served under it (v1 only: v1alpha3 stays the reference's).
    """

    name: str
    base_path: str
    experiments: bool
    step_as_string: bool
    extensions: bool = False

    def body_in(self, body: dict[str, Any]) -> dict[str, Any]:
        """Turn a request body of this version into the service's wire dict.

        Checked before the service sees the body, so a refused body writes nothing.

        Raises:
            BadRequest: On v1, an experiment field, or a ``step`` that is not a decimal
                integer string within 64 bits (an integer ``step`` included).
        """
        if not self.step_as_string:
            return body
        for key in _EXPERIMENT_FIELDS:
            if key in body:
                raise BadRequest(f'json: unknown field "{key}"')
        step = body.get("step")
        if step is None:
            return body
        if not isinstance(step, str):
            raise type_error("step", "string", step)
        return {**body, "step": int64_from_string(step, "step", what="a decimal integer")}

    def artifact_out(self, answer: dict[str, Any]) -> dict[str, Any]:
        """Turn a service answer holding artifacts (one, or a page) into this version's wire.

        Call it only for routes whose answers are artifacts; other answers need nothing.
        """
        if not self.step_as_string:
            return answer
        items = answer.get("items")
        if isinstance(items, list):
            for item in items:
                _artifact_to_v1(item)
        else:
            _artifact_to_v1(answer)
        return answer

    def extensions_out(self, answer: dict[str, Any]) -> dict[str, Any]:
        """Leave our extensions' fields (``aliases``) out of an answer holding registered
        models or model versions (one, or a page), on a version without our extensions: its
        answers stay the reference's. Identity on v1."""
        if self.extensions:
            return answer
        items = answer.get("items")
        for item in items if isinstance(items, list) else (answer,):
            item.pop("aliases", None)
        return answer


def _artifact_to_v1(artifact: dict[str, Any]) -> None:
    for key in _EXPERIMENT_FIELDS:
        artifact.pop(key, None)
    step = artifact.get("step")
    if step is not None:
        artifact["step"] = str(step)


API_VERSIONS: Mapping[str, ApiVersion] = {
    V1: ApiVersion(
        V1, "/api/model_registry/v1", experiments=False, step_as_string=True, extensions=True
    ),
    V1ALPHA3: ApiVersion(
        V1ALPHA3, "/api/model_registry/v1alpha3", experiments=True, step_as_string=False
    ),
}
"""Every REST API version the server can serve, by name (the stable one first)."""

DEFAULT_API_VERSIONS = (V1, V1ALPHA3)
"""What ``serve`` serves unless ``--api-versions`` says otherwise: both."""

V1_STABLE_SINCE = datetime(2026, 12, 7, tzinfo=timezone.utc)
"""When v1 became the stable API of this server: the day the release that first served v1
was cut (00:00 UTC). A fixed moment rather than the process start, so every replica and every
restart announce the same ``Deprecation`` date for v1alpha3."""


def parse_api_versions(value: str | Iterable[str]) -> tuple[str, ...]:
    """Parse ``--api-versions`` (``"v1,v1alpha3"``) into the names to serve, in order.

    Raises:
        ValueError: An unknown name, a repeated one, or none at all.
    """
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise ValueError(f"no API version given: choose from {', '.join(API_VERSIONS)}")
    for name in names:
        if name not in API_VERSIONS:
            raise ValueError(f"unknown API version {name!r}: choose from {', '.join(API_VERSIONS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"API version repeated in {','.join(names)!r}")
    return tuple(names)


@dataclass(frozen=True)
class AlphaSunset:
    """The deprecation headers every v1alpha3 answer carries once a sunset date is set.

    Attributes:
        deprecation: ``Deprecation`` (RFC 9745): ``@`` and the Unix time of
            :data:`V1_STABLE_SINCE`.
        sunset: ``Sunset`` (RFC 8594): the HTTP-date of the sunset day, 00:00:00 GMT.
    """

    deprecation: str
    sunset: str

    @classmethod
    def on(cls, day: date) -> AlphaSunset:
        """The headers for v1alpha3 going away on ``day``."""
        moment = datetime.combine(day, time(0, 0), tzinfo=timezone.utc)
        return cls(
            deprecation=f"@{int(V1_STABLE_SINCE.timestamp())}",
            sunset=email.utils.format_datetime(moment, usegmt=True),
        )

    @staticmethod
    def successor_link(v1_path: str) -> str:
        """The ``Link`` header value naming the v1 equivalent of a v1alpha3 path."""
        return f'<{v1_path}>; rel="successor-version"'


def parse_sunset_date(value: str) -> date:
    """Parse ``--alpha-sunset-date`` (``YYYY-MM-DD``).

    Raises:
        ValueError: Not a date of that form.
    """
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"invalid sunset date {value!r}: expected YYYY-MM-DD") from None
