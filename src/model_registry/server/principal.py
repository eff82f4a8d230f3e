"""Who a request runs as: a subject with a role per project (pure, no I/O).

The auth layer (:mod:`model_registry.server.auth`) resolves a :class:`Principal` once per
request from its token; the service (:meth:`RegistryService.acting_as
<model_registry.server.service.RegistryService.acting_as>`) turns it and the selected project
into the scope of every statement it issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

READER: Final = "reader"
EDITOR: Final = "editor"
ADMIN: Final = "admin"
ROLES: Final = (READER, EDITOR, ADMIN)
"""The roles of a token in a project, each allowing what the ones before it allow."""

_RANK = {role: i for i, role in enumerate(ROLES)}


def allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` allows what ``needed`` allows (None: no role at all)."""
    return role is not None and _RANK[role] >= _RANK[needed]


@dataclass(frozen=True)
class Principal:
    """The caller of one request.

    Attributes:
        subject: Who the caller is (a token's subject; ``admin`` for the server's admin
            tokens, ``anonymous`` with auth off). Logged for every write.
        admin: The server's admin token (or auth off): every role in every project.
        roles: ``(project internal id, role)`` of an issued token, in the order given; the
            first is the token's default project.
        token_id: The issued token's id (None for the admin token and auth off).
    """

    subject: str
    admin: bool = False
    roles: tuple[tuple[int, str], ...] = ()
    token_id: int | None = None

    def role_in(self, project_id: int) -> str | None:
        """The caller's role in a project, or None when it has none."""
        if self.admin:
            return ADMIN
        for project, role in self.roles:
            if project == project_id:
                return role
        return None

    @property
    def project_ids(self) -> tuple[int, ...] | None:
        """The projects the caller has a role in (None: every project)."""
        if self.admin:
            return None
        return tuple(p for p, _ in self.roles)


AUTH_OFF = Principal("anonymous", admin=True)
"""The principal of every request when authentication is off."""

SERVER_ADMIN = Principal("admin", admin=True)
"""The principal of the server's admin tokens (``--auth-token``, ``--auth-token-file``)."""
