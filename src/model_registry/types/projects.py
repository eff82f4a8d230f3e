"""Projects, the scope every registration belongs to, and the tokens with a role in them."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

from model_registry.types.base import BaseResource

__all__ = ["MODEL_TASKS", "ROLES", "CreatedToken", "Project", "Token"]

#: The model tasks a project may name (the server refuses any other value with a 400).
MODEL_TASKS: tuple[str, ...] = (
    "MODEL_TASK_REGRESSION",
    "MODEL_TASK_BINARY_CLASSIFICATION",
    "MODEL_TASK_MULTICLASS_CLASSIFICATION",
    "MODEL_TASK_NAMED_ENTITY_RECOGNITION",
    "MODEL_TASK_RANKING",
    "MODEL_TASK_OBJECT_DETECTION",
    "MODEL_TASK_NATURAL_LANGUAGE_INFERENCE",
    "MODEL_TASK_FILL_MASK",
)


@dataclass(repr=False)
class Project(BaseResource):
    """A project: registered models, versions, artifacts, datasets, experiments and serving
    entities each belong to one, and names are unique within it.

    ``Project("fraud", model_task="MODEL_TASK_BINARY_CLASSIFICATION")``; the name is unique
    in the registry. Unlike the other entities its ``id`` is a UUID string, set by the server.
    Every registry has a project named ``default``.

    Attributes:
        name: The project's name.
        model_task: What its models do: one of :data:`MODEL_TASKS`.
    """

    name: str
    _: KW_ONLY
    model_task: str | None = None


#: The roles a token may hold in a project, each allowing what the ones before it allow.
ROLES: tuple[str, ...] = ("reader", "editor", "admin")


@dataclass
class Token:
    """An issued token, as listed: never its secret.

    Attributes:
        id: The token's id (revoke it by this id).
        subject: Who the token is for (the server logs it for each write).
        roles: Project name -> role (``reader``, ``editor`` or ``admin``); the first project is
            the token's default one.
        create_time_since_epoch: When it was issued (ms).
        expires_time_since_epoch: When it stops working (ms); ``None``: never.
    """

    id: str
    subject: str
    roles: dict[str, str] = field(default_factory=dict)
    create_time_since_epoch: int | None = None
    expires_time_since_epoch: int | None = None


@dataclass
class CreatedToken:
    """A token just issued: the only time its secret is seen.

    Attributes:
        token: The token as listed.
        secret: The bearer token itself (``Authorization: Bearer <secret>``).
    """

    token: Token
    secret: str = field(repr=False)
