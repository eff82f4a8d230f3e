"""The registry service: every rule of the API, transport-neutral.

Both front doors (REST in ``server/rest.py``, gRPC in ``server/grpc.py``) call only this class.
Inputs and outputs are wire-format dicts: the REST JSON shapes with camelCase keys, ids and
int64 times as strings, ``customProperties`` as tagged MetadataValue objects. Query parameters
are a mapping of wire parameter names to strings (``filterQuery``, ``pageSize``, ``orderBy``,
``sortOrder``, ``nextPageToken``, ``name``, ``externalId``, ``parentResourceId``,
``artifactType``, ``stepIds``); unknown keys are ignored. Failures are
:class:`~model_registry.server.errors.ServiceError` subclasses.

Entity kinds are named as in :mod:`model_registry.server.entities`: ``"registered-model"``,
``"model-version"``, ``"experiment"``, ``"experiment-run"``, ``"serving-environment"``,
``"inference-service"``, ``"serve-model"``, the artifact kinds ``"model-artifact"``,
``"doc-artifact"``, ``"dataset-artifact"``, ``"metric"``, ``"parameter"``, and ``"artifact"``
for the generic artifact endpoints (any artifact kind, chosen by ``artifactType``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from google.protobuf.message import Message

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._wire.proto import wire_to_message
from model_registry.server.aliases import alias_change, check_alias
from model_registry.server.artifacts import (
    SHA256_PROPERTY,
    SIZE_PROPERTY,
    ArtifactStore,
    Blob,
    StoredBlob,
    check_digest,
    content_uri,
)
from model_registry.server.deletion import plan_delete, refusal
from model_registry.server.entities import (
    ANY_ARTIFACT,
    ARTIFACT_KINDS,
    DATASET_ARTIFACT,
    DOC_ARTIFACT,
    EXPERIMENT,
    EXPERIMENT_RUN,
    INFERENCE_SERVICE,
    KINDS,
    METRIC,
    METRIC_HISTORY,
    MODEL_ARTIFACT,
    MODEL_VERSION,
    PARAMETER,
    REGISTERED_MODEL,
    SERVING_ENVIRONMENT,
    EntityKind,
)
from model_registry.server.errors import (
    MAX_ENTITY_BYTES,
    BadRequest,
    Conflict,
    EntityTooLarge,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    StatementTimeout,
    UnprocessableEntity,
)
from model_registry.server.events import EventFeed, EventWatch, WatchRequest, event_kind
from model_registry.server.paging import OrderValue, PageRequest
from model_registry.server.principal import EDITOR
from model_registry.server.projects import ProjectRules, audit
from model_registry.server.store import Record, Scope, Store, Tx, WriteBody
from model_registry.server.store.contents import content_digests
from model_registry.server.store.queries import Change, WirePage, now_ms
from model_registry.server.store.statements import ALIAS_OWNER_COLUMNS
from model_registry.server.sweep import DEFAULT_GRACE_SECONDS, ContentSweeper, ContentSwept
from model_registry.server.webhooks import WebhookPolicy, Webhooks
from model_registry.server.wire import (
    check_name,
    check_text,
    column_to_field,
    custom_properties_to_rows,
    field_to_column,
    parse_id,
    rows_to_custom_properties,
)

T = TypeVar("T")

Body = Mapping[str, Any]
"""A decoded JSON request body (a JSON object)."""
Params = Mapping[str, str]
"""Query parameters by wire name."""
ContextArtifacts = list[dict[str, Any]]
"""The artifacts (wire dicts) of one model version or run."""

_COMMON_CREATE = ("name", "externalId", "description", "customProperties")
_READ_ONLY = ("id", "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch", "aliases")
"""Fields of a full entity body only the server sets (accepted and ignored; ``aliases`` is our
extension's, changed through the alias operations)."""
_STEP_IDS_RE = re.compile(r"[0-9]{1,9}(,[0-9]{1,9})*")

# Context kinds whose artifacts are reached through /{context}/{id}/artifacts.
_ARTIFACT_OWNERS = ("model-version", "experiment-run")


_STATE_COLUMNS = ("state", "desired_state", "last_known_state")
"""Columns whose change is a ``state_changed`` event rather than ``updated``."""

MAX_BATCH_IDS = 1000
"""Most ids one batch read takes (a table page is far smaller)."""

CONTENT_KINDS = (MODEL_ARTIFACT, DOC_ARTIFACT, DATASET_ARTIFACT)
"""Artifact kinds that can have content in the artifact store (metrics and parameters are
values, not files)."""

RESERVED_PROPERTIES = (SHA256_PROPERTY, SIZE_PROPERTY)
"""Custom properties of a content artifact that only an upload sets: a client may repeat their
stored values (or leave them out, which keeps them) but never write others."""


def _kinds(kind: str) -> tuple[EntityKind, ...]:
    if kind == ANY_ARTIFACT:
        return tuple(ARTIFACT_KINDS.values())
    found = KINDS.get(kind)
    if found is None:
        raise ValueError(f"unknown entity kind {kind!r}")
    return (found,)


def _unknown_field(key: str) -> BadRequest:
    return BadRequest(f'json: unknown field "{key}"')


def _missing(wire: str) -> UnprocessableEntity:
    return UnprocessableEntity(f"required field '{wire}' is zero value.")


def _present(body: Body, key: str) -> bool:
    """A field counts as given when present and not null (null means "leave as is")."""
    return body.get(key) is not None


_Convert = Callable[[Any], Any] | None
"""Turns a stored column value into its wire value; None when the value goes out as it is."""

# The wire conversion of each field type, as ``column_to_field`` does it, looked up once per
# kind instead of once per field and row (a page of 1,000 items walks every field 1,000 times).
_CONVERT_BY_TYPE: dict[str, _Convert] = {
    "str": None,
    "enum": None,
    "id": str,
    "int64str": str,
    "double": float,
    "int": int,
    "strlist": json.loads,
}

_WIRE_PLANS: dict[str, tuple[tuple[str, str, _Convert], ...]] = {}


def _wire_plan(kind: EntityKind) -> tuple[tuple[str, str, _Convert], ...]:
    """The ``(wire name, column, converter)`` of each field of ``kind``, built once."""
    plan = _WIRE_PLANS.get(kind.kind)
    if plan is None:
        plan = tuple(
            (
                f.wire,
                f.column,
                _CONVERT_BY_TYPE[f.type]
                if f.type in _CONVERT_BY_TYPE
                else functools.partial(column_to_field, f),
            )
            for f in kind.fields
        )
        _WIRE_PLANS[kind.kind] = plan
    return plan


def to_wire(kind: EntityKind, record: Record) -> dict[str, Any]:
    """Format a stored record as its wire-format dict."""
    v = record.values
    out: dict[str, Any] = {"id": str(v["id"])}
    if kind.artifact_type is not None:
        out["artifactType"] = kind.artifact_type
    value = v.get("name")
    if value is not None:
        out["name"] = value
    value = v.get("external_id")
    if value is not None:
        out["externalId"] = value
    value = v.get("description")
    if value is not None:
        out["description"] = value
    for wire, column, convert in _wire_plan(kind):
        value = v.get(column)
        if value is not None:
            out[wire] = value if convert is None else convert(value)
    out["customProperties"] = rows_to_custom_properties(record.properties)
    out["createTimeSinceEpoch"] = str(v["create_time"])
    out["lastUpdateTimeSinceEpoch"] = str(v["update_time"])
    aliases = _aliases_wire(kind, record)
    if aliases is not None:
        out["aliases"] = aliases  # last: _with_aliases relies on it
    return out


def _aliases_wire(kind: EntityKind, record: Record) -> list[str] | dict[str, str] | None:
    """The ``aliases`` of an answer, or None for a kind without them. Aliases (our extension)
    are read with the entity, one query per page; a row just created has none."""
    if kind is MODEL_VERSION:
        return [alias for alias, _ in record.aliases or ()]
    if kind is REGISTERED_MODEL:
        return {alias: str(version) for alias, version in record.aliases or ()}
    return None


_WIRE_RENDERING = 1
"""The version of :func:`to_wire`'s own code: bump it with any change to what an answer looks
like that the descriptors do not show (a new common field, another order, another form), so no
page splices an answer kept by the old code."""

_MESSAGES: dict[str, type[Message]] = {
    REGISTERED_MODEL.kind: pb.RegisteredModel,
    MODEL_VERSION.kind: pb.ModelVersion,
    EXPERIMENT.kind: pb.Experiment,
    EXPERIMENT_RUN.kind: pb.ExperimentRun,
    SERVING_ENVIRONMENT.kind: pb.ServingEnvironment,
    INFERENCE_SERVICE.kind: pb.InferenceService,
}
"""The gRPC message of each kind of the ``contexts`` table (the rows that keep answers)."""

WIRE_VERSION = (
    zlib.crc32(
        repr(
            (
                _WIRE_RENDERING,
                [(k.kind, k.artifact_type, k.fields) for k in KINDS.values()],
                pb.DESCRIPTOR.serialized_pb,
            )
        ).encode()
    )
    & 0x7FFFFFFF
)
"""The rendering a kept answer (``contexts.wire``, ``wire_pb``) was made by:
:data:`_WIRE_RENDERING`, every kind's descriptor and the proto, so a new or changed field
retires the kept answers by itself."""


def _kept_form(kind: EntityKind, record: Record) -> dict[str, Any]:
    wire = to_wire(kind, record)
    wire.pop("aliases", None)
    return wire


def render_wire(kind: EntityKind, record: Record) -> str:
    """The answer of a context row as kept in ``contexts.wire``: :func:`to_wire` encoded as
    REST encodes it (orjson), aliases left out (a list page adds them where they are shown)."""
    wire = _kept_form(kind, record)
    try:
        return orjson.dumps(wire).decode()
    except TypeError:  # orjson.JSONEncodeError: a value only the standard encoder takes
        return json.dumps(wire)


def _with_aliases(kind: EntityKind, record: Record, kept: str) -> str:
    """:func:`to_wire` of ``record`` as JSON, from its kept answer (:func:`render_wire` of the
    same record): the aliases go back in, where :func:`to_wire` puts them, last."""
    aliases = _aliases_wire(kind, record)
    if aliases is None:
        return kept
    return f'{kept[:-1]},"aliases":{orjson.dumps(aliases).decode()}}}'


def render_message(kind: EntityKind, record: Record) -> bytes:
    """The answer of a context row as kept in ``contexts.wire_pb``: its gRPC message as the
    gRPC front door builds it from :func:`to_wire`, serialized, aliases left out."""
    return wire_to_message(_kept_form(kind, record), _MESSAGES[kind.kind]).SerializeToString()


@dataclass(frozen=True)
class MessagePage:
    """A list page of serialized gRPC messages (see :meth:`RegistryService.list_messages`).

    Attributes:
        items: Each item's serialized message (aliases included).
        ids: Each item's id.
        order_values: Each item's value of the page's ordering.
        next_page_token: The next page's token (``""`` on the last).
        page_size: The ``pageSize`` of the answer (the request's, or the items' count).
    """

    items: list[bytes]
    ids: list[int]
    order_values: list[OrderValue]
    next_page_token: str
    page_size: int


def lists_as_text(kind: str) -> bool:
    """Whether lists of ``kind`` can be answered by :meth:`RegistryService.list_json`: the
    kinds of the ``contexts`` table, whose rows keep their answers."""
    desc = KINDS.get(kind)
    return desc is not None and desc.table == "contexts"


_NO_ALIASES = {MODEL_VERSION.kind: ',"aliases":[]}', REGISTERED_MODEL.kind: ',"aliases":{}}'}


def _aliases_shown(kind: EntityKind, pairs: list[tuple[str, int]] | None) -> str:
    """What follows a kept answer (less its closing brace) of a model version or registered
    model: its ``aliases`` last, as :func:`to_wire` places them (names, or names to version
    ids), and the brace."""
    if not pairs:
        return _NO_ALIASES[kind.kind]
    if kind is MODEL_VERSION:
        shown = orjson.dumps([alias for alias, _ in pairs])
    else:
        shown = orjson.dumps({alias: str(version) for alias, version in pairs})
    return f',"aliases":{shown.decode()}}}'


def _aliases_message(
    message: type[Message], kind: EntityKind, pairs: list[tuple[str, int]]
) -> bytes:
    """A model version's or registered model's ``aliases`` alone, serialized (see
    :func:`to_wire` for their two forms)."""
    names: Any = [alias for alias, _ in pairs]
    if kind is not MODEL_VERSION:
        names = {alias: str(version) for alias, version in pairs}
    return message(aliases=names).SerializeToString()  # type: ignore[call-arg]


def _fitting(kind: EntityKind, record: Record) -> Record:
    """``record`` if its wire form fits in one answer; checked inside the write, so a refused
    entity is rolled back.

    Raises:
        EntityTooLarge: The entity is larger than :data:`MAX_ENTITY_BYTES` encoded.
    """
    wire = to_wire(kind, record)
    try:
        size = len(orjson.dumps(wire))
    except TypeError:  # orjson.JSONEncodeError: a value only the standard encoder takes
        size = len(json.dumps(wire).encode())
    if size > MAX_ENTITY_BYTES:
        raise EntityTooLarge(
            f"the {kind.label} would be {size} bytes encoded, more than the {MAX_ENTITY_BYTES} "
            "an entity may have (every list answer must be able to hold it): shorten its "
            "description or custom properties"
        )
    return record


def _label(kinds: tuple[EntityKind, ...]) -> str:
    return "artifact" if len(kinds) > 1 else kinds[0].label


def _find_miss(
    kinds: tuple[EntityKind, ...], name: str | None, parent: str | None, external_id: str | None
) -> str:
    """The 404 message of a find that matched nothing, in the reference server's form.

    ``no registered models found for name=HAL, externalId=: not found``: tools built on the
    reference tell "absent" from "failed" by the trailing ``: not found`` (COMPAT.md,
    "Not-found messages"). Children name their parent as ``parentResourceId``.
    """
    criteria = [f"name={name or ''}"]
    if parent is not None or kinds[0].parent is not None or kinds[0].is_artifact:
        criteria.append(f"parentResourceId={parent or ''}")
    criteria.append(f"externalId={external_id or ''}")
    return f"no {_label(kinds)}s found for {', '.join(criteria)}: not found"


def _record_kind(record: Record) -> EntityKind:
    return KINDS[str(record.values["kind"])]


async def _kept_answers(
    tx: Tx,
    kinds: tuple[EntityKind, ...],
    scope: Scope,
    params: Params,
    page: PageRequest,
    *,
    message: bool,
    aliases: bool,
) -> WirePage[Any]:
    """One page of the rows' kept answers: REST JSON, or with ``message`` serialized gRPC
    messages (rows without one of this rendering are rendered on the way), and with
    ``aliases`` the aliases of the page's versions or models."""
    render = render_message if message else render_wire
    try:
        return await tx.list_page_wire(
            kinds,
            scope,
            _filter_query(params),
            page,
            version=WIRE_VERSION,
            render=functools.partial(render, kinds[0]),
            message=message,
            aliases=aliases,
        )
    except ValueError as exc:  # FilterError, PageTokenError
        raise BadRequest(str(exc)) from None


def _filter_query(params: Params) -> str | None:
    filter_query = params.get("filterQuery") or None
    if filter_query is not None:
        check_text(filter_query, "filterQuery")
    return filter_query


def _page_request(params: Params) -> PageRequest:
    try:
        return PageRequest.from_query(params)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _query_text(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    return check_text(value, key)


class RegistryService(ProjectRules):
    """The registry's rules over a :class:`~model_registry.server.store.Store`.

    A service acts as one :class:`~model_registry.server.principal.Principal` in one project:
    the one built here acts as the caller of a server without authentication, in the project
    ``default``. :meth:`acting_as` gives the view of one request (same store, same caches),
    and every statement the view issues carries its project (:class:`Tx` is scoped), so
    nothing outside that project can be reached through it.

    Args:
        store: The opened store.
        artifacts: The artifact content store (None: content uploads and downloads answer
            that the server has none).
        max_artifact_bytes: The largest content accepted by an upload (None: no limit).
        content_grace: Seconds an upload's pin keeps its content from the sweep
            (:mod:`model_registry.server.sweep`).
        auth_on: Whether the server checks tokens (token management needs it).
    """

    def __init__(
        self,
        store: Store,
        *,
        artifacts: ArtifactStore | None = None,
        max_artifact_bytes: int | None = None,
        content_grace: float = DEFAULT_GRACE_SECONDS,
        auth_on: bool = False,
    ) -> None:
        super().__init__(store, auth_on=auth_on)
        self._artifacts = artifacts
        self._max_artifact_bytes = max_artifact_bytes
        self.sweeper = (
            ContentSweeper(store, artifacts, grace=content_grace) if artifacts is not None else None
        )
        """The artifact store's sweep (None without an artifact store)."""
        self.events = EventFeed(store)
        """The change events: watchers read them through it; each write wakes them."""
        self.webhooks = Webhooks(store, WebhookPolicy())
        """Webhook registrations (the server's policy replaces the default one)."""

    @property
    def store(self) -> Store:
        """The store behind the service."""
        return self._store

    def managed_webhooks(self) -> Webhooks:
        """The webhooks, for the server's admin only: a webhook receives the events of every
        project, so no project role may manage one.

        Raises:
            Forbidden: The caller is not the server's admin.
        """
        if not self._principal.admin:
            raise Forbidden(
                "permission denied: managing webhooks needs the server's admin token (a "
                f"webhook receives the events of every project); {self._principal.subject!r} "
                "is not"
            )
        return self.webhooks

    async def _event_rows(self, tx: Tx, changes: Sequence[Change]) -> list[dict[str, Any]]:
        """The ``events`` rows of a write's changes (``bench/events.py`` switches this off to
        measure what the event log costs)."""
        return [await self._event_row(tx, c) for c in changes]

    async def _event_row(self, tx: Tx, change: Change) -> dict[str, Any]:
        """The ``events`` row of one change: the entity as it is now, in its wire form."""
        if change.kind is None:
            kind, text = change.event_kind or "", orjson.dumps(change.entity or {}).decode()
        else:
            record = change.record
            if change.wire is not None and record is not None:
                # The answer just kept for the row, rendered from this very record: only its
                # aliases (the last member of to_wire's answer) are added.
                text = _with_aliases(change.kind, record, change.wire)
            else:
                if record is None and change.action != "deleted":
                    record = await tx.get((change.kind,), int(change.entity_id))
                entity = {"id": str(change.entity_id)}
                if record is not None:
                    entity = to_wire(change.kind, record)
                text = orjson.dumps(entity).decode()
            kind = event_kind(change.kind)
        return {
            "time": now_ms(),
            "kind": kind,
            "action": change.action,
            "entity_id": str(change.entity_id),
            "project": self._project_name,
            # Auth off: nobody to name.
            "subject": self._principal.subject if self._auth_on else None,
            "entity": text,
        }

    async def watch(self, params: Params) -> EventWatch:
        """Open a watch of the change events (``since``, ``kinds``, ``actions``; see
        :class:`~model_registry.server.events.WatchRequest`).

        Raises:
            BadRequest: A bad cursor, kind or action.
            CursorExpired: ``since`` is older than the events kept (410).
        """
        request = WatchRequest.from_params(params)
        # A watcher sees the events of its view's project only, like every other read.
        scoped = dataclasses.replace(request, projects=frozenset({self._project_name}))
        return await self.events.open(scoped)

    async def ready(self) -> bool:
        """Whether the database answers (for ``/readyz`` and gRPC health)."""
        return await self._store.ping()

    # The only ways this class reaches the store's entities: each hands the body a Tx scoped
    # to this view's project, and a write first checks the caller's role.

    async def _read(
        self,
        body: Callable[[Tx], Coroutine[Any, Any, T]],
        *,
        heavy: bool = False,
        autocommit: bool = False,
    ) -> T:
        project = self._project_id
        return await self._store.read(
            lambda tx: body(tx.in_project(project)), heavy=heavy, autocommit=autocommit
        )

    async def _write(self, body: WriteBody[T], what: str) -> T:
        """Run a write transaction in this view's project: the one place every change gets
        its event and every write its role check and its audit line.

        The caller needs the ``editor`` role. The changes the body made through its ``tx``
        become rows of the event log (with the project and the subject) at the end of the same
        transaction (so no change commits without its event, and no event without its change),
        and the watchers are woken after the commit.

        Raises:
            Forbidden: The caller is not an editor of the project.
        """
        self._need(EDITOR)
        project = self._project_id

        async def run(outer: Tx) -> T:
            tx = outer.in_project(project)
            start = len(tx.changes)  # SQLite's writer runs several bodies on one Tx
            try:
                result = await body(tx)
                changes = tx.changes[start:]
                kept = await self._keep_wire(tx, changes)
                await tx.finish_write(kept, WIRE_VERSION, await self._event_rows(tx, changes))
            finally:
                del tx.changes[start:]
            return result

        result = await self._store.write(run)
        self.events.notify()
        audit.info("%s by %r in project %r", what, self._principal.subject, self._project_name)
        return result

    @staticmethod
    async def _keep_wire(tx: Tx, changes: Sequence[Change]) -> list[tuple[int, str, bytes]]:
        """The answers to keep of every context row the transaction created or changed, as
        it stands at its end (``contexts.wire``, read by :meth:`list_json`), for
        :meth:`Tx.finish_write`.

        A change without the record (an update) reads it once and leaves it on the change,
        with the answer's JSON, so its event reuses both.
        """
        last: dict[int, Change] = {}
        for change in changes:
            if change.kind is not None and change.kind.table == "contexts":
                last[int(change.entity_id)] = change
        kept: list[tuple[int, str, bytes]] = []
        for ident, change in last.items():
            kind = change.kind
            assert kind is not None
            if change.action == "deleted":
                continue
            if change.record is None or change.action != "created":
                change.record = await tx.get((kind,), ident)
            if change.record is not None:
                record = change.record
                change.wire = render_wire(kind, record)
                kept.append((ident, change.wire, render_message(kind, record)))
        return kept

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        async with self._store.transaction() as tx:
            yield tx.in_project(self._project_id)

    # ---------------------------------------------------------------------------------------
    # create / get / update

    async def create(
        self, kind: str, body: Body, *, parent_id: str | None = None, full: bool = False
    ) -> dict[str, Any]:
        """Create an entity and return it as stored.

        Args:
            kind: The entity kind, or ``"artifact"`` to take the kind from ``artifactType``.
            body: The Create body (or, with ``full``, the full entity schema whose read-only
                fields are accepted and ignored).
            parent_id: The parent id from the path (``/registered_models/{id}/versions``,
                ``/inference_services/{id}/serves``...); it wins over the body's parent field.
            full: Accept the full entity schema (nested POST endpoints).

        Returns:
            The stored entity.

        Raises:
            BadRequest: Unknown field, wrong type, name too long, bad id.
            UnprocessableEntity: A required field is missing.
            NotFound: The parent or a referenced entity does not exist.
            Conflict: The name (within the parent) or the externalId is taken.
        """
        desc = self._create_kind(kind, body)
        values, props = self._create_values(desc, body, full=full)
        record = await self._write(
            lambda tx: self._insert(tx, desc, values, props, path_parent=parent_id),
            f"create {desc.label}",
        )
        return to_wire(desc, record)

    def _create_kind(self, kind: str, body: Body) -> EntityKind:
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        if kind != ANY_ARTIFACT:
            desc = _kinds(kind)[0]
            if desc.is_artifact and _present(body, "artifactType"):
                self._check_artifact_type(desc, body["artifactType"])
            return desc
        artifact_type = body.get("artifactType")
        if artifact_type is None or artifact_type == "":
            raise _missing("artifactType")
        if not isinstance(artifact_type, str) or artifact_type not in ARTIFACT_KINDS:
            raise BadRequest(
                f"invalid artifactType {artifact_type!r}: must be one of "
                + ", ".join(ARTIFACT_KINDS)
            )
        return ARTIFACT_KINDS[artifact_type]

    @staticmethod
    def _check_artifact_type(desc: EntityKind, given: object) -> None:
        if given != desc.artifact_type:
            raise BadRequest(
                f"artifactType cannot change: the artifact is a {desc.artifact_type!r}, "
                f"the request says {given!r}"
            )

    def _create_values(
        self, desc: EntityKind, body: Body, *, full: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Validate a create body; return column values and property rows."""
        allowed = set(_COMMON_CREATE)
        if desc.is_artifact:
            allowed.add("artifactType")
        if full:
            allowed.update(_READ_ONLY)
        for f in desc.fields:
            if f.mode != "ro" or full:
                allowed.add(f.wire)
        for key in body:
            if key not in allowed:
                raise _unknown_field(key)
        values: dict[str, Any] = {}
        for f in desc.fields:
            if f.mode == "ro":
                continue
            if _present(body, f.wire):
                values[f.column] = field_to_column(f, body[f.wire])
            elif f.default is not None:
                values[f.column] = f.default
        values.update(_common_values(body))
        if _present(body, "name"):
            values["name"] = _string(body, "name")
        props = _custom_properties(body) or []
        if desc in CONTENT_KINDS:
            for row in props:
                if row["name"] in RESERVED_PROPERTIES:
                    raise _reserved(row["name"])
        return values, props

    async def _insert(
        self,
        tx: Tx,
        desc: EntityKind,
        values: dict[str, Any],
        props: list[dict[str, Any]],
        *,
        path_parent: str | None = None,
        context: Record | None = None,
    ) -> Record:
        """Check parent, references and name, insert, and return the stored record."""
        parent_field = desc.parent_field
        if path_parent is not None:
            parent = parse_id(path_parent, "parent id")
            if parent_field is not None:
                values[parent_field.column] = parent
            else:
                values["parent_id"] = parent
        elif context is not None:
            values["parent_id"] = context.id
        for f in desc.fields:
            if f.required and values.get(f.column) is None:
                raise _missing(f.wire)
        if desc.parent is not None and path_parent is not None:
            await self._require(tx, KINDS[desc.parent.kind], values["parent_id"], lock=True)
        for f in desc.fields:
            if f.ref is not None and values.get(f.column) is not None:
                await self._require(tx, KINDS[f.ref], values[f.column], lock=True)
        name = values.get("name")
        if name is None or name == "":
            if desc.name_required:
                raise _missing("name")
            values["name"] = str(uuid.uuid4()) if desc.generate_name else None
        elif values.get("parent_id"):
            check_name(name, "name", prefix_len=len(f"{values['parent_id']}:"))
        else:
            check_name(name, "name")
        return _fitting(desc, await tx.create(desc, values, props))

    async def _require(
        self, tx: Tx, desc: EntityKind, entity_id: int, *, lock: bool = False
    ) -> None:
        """Refuse a missing entity; ``lock``: a write depends on it, so hold it (``FOR SHARE``)
        until the write commits, and a delete of it waits (or makes this a 404)."""
        found = await (tx.lock(desc, entity_id) if lock else tx.exists(desc, entity_id))
        if not found:
            raise NotFound(f"{desc.label} with id {entity_id} not found")

    async def get(self, kind: str, entity_id: str) -> dict[str, Any]:
        """Return one entity by id.

        Raises:
            BadRequest: The id is not an id string.
            NotFound: No entity of this kind has the id.
        """
        kinds = _kinds(kind)
        ident = parse_id(entity_id)
        record = await self._read(lambda tx: self._get_record(tx, kinds, ident))
        return to_wire(_record_kind(record), record)

    async def _get_record(self, tx: Tx, kinds: tuple[EntityKind, ...], ident: int) -> Record:
        record = await tx.get(kinds, ident)
        if record is None:
            raise NotFound(f"{_label(kinds)} with id {ident} not found")
        return record

    async def update(self, kind: str, entity_id: str, body: Body) -> dict[str, Any]:
        """Apply a PATCH: present non-null fields replace, absent ones stay.

        ``customProperties``, when present, replaces the whole map (``{}`` clears it).
        ``name``, the parent id fields and ``artifactType`` may be repeated but not changed.

        Raises:
            BadRequest: Unknown field, wrong type, an attempt to change an immutable field.
            NotFound: No entity of this kind has the id.
            Conflict: The new externalId is taken.
        """
        kinds = _kinds(kind)
        ident = parse_id(entity_id)
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")

        async def apply(tx: Tx) -> Record:
            record = await self._get_record(tx, kinds, ident)
            return await self._apply_update(tx, record, body, ignore=())

        record = await self._write(apply, f"update {_label(kinds)} {ident}")
        return to_wire(_record_kind(record), record)

    async def _apply_update(
        self, tx: Tx, record: Record, body: Body, *, ignore: tuple[str, ...]
    ) -> Record:
        desc = _record_kind(record)
        if desc.is_artifact and _present(body, "artifactType"):
            self._check_artifact_type(desc, body["artifactType"])
        allowed = {"externalId", "description", "customProperties", "name", *ignore}
        if desc.is_artifact:
            allowed.add("artifactType")
        allowed.update(f.wire for f in desc.fields if f.mode != "ro" or f.wire in ignore)
        for key in body:
            if key not in allowed:
                raise _unknown_field(key)
        values: dict[str, Any] = {}
        for f in desc.fields:
            if f.mode == "ro" or not _present(body, f.wire):
                continue
            value = field_to_column(f, body[f.wire])
            if f.mode == "create":
                if value != record.values[f.column]:
                    raise BadRequest(f"{f.wire} cannot change")
                continue
            if f.ref is not None:
                await self._require(tx, KINDS[f.ref], value, lock=True)
            values[f.column] = value
        if _present(body, "name") and _string(body, "name") != record.values["name"]:
            raise BadRequest("name cannot change")
        values.update(_common_values(body))
        props = _custom_properties(body)
        if props is not None and desc in CONTENT_KINDS:
            props = _keep_reserved(record, props)
        await tx.update(desc, record.id, values, props)
        if any(c in values and values[c] != record.values.get(c) for c in _STATE_COLUMNS):
            tx.changes[-1].action = "state_changed"
        updated = await tx.get((desc,), record.id)
        assert updated is not None  # updated in this transaction
        return _fitting(desc, updated)

    # ---------------------------------------------------------------------------------------
    # list / find

    async def list(
        self, kind: str, params: Params, *, parent_id: str | None = None
    ) -> dict[str, Any]:
        """List entities, one page at a time.

        Args:
            kind: The entity kind (``"artifact"`` for any artifact; ``artifactType`` narrows).
            params: Query parameters: ``filterQuery``, paging, and for nested lists ``name``
                and ``externalId``.
            parent_id: The parent id from the path (versions of a model, runs of an experiment,
                inference services of an environment, serve models of an inference service).

        Returns:
            ``{"items", "nextPageToken", "pageSize", "size"}``.

        Raises:
            BadRequest: Bad filter, paging parameter, token or id.
            NotFound: The parent does not exist.
        """
        return await self._listing(kind, params, parent_id, self._page_counted)

    async def list_json(
        self, kind: str, params: Params, *, parent_id: str | None = None, aliases: bool = True
    ) -> bytes:
        """:meth:`list` answered as its JSON (REST's encoding), spliced from the rows' kept
        answers: a page of 1,000 builds no object per item. For kinds where
        :func:`lists_as_text` holds.

        Args:
            kind: The entity kind.
            params: As :meth:`list`.
            parent_id: As :meth:`list`.
            aliases: Show the ``aliases`` of model versions and registered models (our
                extension: REST v1 shows them, v1alpha3 does not).

        Returns:
            The page's JSON: parsed, equal to :meth:`list`'s answer (less ``aliases`` when
            not asked for), keys in the same order.

        Raises:
            BadRequest: Bad filter, paging parameter, token or id.
            NotFound: The parent does not exist.
        """
        assert lists_as_text(kind), f"{kind} rows keep no answer"
        page_json = functools.partial(self._page_json, aliases=aliases)
        return await self._listing(kind, params, parent_id, page_json)

    async def list_messages(
        self, kind: str, params: Params, *, parent_id: str | None = None
    ) -> MessagePage:
        """:meth:`list` as serialized gRPC messages, spliced from the rows' kept answers (the
        gRPC twin of :meth:`list_json`; aliases included, as gRPC shows them).

        Raises:
            BadRequest: Bad filter, paging parameter, token or id.
            NotFound: The parent does not exist.
        """
        assert lists_as_text(kind), f"{kind} rows keep no answer"
        return await self._listing(kind, params, parent_id, self._page_messages)

    async def _listing(
        self,
        kind: str,
        params: Params,
        parent_id: str | None,
        page_of: Callable[
            [Tx, tuple[EntityKind, ...], Scope, Params, PageRequest],
            Coroutine[Any, Any, tuple[T, int]],
        ],
    ) -> T:
        """The read of one list page: the kinds, the scope, the parent's check; ``page_of``
        reads the page and gives the answer and its count of items.

        The parent is looked up only when the page is empty: an item of the page is a child
        of the parent, of the project, in the page statement's own snapshot, so it proves
        the parent existed then (a parent's delete deletes its children in its transaction);
        a page read without a transaction around it (:meth:`Store.read`'s ``autocommit``) is
        then one statement, one round trip.
        """
        kinds = self._list_kinds(kind, params)
        page = _page_request(params)

        async def body(tx: Tx) -> T:
            parent: int | None = None
            if parent_id is not None:
                parent = parse_id(parent_id, "parent id")
            scope = Scope(
                tuple(k.kind for k in kinds),
                parent_id=parent,
                name=_query_text(params, "name") if parent is not None else None,
                external_id=_query_text(params, "externalId") if parent is not None else None,
            )
            answer, size = await page_of(tx, kinds, scope, params, page)
            if parent is not None and not size:
                parent_kind = kinds[0].parent
                assert parent_kind is not None, f"{kind} has no parent"
                await self._require(tx, KINDS[parent_kind.kind], parent)
            return answer

        return await self._read_listing(params, body, autocommit=True)

    async def _read_listing(
        self,
        params: Params,
        body: Callable[[Tx], Coroutine[Any, Any, T]],
        *,
        autocommit: bool = False,
    ) -> T:
        """Run a list read: a filtered one off the event loop, and over its time budget a 400
        saying how to narrow it (the filter is what made it costly), not a 503.

        Raises:
            BadRequest: A filtered read ran past the statement budget.
            Unavailable: The database cannot answer (an unfiltered read past its budget too).
        """
        filtered = bool(params.get("filterQuery"))
        try:
            return await self._read(body, heavy=filtered, autocommit=autocommit)
        except StatementTimeout:
            if not filtered:
                raise
            budget = getattr(self._store, "statement_timeout", None)
            within = f" (it ran past the {budget:g} s statement budget)" if budget else ""
            raise BadRequest(
                f"filterQuery: the query is too expensive{within}: narrow it with fewer or "
                "more selective comparisons, fewer LIKE wildcards, or a smaller pageSize"
            ) from None

    def _list_kinds(self, kind: str, params: Params) -> tuple[EntityKind, ...]:
        kinds = _kinds(kind)
        if kind == ANY_ARTIFACT:
            artifact_type = params.get("artifactType")
            if artifact_type:
                if artifact_type not in ARTIFACT_KINDS:
                    raise BadRequest(
                        f"invalid artifactType {artifact_type[:40]!r}: must be one of "
                        + ", ".join(ARTIFACT_KINDS)
                    )
                kinds = (ARTIFACT_KINDS[artifact_type],)
        return kinds

    async def _page(
        self,
        tx: Tx,
        kinds: tuple[EntityKind, ...],
        scope: Scope,
        params: Params,
        page: PageRequest,
    ) -> dict[str, Any]:
        filter_query = _filter_query(params)
        try:
            records, token = await tx.list_page(kinds, scope, filter_query, page)
        except ValueError as exc:  # FilterError, PageTokenError
            raise BadRequest(str(exc)) from None
        items = [to_wire(_record_kind(r), r) for r in records]
        return {
            "items": items,
            "nextPageToken": token,
            "pageSize": page.page_size if page.page_size is not None else len(items),
            "size": len(items),
        }

    async def _page_counted(
        self,
        tx: Tx,
        kinds: tuple[EntityKind, ...],
        scope: Scope,
        params: Params,
        page: PageRequest,
    ) -> tuple[dict[str, Any], int]:
        answer = await self._page(tx, kinds, scope, params, page)
        return answer, answer["size"]

    async def _page_messages(
        self,
        tx: Tx,
        kinds: tuple[EntityKind, ...],
        scope: Scope,
        params: Params,
        page: PageRequest,
    ) -> tuple[MessagePage, int]:
        """:meth:`_page` as serialized gRPC messages (see :meth:`list_messages`), and their
        count."""
        kind = kinds[0]
        found = await _kept_answers(tx, kinds, scope, params, page, message=True, aliases=True)
        items = found.answers
        if found.aliases:
            # A message's bytes followed by more of its fields parse as one message: the
            # aliases go after the kept answer, as a message holding only them.
            message = _MESSAGES[kind.kind]
            items = [
                item
                if ident not in found.aliases
                else item + _aliases_message(message, kind, found.aliases[ident])
                for item, ident in zip(items, found.ids, strict=True)
            ]
        size = len(items)
        answer = MessagePage(
            items,
            found.ids,
            found.order_values,
            found.next_page_token,
            page.page_size if page.page_size is not None else size,
        )
        return answer, size

    async def _page_json(
        self,
        tx: Tx,
        kinds: tuple[EntityKind, ...],
        scope: Scope,
        params: Params,
        page: PageRequest,
        *,
        aliases: bool,
    ) -> tuple[bytes, int]:
        """:meth:`_page` as JSON, spliced from the rows' kept answers (see :meth:`list_json`),
        and its count of items."""
        kind = kinds[0]
        found = await _kept_answers(tx, kinds, scope, params, page, message=False, aliases=aliases)
        texts, ids, token = found.answers, found.ids, found.next_page_token
        if aliases and kind.kind in ALIAS_OWNER_COLUMNS:
            shown = found.aliases
            none = _NO_ALIASES[kind.kind]
            texts = [
                text[:-1] + (none if ident not in shown else _aliases_shown(kind, shown[ident]))
                for text, ident in zip(texts, ids, strict=True)
            ]
        size = len(texts)
        page_size = page.page_size if page.page_size is not None else size
        # The keys and their order of _page's dict, as orjson writes it.
        answer = (
            f'{{"items":[{",".join(texts)}],"nextPageToken":{orjson.dumps(token).decode()},'
            f'"pageSize":{page_size},"size":{size}}}'
        ).encode()
        return answer, size

    async def find(self, kind: str, params: Params) -> dict[str, Any]:
        """Find one entity by ``name`` (+ ``parentResourceId`` for children) or ``externalId``.

        Raises:
            BadRequest: Neither a name nor an externalId; a child's name without
                ``parentResourceId``; a bad id.
            NotFound: Nothing matches.
        """
        kinds = _kinds(kind)
        name = _query_text(params, "name")
        external_id = _query_text(params, "externalId")
        parent_raw = params.get("parentResourceId") or None
        parent = parse_id(parent_raw, "parentResourceId") if parent_raw is not None else None
        is_child = kinds[0].parent is not None or kinds[0].is_artifact
        if external_id is None:
            if name is None:
                raise BadRequest("give name or externalId to find an entity")
            if is_child and parent is None:
                raise BadRequest("a name needs parentResourceId to find this entity")
        if parent is not None and not is_child:
            raise BadRequest("parentResourceId does not apply to this entity")
        scope = Scope(
            tuple(k.kind for k in kinds),
            parent_id=parent if parent is not None and not kinds[0].is_artifact else None,
            context_id=parent if parent is not None and kinds[0].is_artifact else None,
            name=name,
            external_id=external_id,
        )
        async with self._tx() as tx:
            record = await tx.find(kinds, scope)
        if record is None:
            raise NotFound(_find_miss(kinds, name, parent_raw if is_child else None, external_id))
        return to_wire(_record_kind(record), record)

    # ---------------------------------------------------------------------------------------
    # artifacts of versions and runs

    async def list_context_artifacts(
        self, context_kind: str, context_id: str, params: Params
    ) -> dict[str, Any]:
        """List the artifacts linked to a model version or an experiment run.

        Args:
            context_kind: ``"model-version"`` or ``"experiment-run"``.
            context_id: The version or run id.
            params: ``filterQuery``, ``name``, ``externalId``, ``artifactType`` and paging.

        Raises:
            BadRequest: Bad parameter.
            NotFound: The version or run does not exist.
        """
        assert context_kind in _ARTIFACT_OWNERS
        kinds = self._list_kinds(ANY_ARTIFACT, params)
        page = _page_request(params)
        ident = parse_id(context_id)

        async def body(tx: Tx) -> dict[str, Any]:
            await self._require(tx, KINDS[context_kind], ident)
            scope = Scope(
                tuple(k.kind for k in kinds),
                context_id=ident,
                name=_query_text(params, "name"),
                external_id=_query_text(params, "externalId"),
            )
            return await self._page(tx, kinds, scope, params, page)

        return await self._read_listing(params, body)

    async def upsert_context_artifact(
        self, context_kind: str, context_id: str, body: Body
    ) -> tuple[dict[str, Any], bool]:
        """Create an artifact in a model version or run, or link an existing one.

        A body with the ``id`` of an existing artifact links that artifact (applying the other
        fields as a PATCH). In a run, a metric or parameter named like one already there
        updates it. A metric posted to a run is also appended to the run's metric history.

        Args:
            context_kind: ``"model-version"`` or ``"experiment-run"``.
            context_id: The version or run id.
            body: A full Artifact (``artifactType`` required).

        Returns:
            The artifact, and whether it was created (201) rather than linked/updated (200).

        Raises:
            BadRequest, UnprocessableEntity, NotFound, Conflict: As for create and update.
        """
        assert context_kind in _ARTIFACT_OWNERS
        ident = parse_id(context_id)
        desc = self._create_kind(ANY_ARTIFACT, body)
        in_run = context_kind == EXPERIMENT_RUN.kind

        async def upsert(tx: Tx) -> tuple[Record, bool]:
            await self._require(tx, KINDS[context_kind], ident, lock=True)
            context = await tx.get((KINDS[context_kind],), ident)
            if context is None:
                raise NotFound(f"{KINDS[context_kind].label} with id {ident} not found")
            existing: Record | None = None
            if _present(body, "id"):
                existing = await self._get_record(
                    tx, tuple(ARTIFACT_KINDS.values()), parse_id(body["id"])
                )
                await self._require(tx, _record_kind(existing), existing.id, lock=True)
            elif in_run and desc in (METRIC, PARAMETER) and _present(body, "name"):
                existing = await tx.find(
                    (desc,), Scope((desc.kind,), context_id=ident, name=_string(body, "name"))
                )
            if existing is not None:
                record = await self._apply_update(
                    tx, existing, body, ignore=(*_READ_ONLY, "experimentId", "experimentRunId")
                )
                created = False
            else:
                values, props = self._create_values(desc, body, full=True)
                if in_run:
                    values["experiment_id"] = context.values["parent_id"]
                    values["experiment_run_id"] = ident
                record = await self._insert(tx, desc, values, props, context=context)
                created = True
            await tx.link(ident, record.id)
            if in_run and _record_kind(record) is METRIC:
                await self._append_history(tx, record, ident)
            return record, created

        try:
            record, created = await self._write(
                upsert, f"upsert artifact of {context_kind} {ident}"
            )
        except Conflict:
            if not (in_run and desc in (METRIC, PARAMETER) and _present(body, "name")):
                raise
            # A concurrent post of the same name to this run inserted it between our look-up
            # and our insert (PostgreSQL runs both transactions at once; SQLite's single writer
            # never does). Its row is committed now: run again, and update it.
            record, created = await self._write(
                upsert, f"upsert artifact of {context_kind} {ident}"
            )
        return to_wire(_record_kind(record), record), created

    async def _append_history(self, tx: Tx, metric: Record, run_id: int) -> None:
        v = metric.values
        values = {
            "parent_id": run_id,
            **{
                f.column: v[f.column]
                for f in METRIC_HISTORY.fields
                if f.column in v and v[f.column] is not None
            },
            "name": v["name"],
            "external_id": None,
            "description": v["description"],
            "experiment_run_id": run_id,
        }
        props = [{k: p[k] for k in p if k != "owner_id"} for p in metric.properties]
        await tx.insert(METRIC_HISTORY, values, props)

    async def list_metric_history(
        self, params: Params, *, run_id: str | None = None
    ) -> dict[str, Any]:
        """List recorded metric values of one run, or of all runs.

        Args:
            params: ``name``, ``stepIds`` (``"1,2,3"``), ``filterQuery`` and paging.
            run_id: The run id, or None for every run.

        Raises:
            BadRequest: Bad parameter.
            NotFound: The run does not exist.
        """
        page = _page_request(params)
        steps: tuple[int, ...] | None = None
        raw_steps = params.get("stepIds") or None
        if raw_steps is not None:
            if _STEP_IDS_RE.fullmatch(raw_steps) is None:
                raise BadRequest(
                    f"invalid stepIds {raw_steps[:40]!r}: must be comma separated step numbers"
                )
            steps = tuple(int(s) for s in raw_steps.split(","))

        async def body(tx: Tx) -> dict[str, Any]:
            parent: int | None = None
            if run_id is not None:
                parent = parse_id(run_id)
                await self._require(tx, EXPERIMENT_RUN, parent)
            scope = Scope(
                (METRIC_HISTORY.kind,),
                parent_id=parent,
                name=_query_text(params, "name"),
                steps=steps,
            )
            return await self._page(tx, (METRIC_HISTORY,), scope, params, page)

        return await self._read_listing(params, body)

    # ---------------------------------------------------------------------------------------
    # inference services

    async def get_inference_service_model(self, inference_service_id: str) -> dict[str, Any]:
        """Return the registered model an inference service serves.

        Raises:
            BadRequest: Bad id.
            NotFound: The inference service or its model does not exist.
        """
        ident = parse_id(inference_service_id)
        async with self._tx() as tx:
            service = await self._get_record(tx, (INFERENCE_SERVICE,), ident)
            model = await self._get_record(
                tx, (REGISTERED_MODEL,), int(service.values["registered_model_id"])
            )
        return to_wire(REGISTERED_MODEL, model)

    async def get_inference_service_version(self, inference_service_id: str) -> dict[str, Any]:
        """Return the served version: ``modelVersionId``, else the model's newest version.

        Raises:
            BadRequest: Bad id.
            NotFound: The inference service does not exist or there is no version to serve.
        """
        ident = parse_id(inference_service_id)
        async with self._tx() as tx:
            service = await self._get_record(tx, (INFERENCE_SERVICE,), ident)
            version_id = service.values["model_version_id"]
            if version_id is not None:
                version = await self._get_record(tx, (MODEL_VERSION,), int(version_id))
            else:
                newest = await tx.newest_child(
                    MODEL_VERSION, int(service.values["registered_model_id"])
                )
                if newest is None:
                    raise NotFound(f"inference service {ident} has no model version to serve")
                version = newest
        return to_wire(MODEL_VERSION, version)

    async def register_model_parts(self, name: str, uri: str, source: str, config: str) -> str:
        """Store a registered model ``name``, its version ``"1"`` and its model artifact in ONE
        transaction (a name taken in this project is a 409 and writes nothing).

        Returns:
            The registered model's id.
        """
        kinds = (REGISTERED_MODEL, MODEL_VERSION, KINDS["model-artifact"])

        async def write(tx: Tx) -> str:
            model = await self._insert(tx, kinds[0], {"name": name, "state": "LIVE"}, [])
            version = await self._insert(
                tx, kinds[1], {"name": "1", "state": "LIVE", "parent_id": model.id}, []
            )
            props = custom_properties_to_rows(
                {"model_config": {"metadataType": "MetadataStringValue", "string_value": config}}
            )
            artifact = await self._insert(
                tx,
                kinds[2],
                {"name": name, "uri": uri, "model_format_name": source, "state": "LIVE"},
                props,
                context=version,
            )
            await tx.link(version.id, artifact.id)
            return str(model.id)

        return await self._write(write, f"register model {name!r}")

    # ---------------------------------------------------------------------------------------
    # batch reads for tables (the web UI): one query for a whole table, never one per row

    async def newest_versions(self, model_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The newest model version of each registered model (as an inference service without
        ``modelVersionId`` serves it), read in one query.

        Args:
            model_ids: Registered model ids (at most :data:`MAX_BATCH_IDS`).

        Returns:
            The newest version by model id; models without versions are absent.

        Raises:
            BadRequest: A bad id, or too many ids.
        """
        idents = _batch_ids(model_ids)
        async with self._tx() as tx:
            found = await tx.newest_children(MODEL_VERSION, idents)
        return {str(model): to_wire(MODEL_VERSION, r) for model, r in found.items()}

    async def linked_artifacts(
        self,
        context_ids: Sequence[str],
        *,
        artifact_type: str | None = None,
        limit: int = MAX_BATCH_IDS,
    ) -> dict[str, ContextArtifacts]:
        """The artifacts linked to each of several model versions or runs, in one query.

        Args:
            context_ids: Model version or experiment run ids (at most :data:`MAX_BATCH_IDS`).
            artifact_type: Only artifacts of this ``artifactType``.
            limit: At most this many artifacts in all (a table shows a bounded number).

        Returns:
            The artifacts (by id) of each context id; contexts without artifacts are absent.

        Raises:
            BadRequest: A bad id or ``artifactType``, or too many ids.
        """
        idents = _batch_ids(context_ids)
        params = {"artifactType": artifact_type} if artifact_type else {}
        kinds = self._list_kinds(ANY_ARTIFACT, params)
        async with self._tx() as tx:
            pairs = await tx.linked_artifacts(kinds, idents, max(1, min(limit, MAX_BATCH_IDS)))
        out: dict[str, ContextArtifacts] = {}
        for context, record in pairs:
            out.setdefault(str(context), []).append(to_wire(_record_kind(record), record))
        return out

    # ---------------------------------------------------------------------------------------
    # artifact content

    def _artifact_store(self) -> ArtifactStore:
        if self._artifacts is None:
            raise BadRequest("this server has no artifact store")
        return self._artifacts

    async def _content_record(self, tx: Tx, ident: int) -> Record:
        record = await tx.get(tuple(ARTIFACT_KINDS.values()), ident)
        if record is None:
            raise NotFound(f"artifact with id {ident} not found")
        kind = _record_kind(record)
        if kind not in CONTENT_KINDS:
            raise BadRequest(
                f"a {kind.artifact_type} has no content: only "
                + ", ".join(str(k.artifact_type) for k in CONTENT_KINDS)
                + " artifacts do"
            )
        return record

    async def upload_content(
        self,
        artifact_id: str,
        chunks: AsyncIterable[bytes],
        *,
        sha256: str | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """Store the content of an artifact and record its digest, size and URI on it.

        The artifact must exist before its content is uploaded, and its content is set once:
        uploading the same bytes again is answered with the artifact as it is (the stream is
        not read when ``sha256`` says so), other bytes are a conflict. Checks that need no
        byte of content (the artifact, its kind, the announced size) come first.

        On success the artifact's custom properties :data:`SHA256_PROPERTY` (hex digest) and
        :data:`SIZE_PROPERTY` (bytes) are set, and its ``uri`` becomes
        ``model-registry://artifacts/<id>``.

        Args:
            artifact_id: The artifact (a model, doc or dataset artifact).
            chunks: The content.
            sha256: The digest the client announces: checked against the bytes received.
            size: The size the client announces: checked likewise, and against the limit
                before anything is read.

        Returns:
            The artifact as stored.

        Raises:
            BadRequest: Bad id or digest, a metric or parameter, content that does not match
                what was announced, no artifact store.
            NotFound: No such artifact.
            Conflict: The artifact has other content already.
            PayloadTooLarge: Over ``--max-artifact-bytes``.
        """
        store = self._artifact_store()
        ident = parse_id(artifact_id)
        if sha256 is not None:
            check_digest(sha256)
        if size is not None:
            if size < 0:
                raise BadRequest("the announced size must not be negative")
            if self._max_artifact_bytes is not None and size > self._max_artifact_bytes:
                raise PayloadTooLarge(
                    f"artifact content larger than {self._max_artifact_bytes} bytes"
                )
        # Checked as a write (it changes nothing), so that whatever a write requires of its
        # caller is required before a byte of content moves, not after the store holds it.
        record = await self._write(
            lambda tx: self._content_record(tx, ident), f"upload content of artifact {ident}"
        )
        current = _content_digest(record)
        if current is not None:
            if sha256 == current:
                return to_wire(_record_kind(record), record)
            raise _content_set(ident, current)
        assert self.sweeper is not None  # there is one with every artifact store
        blob = await store.put(
            chunks,
            max_bytes=self._max_artifact_bytes,
            expected_sha256=sha256,
            expected_size=size,
            pin=self.sweeper.pin,
        )

        async def attach(tx: Tx) -> Record:
            return await self._attach_content(tx, ident, blob)

        try:
            record = await self._write(attach, f"upload content of artifact {ident}")
        except ContentSwept:
            # A sweep took the content between the pin and the claim, and may have removed it
            # before or after this upload placed it. Pinned again (once that sweep is done),
            # content still there is kept, and the upload records it; gone, it is a 503 (the
            # row pinned again lets a later sweep find anything left under the digest).
            await self.sweeper.pin(blob.sha256)
            if await store.size(blob.sha256) is None:
                raise
            record = await self._write(attach, f"upload content of artifact {ident}")
        return to_wire(_record_kind(record), record)

    async def _attach_content(self, tx: Tx, ident: int, blob: StoredBlob) -> Record:
        record = await self._content_record(tx, ident)
        current = _content_digest(record)
        if current is not None:
            if current == blob.sha256:
                return record  # a concurrent upload of the same bytes won
            raise _content_set(ident, current)
        # The content may have been swept since the upload pinned it: never record a digest
        # whose content may be gone (the claim holds it from here to the commit).
        await ContentSweeper.claim(tx, blob.sha256)
        props = rows_to_custom_properties(record.properties)
        props[SHA256_PROPERTY] = {
            "metadataType": "MetadataStringValue",
            "string_value": blob.sha256,
        }
        # A string: int custom properties are 32-bit on the reference's wire, content is not.
        props[SIZE_PROPERTY] = {
            "metadataType": "MetadataStringValue",
            "string_value": str(blob.size),
        }
        desc = _record_kind(record)
        await tx.update(
            desc, ident, {"uri": content_uri(str(ident))}, custom_properties_to_rows(props)
        )
        tx.changes[-1].action = "uploaded"  # watchers see content arrive, not a plain update
        updated = await tx.get((desc,), ident)
        assert updated is not None  # updated in this transaction
        return _fitting(desc, updated)

    async def open_content(self, artifact_id: str) -> tuple[dict[str, Any], Blob]:
        """Open the uploaded content of an artifact for download.

        Only content uploaded to this registry is ever read: an artifact's ``uri`` is never
        opened, whatever it names.

        Returns:
            The artifact (its reserved properties carry the digest and size to verify the
            download against) and the open content (the caller closes it).

        Raises:
            BadRequest: Bad id, a metric or parameter, no artifact store.
            NotFound: No such artifact, or no content uploaded for it.
        """
        store = self._artifact_store()
        ident = parse_id(artifact_id)
        record = await self._read(lambda tx: self._content_record(tx, ident))
        digest = _content_digest(record)
        if digest is None:
            raise NotFound(f"artifact with id {ident} has no uploaded content")
        return to_wire(_record_kind(record), record), await store.open(digest)

    # our extensions: delete and aliases

    async def delete(
        self, kind: str, entity_id: str, *, cascade: bool = False, parent_id: str | None = None
    ) -> None:
        """Delete an entity, and with ``cascade`` its own subtree, in one transaction.

        See :mod:`model_registry.server.deletion` for what a subtree holds and what refuses a
        delete. The name and external id of what was deleted are free again.

        Args:
            kind: The entity kind (``"artifact"``: any artifact kind).
            entity_id: The entity id.
            cascade: Delete the entity's own subtree with it.
            parent_id: The parent the path names (a serve model's inference service): an
                entity under another parent is a 404.

        Raises:
            BadRequest: Bad id.
            NotFound: No entity of this kind has the id (deleted already, or never there).
            Conflict: Children without ``cascade``, or references from outside the subtree
                (:class:`~model_registry.server.deletion.InTheWay`, naming them).
        """
        kinds = _kinds(kind)
        ident = parse_id(entity_id)
        parent = parse_id(parent_id, "parent id") if parent_id is not None else None

        async def remove(tx: Tx) -> None:
            record = await self._get_record(tx, kinds, ident)
            if parent is not None and int(record.values["parent_id"]) != parent:
                raise NotFound(f"{_label(kinds)} with id {ident} not found under {parent}")
            desc = _record_kind(record)
            # Held until commit: a create under it waits, then finds it gone (404).
            if not await tx.lock(desc, ident, exclusive=True):
                raise NotFound(f"{desc.label} with id {ident} not found")
            plan = await plan_delete(tx, desc, ident)
            refused = refusal(desc, ident, plan, cascade=cascade)
            if refused is not None:
                raise refused
            released[:] = await content_digests(tx.executor, plan.artifacts)
            await plan.execute(tx, desc, ident)

        released: list[str] = []
        await self._write(remove, "delete")
        if self.sweeper is not None:
            await self.sweeper.release(released)

    async def set_alias(self, model_id: str, alias: str, body: Body) -> dict[str, Any]:
        """Point ``alias`` of a registered model at one of its versions (create or move it).

        Args:
            model_id: The registered model id.
            alias: The alias (see :mod:`model_registry.server.aliases` for the names allowed).
            body: ``{"modelVersionId": "<id>"}``.

        Returns:
            The version the alias now points at (with its ``aliases``).

        Raises:
            BadRequest: A bad alias, id or body, or a version of another model.
            NotFound: The model or the version does not exist.
        """
        model = parse_id(model_id)
        check_alias(alias)
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        for key in body:
            if key != "modelVersionId":
                raise _unknown_field(key)
        if not _present(body, "modelVersionId"):
            raise _missing("modelVersionId")
        version = parse_id(_string(body, "modelVersionId"), "modelVersionId")

        async def point(tx: Tx) -> Record:
            # Both held until commit: a delete of either waits, then finds the alias (and
            # refuses or removes it), or makes this a 404; never an alias on a deleted version.
            await self._require(tx, REGISTERED_MODEL, model, lock=True)
            await self._require(tx, MODEL_VERSION, version, lock=True)
            record = await self._get_record(tx, (MODEL_VERSION,), version)
            if int(record.values["parent_id"]) != model:
                raise BadRequest(
                    f"model version {version} is not a version of registered model {model}"
                )
            before = await tx.alias_target(model, alias)
            await tx.set_alias(model, alias, version)
            if before != version:
                tx.changes.append(
                    alias_change("created" if before is None else "updated", model, alias, version)
                )
            updated = await tx.get((MODEL_VERSION,), version)
            assert updated is not None  # locked in this transaction
            return updated

        return to_wire(MODEL_VERSION, await self._write(point, "set alias"))

    async def delete_alias(self, model_id: str, alias: str) -> None:
        """Remove an alias of a registered model.

        Raises:
            BadRequest: A bad id or alias.
            NotFound: The model does not exist or has no such alias.
        """
        model = parse_id(model_id)
        check_alias(alias)

        async def remove(tx: Tx) -> None:
            await self._require(tx, REGISTERED_MODEL, model)
            target = await tx.alias_target(model, alias)
            if target is None or not await tx.delete_alias(model, alias):
                raise NotFound(f"registered model {model} has no alias {alias!r}")
            tx.changes.append(alias_change("deleted", model, alias, target))

        await self._write(remove, "delete")

    async def get_version_by_alias(self, model_id: str, alias: str) -> dict[str, Any]:
        """The version an alias of a registered model points at.

        Raises:
            BadRequest: A bad id or alias.
            NotFound: The model does not exist or has no such alias.
        """
        model = parse_id(model_id)
        check_alias(alias)

        async def read(tx: Tx) -> Record:
            await self._require(tx, REGISTERED_MODEL, model)
            target = await tx.alias_target(model, alias)
            if target is None:
                raise NotFound(f"registered model {model} has no alias {alias!r}")
            return await self._get_record(tx, (MODEL_VERSION,), target)

        return to_wire(MODEL_VERSION, await self._read(read))


def _batch_ids(ids: Sequence[str]) -> list[int]:
    if len(ids) > MAX_BATCH_IDS:
        raise BadRequest(f"at most {MAX_BATCH_IDS} ids at once")
    return [parse_id(i) for i in ids]


def _common_values(body: Body) -> dict[str, Any]:
    """Column values of the common mutable fields present in ``body``."""
    values: dict[str, Any] = {}
    if _present(body, "externalId"):
        values["external_id"] = check_name(body["externalId"], "externalId")
    if _present(body, "description"):
        values["description"] = check_text(_string(body, "description"), "description")
    return values


def _custom_properties(body: Body) -> list[dict[str, Any]] | None:
    """Property rows of ``customProperties``, or None when the body leaves them out."""
    if not _present(body, "customProperties"):
        return None
    return custom_properties_to_rows(body["customProperties"])


def _string(body: Body, key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise BadRequest(f"json: cannot unmarshal into field {key} of type string")
    return value


def _content_digest(record: Record) -> str | None:
    """The digest of an artifact's uploaded content, or None."""
    for row in record.properties:
        if row["name"] == SHA256_PROPERTY:
            value = row.get("string_value")
            return value if isinstance(value, str) else None
    return None


def _content_set(ident: int, digest: str) -> Conflict:
    return Conflict(
        f"artifact with id {ident} has content already (sha256 {digest}): content is set once; "
        "register a new artifact for other content"
    )


def _reserved(name: str) -> BadRequest:
    return BadRequest(
        f"customProperties {name!r} is reserved: the registry sets it when content is uploaded"
    )


def _keep_reserved(record: Record, props: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The property rows of an update of a content artifact: its reserved properties as
    stored, whether the body repeats them or leaves them out; another value is refused."""
    stored = rows_to_custom_properties(
        [row for row in record.properties if row["name"] in RESERVED_PROPERTIES]
    )
    given = rows_to_custom_properties([row for row in props if row["name"] in RESERVED_PROPERTIES])
    for name, value in given.items():
        if stored.get(name) != value:
            raise _reserved(name)
    kept = [row for row in props if row["name"] not in RESERVED_PROPERTIES]
    return kept + custom_properties_to_rows(stored)


def _string_prop(value: str) -> dict[str, Any]:
    return {"metadataType": "MetadataStringValue", "string_value": value}


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid {what}: not representable as JSON") from None


def _one_source(info: Any, what: str, sources: tuple[str, ...]) -> tuple[str, Mapping[str, Any]]:
    """The one source key of a seed-003 ``model_info`` / ``connection_info`` object."""
    if not isinstance(info, Mapping):
        raise BadRequest(f"{what} must be an object")
    given = [key for key in info if info[key] is not None]
    if len(given) != 1 or given[0] not in sources:
        raise BadRequest(f"{what} must hold exactly one of {', '.join(sources)}")
    body = info[given[0]]
    if not isinstance(body, Mapping):
        raise BadRequest(f"{what}.{given[0]} must be an object")
    return given[0], body


def _required_text(body: Mapping[str, Any], key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what}.{key} must be a non-empty string")
    return check_text(value, f"{what}.{key}")


class SeedRegistrations:
    """The seed-003 registrations (``POST /v1/registry/dataset|model/{project}``), stored as the
    client's workflows store them (``model_registry.workflows.registration``), so either side
    finds what the other registered.

    * dataset: a top-level dataset artifact named ``name``, external id ``dataset:<name>``
      (unique among the project's artifacts, so a second registration of the name is a 409),
      ``registry.kind`` ``"dataset"``, each of ``data_params`` as ``params.<key>`` (JSON text;
      strings as they are), and the connection info as given in ``connection_info`` (JSON
      text). A connection that is not a local file (``hugging_face``) is recorded, never
      opened; the server opens no file either.
    * model: a registered model ``name``, its version ``"1"`` and a model artifact ``name``
      whose ``uri`` is the model URI or path, ``modelFormatName`` the source
      (``hugging_face`` or ``model_path``) and ``model_config`` the ``model_info`` (JSON).
    """

    DATA_SOURCES = ("data_file", "hugging_face", "data_collector", "delta_lake", "databricks")
    MODEL_SOURCES = ("hugging_face", "model_path")
    STRING_PARAMS = frozenset({"label_col", "timestamp_col", "pred_col", "image_col"})


async def register_seed_dataset(service: RegistryService, name: object, data_info: object) -> str:
    """Register a dataset as seed 003's ``POST /v1/registry/dataset/{project}`` does.

    Returns:
        The dataset's id.

    Raises:
        BadRequest: A malformed name or ``data_info``.
        Conflict: The project has a dataset of this name.
        Forbidden: The caller is not an editor of the project.
    """
    name = check_name(name, "name")
    if not name:
        raise BadRequest("name must not be empty")
    if not isinstance(data_info, Mapping):
        raise BadRequest("data_info must be an object")
    source, connection = _one_source(
        data_info.get("connection_info"),
        "data_info.connection_info",
        SeedRegistrations.DATA_SOURCES,
    )
    if source == "data_file":
        uri = _required_text(connection, "path", "connection_info.data_file")
    elif source == "hugging_face":
        uri = "hf://datasets/" + _required_text(
            connection, "dataset_uri", "connection_info.hugging_face"
        )
        split = connection.get("split_name")
        if isinstance(split, str) and split:
            uri += f"#{split}"
    else:
        uri = f"{source}://"
    params = data_info.get("data_params") or {}
    if not isinstance(params, Mapping):
        raise BadRequest("data_info.data_params must be an object")
    properties: dict[str, Any] = {
        "registry.kind": _string_prop("dataset"),
        "connection_info": _string_prop(_json_text({source: connection}, "connection_info")),
    }
    for key, value in params.items():
        text = (
            value
            if key in SeedRegistrations.STRING_PARAMS and isinstance(value, str)
            else _json_text(value, f"data_params.{key}")
        )
        properties[f"params.{key}"] = _string_prop(text)
    created = await service.create(
        "dataset-artifact",
        {
            "name": name,
            "externalId": f"dataset:{name}",
            "uri": uri,
            "state": "LIVE",
            "sourceType": source,
            "source": uri,
            "customProperties": properties,
        },
    )
    return str(created["id"])


async def register_seed_model(service: RegistryService, name: object, model_info: object) -> str:
    """Register a model as seed 003's ``POST /v1/registry/model/{project}`` does.

    Returns:
        The registered model's id.

    Raises:
        BadRequest: A malformed name or ``model_info``.
        Conflict: The project has a registered model of this name.
        Forbidden: The caller is not an editor of the project.
    """
    name = check_name(name, "name")
    if not name:
        raise BadRequest("name must not be empty")
    source, body = _one_source(model_info, "model_info", SeedRegistrations.MODEL_SOURCES)
    uri = _required_text(body, "model_uri" if source == "hugging_face" else "path", source)
    config = _json_text({source: body}, "model_info")
    return await service.register_model_parts(name, uri, source, config)
