"""The rules of projects, principals and tokens (a part of the registry service).

:class:`ProjectRules` is the base of :class:`~model_registry.server.service.RegistryService`:
it holds who a service view acts as (a :class:`~model_registry.server.principal.Principal`)
and in which project, makes the view of one request (:meth:`ProjectRules.acting_as`), and
manages projects and issued tokens. The front doors call these methods; the queries are in
:mod:`model_registry.server.store.projects`.

Projects and tokens are looked up through short caches (:data:`CACHE_SECONDS`), shared by
every view of one service, so a request costs no query to find its project or its token
once they are known; a revoked token stops working on every replica within that time.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from typing_extensions import Self

from model_registry.server.deletion import InTheWay
from model_registry.server.entities import KINDS
from model_registry.server.errors import BadRequest, Forbidden, NotFound
from model_registry.server.paging import PageRequest
from model_registry.server.principal import (
    ADMIN,
    AUTH_OFF,
    ROLES,
    Principal,
    allows,
)
from model_registry.server.store import Store, Tx
from model_registry.server.store import projects as queries
from model_registry.server.store.projects import ProjectRow, TokenRow
from model_registry.server.store.queries import now_ms
from model_registry.server.store.schema import DEFAULT_PROJECT_ID
from model_registry.server.wire import (
    check_name,
    check_text,
    custom_properties_to_rows,
    int64_from_string,
    parse_id,
    rows_to_custom_properties,
    type_error,
)

MODEL_TASKS = (
    "MODEL_TASK_REGRESSION",
    "MODEL_TASK_BINARY_CLASSIFICATION",
    "MODEL_TASK_MULTICLASS_CLASSIFICATION",
    "MODEL_TASK_NAMED_ENTITY_RECOGNITION",
    "MODEL_TASK_RANKING",
    "MODEL_TASK_OBJECT_DETECTION",
    "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE",
    "MODEL_TASK_FILL_MASK",
)
"""The values of a project's ``modelTask``."""

DEFAULT_PROJECT = "default"
"""The name of the project every database has."""

audit = logging.getLogger("model_registry.server.audit")
"""Logs who did each write (the subject, never the token)."""

CACHE_SECONDS = 0.5
"""How long a looked-up project or token is reused before it is read again."""

TOKEN_PREFIX = "mrt_"
"""The start of every issued token (32 random bytes follow, URL-safe base64)."""

_PROJECT_CREATE = frozenset({"name", "description", "modelTask", "externalId", "customProperties"})
_PROJECT_READ_ONLY = frozenset({"id", "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch"})
_TOKEN_CREATE = frozenset({"subject", "roles", "expiresTimeSinceEpoch"})

K = TypeVar("K")
V = TypeVar("V")


class _TtlCache(Generic[K, V]):
    """A small map whose entries are forgotten :data:`CACHE_SECONDS` after they were put."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: dict[K, tuple[float, V]] = {}
        self._limit = limit

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > CACHE_SECONDS:
            self._items.pop(key, None)
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if len(self._items) >= self._limit:
            self._items.clear()  # a flood of distinct keys costs queries, never memory
        self._items[key] = (time.monotonic(), value)

    def clear(self) -> None:
        self._items.clear()


class _Caches:
    """The caches every view of one service shares."""

    def __init__(self) -> None:
        self.projects: _TtlCache[tuple[str, object], ProjectRow] = _TtlCache()
        self.tokens: _TtlCache[str, TokenRow] = _TtlCache()


def project_to_wire(row: ProjectRow) -> dict[str, Any]:
    """A project as its wire dict (the public id is the UUID)."""
    v = row.values
    out: dict[str, Any] = {"id": v["uuid"], "name": v["name"]}
    for column, wire in (
        ("description", "description"),
        ("model_task", "modelTask"),
        ("external_id", "externalId"),
    ):
        if v.get(column) is not None:
            out[wire] = v[column]
    out["customProperties"] = rows_to_custom_properties(row.properties)
    out["createTimeSinceEpoch"] = str(v["create_time"])
    out["lastUpdateTimeSinceEpoch"] = str(v["update_time"])
    return out


def _is_uuid(ref: str) -> bool:
    try:
        return str(uuid.UUID(ref)) == ref.lower()
    except ValueError:
        return False


def _model_task(value: object) -> str:
    if value not in MODEL_TASKS:
        shown = value if isinstance(value, str) else repr(value)
        raise BadRequest(
            f"invalid modelTask {str(shown)[:60]!r}: must be one of {', '.join(MODEL_TASKS)}"
        )
    return str(value)


def _project_values(body: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if body.get("name") is not None:
        values["name"] = check_name(body["name"], "name")
        if values["name"] == "":
            raise BadRequest("invalid name: must not be empty")
    elif create:
        raise BadRequest("required field 'name' is missing")
    if body.get("description") is not None:
        if not isinstance(body["description"], str):
            raise type_error("description", "string", body["description"])
        values["description"] = check_text(body["description"], "description")
    if body.get("modelTask") is not None:
        values["model_task"] = _model_task(body["modelTask"])
    if body.get("externalId") is not None:
        values["external_id"] = check_name(body["externalId"], "externalId")
    return values


def _plural(label: str, count: int) -> str:
    if count == 1:
        return label
    return label[:-1] + "ies" if label.endswith("y") else label + "s"


def token_hash(secret: bytes) -> str:
    """The stored form of a token: the hex SHA-256 of its secret."""
    return hashlib.sha256(secret).hexdigest()


def _page_request(params: Mapping[str, str]) -> PageRequest:
    try:
        return PageRequest.from_query(params)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _expiry(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise type_error("expiresTimeSinceEpoch", "int64", value)
    ms = value if isinstance(value, int) else int64_from_string(value, "expiresTimeSinceEpoch")
    if ms <= now_ms():
        raise BadRequest("invalid expiresTimeSinceEpoch: the time has passed")
    return ms


class ProjectRules:
    """Who a service view acts as, in which project; projects and tokens.

    Args:
        store: The opened store.
        auth_on: Whether the server checks tokens.
    """

    def __init__(self, store: Store, *, auth_on: bool = False) -> None:
        self._store = store
        self._auth_on = auth_on
        self._caches = _Caches()
        self._principal: Principal = AUTH_OFF
        self._project_id = DEFAULT_PROJECT_ID
        self._project_name = DEFAULT_PROJECT
        self._role: str | None = ADMIN

    @property
    def principal(self) -> Principal:
        """Who this view acts as."""
        return self._principal

    @property
    def project_name(self) -> str:
        """The name of the project this view works in."""
        return self._project_name

    def _need(self, role: str) -> None:
        """Refuse (403) unless the caller has ``role`` (or more) in this view's project."""
        if not allows(self._role, role):
            raise Forbidden(
                f"permission denied: this needs the role {role!r} in project "
                f"{self._project_name!r}; {self._principal.subject!r} has "
                f"{self._role or 'no role'!s}"
            )

    # ---------------------------------------------------------------------------------------
    # principals

    async def principal_for_secret(self, secret: bytes) -> Principal | None:
        """The principal of an issued token, or None when no live token has this secret.

        The secret is hashed (SHA-256) and looked up by its hash; the stored hash is then
        compared with :func:`hmac.compare_digest`. Revoked and expired tokens are None.
        """
        digest = token_hash(secret)
        row = self._caches.tokens.get(digest)
        if row is None:

            async def body(tx: Tx) -> TokenRow | None:
                return await queries.token_by_hash(tx.executor, digest)

            found = await self._store.read(body)
            if found is None:
                return None
            row = found
            self._caches.tokens.put(digest, row)
        if row.revoked or (row.expires_time is not None and row.expires_time <= now_ms()):
            return None
        if not hmac.compare_digest(digest, token_hash(secret)):  # pragma: no cover
            return None
        return Principal(row.subject, roles=row.roles, token_id=row.id)

    def as_principal(self, principal: Principal) -> Self:
        """The view of this service for a request that names no project (project and token
        management: each of their methods checks the caller's role in the projects it
        touches). Entity writes through it are refused."""
        if principal is self._principal:
            return self
        view = copy.copy(self)
        view._principal = principal
        view._role = None
        view._project_id = 0  # no project has id 0: an entity read through it finds nothing
        view._project_name = ""
        return view

    @property
    def auth_on(self) -> bool:
        """Whether the server checks tokens (token management needs it)."""
        return self._auth_on

    @auth_on.setter
    def auth_on(self, value: bool) -> None:
        self._auth_on = value

    async def acting_as(self, principal: Principal, project: str | None) -> Self:
        """The view of this service for one request.

        Args:
            principal: Who the request runs as.
            project: The project the request names (name or id), or None: the token's
                default project (the first it was issued for), else ``default``.

        Raises:
            NotFound: The project does not exist or the caller has no role in it (the
                same answer, so existence never leaks).
        """
        if project is None or project == "":
            if principal.admin or not principal.roles:
                project_id, role = DEFAULT_PROJECT_ID, principal.role_in(DEFAULT_PROJECT_ID)
                if role is None:
                    raise NotFound(f"project {DEFAULT_PROJECT!r} not found")
                if principal is self._principal and project_id == self._project_id:
                    return self
                name = DEFAULT_PROJECT
            else:
                project_id, role = principal.roles[0]
                row = await self._project_by("id", project_id)
                if row is None:
                    raise NotFound(f"project {project_id} not found")  # pragma: no cover
                name = str(row.values["name"])
        else:
            row = await self._project_ref(project)
            role = principal.role_in(row.id) if row is not None else None
            if row is None or role is None:
                raise NotFound(f"project {project[:100]!r} not found")
            project_id, name = row.id, str(row.values["name"])
        view = copy.copy(self)
        view._principal = principal
        view._project_id = project_id
        view._project_name = name
        view._role = role
        return view

    async def _project_by(self, column: str, value: object) -> ProjectRow | None:
        key = (column, value)
        row = self._caches.projects.get(key)
        if row is None:

            async def body(tx: Tx) -> ProjectRow | None:
                return await queries.find_project(tx.executor, **{column: value})

            row = await self._store.read(body)
            if row is not None:
                self._caches.projects.put(key, row)
        return row

    async def _project_ref(self, ref: str) -> ProjectRow | None:
        """The project named by ``ref``: its id (a UUID) or its name."""
        if _is_uuid(ref):
            return await self._project_by("uuid", ref.lower())
        return await self._project_by("name", ref)

    async def _visible_project(self, ref: str) -> ProjectRow:
        row = await self._project_ref(ref)
        if row is None or self._principal.role_in(row.id) is None:
            raise NotFound(f"project {ref[:100]!r} not found")
        return row

    # ---------------------------------------------------------------------------------------
    # projects

    async def create_project(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a project (the server's admin only).

        Raises:
            BadRequest: Unknown field, bad value, unknown ``modelTask``.
            Forbidden: The caller is not the server's admin.
            Conflict: The name or external id is taken.
        """
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        for key in body:
            if key not in _PROJECT_CREATE and key not in _PROJECT_READ_ONLY:
                raise BadRequest(f'json: unknown field "{key}"')
        if not self._principal.admin:
            raise Forbidden(
                f"permission denied: creating a project needs the server's admin token; "
                f"{self._principal.subject!r} is not"
            )
        values = _project_values(body, create=True)
        props = (
            custom_properties_to_rows(body["customProperties"])
            if body.get("customProperties") is not None
            else []
        )
        stamp = now_ms()
        values.update(uuid=str(uuid.uuid4()), create_time=stamp, update_time=stamp)

        async def write(tx: Tx) -> ProjectRow:
            new_id = await queries.insert_project(tx.executor, values, props)
            row = await queries.find_project(tx.executor, id=new_id)
            assert row is not None  # inserted in this transaction
            return row

        row = await self._store.write(write)
        self._caches.projects.clear()
        return project_to_wire(row)

    async def get_project(self, project_id: str) -> dict[str, Any]:
        """A project by its id (UUID) or name, if the caller has a role in it.

        Raises:
            NotFound: No such project, or the caller has no role in it.
        """
        return project_to_wire(await self._visible_project(project_id))

    async def find_project(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A project by ``name`` or ``externalId``.

        Raises:
            BadRequest: Neither given.
            NotFound: No such project visible to the caller.
        """
        name = params.get("name") or None
        external_id = params.get("externalId") or None
        if name is None and external_id is None:
            raise BadRequest("give name or externalId to find a project")
        where: dict[str, Any] = {}
        if name is not None:
            where["name"] = check_text(name, "name")
        if external_id is not None:
            where["external_id"] = check_text(external_id, "externalId")

        async def body(tx: Tx) -> ProjectRow | None:
            return await queries.find_project(tx.executor, **where)

        row = await self._store.read(body)
        if row is None or self._principal.role_in(row.id) is None:
            raise NotFound(
                f"no projects found for name={name or ''}, externalId={external_id or ''}: "
                "not found"
            )
        return project_to_wire(row)

    async def list_projects(self, params: Mapping[str, str]) -> dict[str, Any]:
        """One page of the projects the caller has a role in.

        Raises:
            BadRequest: A bad paging parameter or token.
        """
        page = _page_request(params)
        only = self._principal.project_ids

        async def body(tx: Tx) -> tuple[list[ProjectRow], str]:
            return await queries.list_projects(tx.executor, page, only)

        try:
            rows, token = await self._store.read(body)
        except ValueError as exc:  # PageTokenError
            raise BadRequest(str(exc)) from None
        items = [project_to_wire(r) for r in rows]
        return {
            "items": items,
            "nextPageToken": token,
            "pageSize": page.page_size if page.page_size is not None else len(items),
            "size": len(items),
        }

    async def update_project(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a PATCH to a project (its ``admin`` role needed).

        Raises:
            BadRequest: Unknown field, bad value; renaming ``default``.
            NotFound: No such project visible to the caller.
            Forbidden: The caller is not an admin of the project.
            Conflict: The new name or external id is taken.
        """
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        for key in body:
            if key not in _PROJECT_CREATE and key not in _PROJECT_READ_ONLY:
                raise BadRequest(f'json: unknown field "{key}"')
        row = await self._visible_project(project_id)
        if not allows(self._principal.role_in(row.id), ADMIN):
            raise Forbidden(
                f"permission denied: this needs the role 'admin' in project "
                f"{row.values['name']!r}; {self._principal.subject!r} has "
                f"{self._principal.role_in(row.id)}"
            )
        values = _project_values(body, create=False)
        if row.id == DEFAULT_PROJECT_ID and values.get("name", DEFAULT_PROJECT) != DEFAULT_PROJECT:
            raise BadRequest("the project 'default' cannot be renamed")
        props = (
            custom_properties_to_rows(body["customProperties"])
            if body.get("customProperties") is not None
            else None
        )
        values["update_time"] = max(now_ms(), int(row.values["update_time"]) + 1)

        async def write(tx: Tx) -> ProjectRow:
            await queries.update_project(
                tx.executor, row.id, values, props, old_name=str(row.values["name"])
            )
            updated = await queries.find_project(tx.executor, id=row.id)
            assert updated is not None  # updated in this transaction
            return updated

        updated = await self._store.write(write)
        self._caches.projects.clear()
        return project_to_wire(updated)

    async def delete_project(self, project_id: str, *, cascade: bool = False) -> None:
        """Delete a project (the server's admin only). A project holding anything is refused
        unless ``cascade``, which deletes everything in it in the same transaction, with its
        change events and roles (a token left with no role is revoked).

        Raises:
            NotFound: No such project visible to the caller.
            Forbidden: The caller is not the server's admin.
            BadRequest: The project is ``default``.
            InTheWay: The project is not empty and ``cascade`` is off (409 naming what it
                holds).
        """
        row = await self._visible_project(project_id)
        name = str(row.values["name"])
        if not self._principal.admin:
            raise Forbidden(
                f"permission denied: deleting a project needs the server's admin token; "
                f"{self._principal.subject!r} is not"
            )
        if row.id == DEFAULT_PROJECT_ID:
            raise BadRequest("the project 'default' cannot be deleted")

        async def write(tx: Tx) -> dict[tuple[str, str], int]:
            held = await queries.project_contents(tx.executor, row.id)
            if held and not cascade:
                return held
            await queries.delete_project(tx.executor, row.id, name)
            return {}

        held = await self._store.write(write)
        if held:
            labels: dict[tuple[str, str], str] = {
                (k.table, k.kind): k.label for k in KINDS.values()
            }
            shown = ", ".join(
                f"{count} {_plural(labels.get(key, key[1]), count)}" for key, count in held.items()
            )
            raise InTheWay(
                f"project {name!r} is not empty: it holds {shown}; delete them first, or "
                "delete the project with cascade=true"
            )
        self._caches.projects.clear()
        self._caches.tokens.clear()
        audit.info("deleted project %r by %r", name, self._principal.subject)

    # ---------------------------------------------------------------------------------------
    # tokens

    def _require_auth(self) -> None:
        if not self._auth_on:
            raise BadRequest(
                "authentication is off: start the server with --auth-token (or "
                "--auth-token-file) to issue and manage tokens"
            )

    def _administers(self, project_id: int) -> bool:
        return allows(self._principal.role_in(project_id), ADMIN)

    async def create_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Issue a token for a subject with a role per project.

        The server's admin may issue any token; a project admin only tokens whose every
        project it administers. The secret is in this answer only (the store keeps its hash).

        Raises:
            BadRequest: Authentication is off; a bad field; an unknown role.
            NotFound: A named project does not exist or is not visible to the caller.
            Forbidden: The caller does not administer every named project.
        """
        self._require_auth()
        if not isinstance(body, Mapping):
            raise BadRequest("request body must be a JSON object")
        for key in body:
            if key not in _TOKEN_CREATE:
                raise BadRequest(f'json: unknown field "{key}"')
        subject = check_name(body.get("subject"), "subject")
        if not subject:
            raise BadRequest("invalid subject: must not be empty")
        raw_roles = body.get("roles")
        if not isinstance(raw_roles, Mapping) or not raw_roles:
            raise BadRequest('roles must be an object of at least one "<project>": "<role>"')
        roles: list[tuple[int, str]] = []
        names: dict[int, str] = {}
        for ref, role in raw_roles.items():
            if role not in ROLES:
                raise BadRequest(
                    f"invalid role {str(role)[:40]!r} for project {str(ref)[:100]!r}: must be "
                    f"one of {', '.join(ROLES)}"
                )
            row = await self._visible_project(str(ref))
            if not self._administers(row.id):
                raise Forbidden(
                    f"permission denied: issuing a token for project {row.values['name']!r} "
                    f"needs the role 'admin' there; {self._principal.subject!r} has "
                    f"{self._principal.role_in(row.id)}"
                )
            if row.id in names:
                raise BadRequest(f"project {row.values['name']!r} is named twice in roles")
            roles.append((row.id, str(role)))
            names[row.id] = str(row.values["name"])
        expires = _expiry(body.get("expiresTimeSinceEpoch"))
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        stamp = now_ms()

        async def write(tx: Tx) -> int:
            return await queries.insert_token(
                tx.executor,
                subject=subject,
                secret_hash=token_hash(secret.encode()),
                create_time=stamp,
                expires_time=expires,
                roles=roles,
            )

        token_id = await self._store.write(write)
        out = _token_to_wire(
            TokenRow(token_id, subject, stamp, expires, False, tuple(roles)), names
        )
        out["token"] = secret
        return out

    async def list_tokens(self, params: Mapping[str, str]) -> dict[str, Any]:
        """One page of the live tokens the caller may manage (never their secrets).

        A project admin sees the tokens with a role in a project it administers, so its
        pages may hold fewer than ``pageSize`` tokens before the last.

        Raises:
            BadRequest: Authentication is off; a bad paging parameter.
        """
        self._require_auth()
        page = _page_request(params)

        async def body(tx: Tx) -> tuple[list[TokenRow], str, dict[int, str]]:
            rows, token = await queries.list_tokens(tx.executor, page)
            rows = [r for r in rows if any(self._administers(p) for p, _ in r.roles)]
            ids = {p for r in rows for p, _ in r.roles}
            names = await queries.project_names(tx.executor, ids)
            return rows, token, names

        try:
            rows, token, names = await self._store.read(body)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        items = [_token_to_wire(r, names) for r in rows]
        return {
            "items": items,
            "nextPageToken": token,
            "pageSize": page.page_size if page.page_size is not None else len(items),
            "size": len(items),
        }

    async def revoke_token(self, token_id: str) -> dict[str, Any]:
        """Revoke a token: within :data:`CACHE_SECONDS` no replica accepts it any more.

        Raises:
            BadRequest: Authentication is off; a bad id.
            NotFound: No such token, or one the caller may not manage.
        """
        self._require_auth()
        ident = parse_id(token_id, "token id")

        async def write(tx: Tx) -> tuple[TokenRow | None, dict[int, str]]:
            row = await queries.token_by_id(tx.executor, ident)
            if row is None or not all(self._administers(p) for p, _ in row.roles):
                return None, {}
            await queries.revoke_token(tx.executor, ident)
            return row, await queries.project_names(tx.executor, {p for p, _ in row.roles})

        row, names = await self._store.write(write)
        if row is None:
            raise NotFound(f"token {ident} not found")
        self._caches.tokens.clear()
        return _token_to_wire(
            TokenRow(row.id, row.subject, row.create_time, row.expires_time, True, row.roles),
            names,
        )


def _token_to_wire(row: TokenRow, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "subject": row.subject,
        "roles": {names.get(p, str(p)): role for p, role in row.roles},
        "createTimeSinceEpoch": str(row.create_time),
        "expiresTimeSinceEpoch": None if row.expires_time is None else str(row.expires_time),
    }
