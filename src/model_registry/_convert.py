"""Domain types <-> REST wire dicts <-> generated attrs models. No I/O.

One table per entity kind says, for every domain attribute, its camelCase wire key, its value
kind and when it is sent:

* ``create`` bodies carry every settable field that is not ``None``;
* ``update`` (PATCH) bodies leave out what cannot change (``name``, parent ids, ...): the server
  merges the fields present and refuses unknown ones;
* ``full`` bodies (an artifact posted to a model version or a run) also carry the ``id``.

``customProperties`` go through :mod:`model_registry.types.custom_properties`. Read-only fields
(times set by the server, an artifact's experiment ids) are only ever read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

from model_registry.exceptions import InvalidResponse
from model_registry.types import (
    Artifact,
    ArtifactState,
    BaseResource,
    CreatedToken,
    DataSet,
    DocArtifact,
    ExecutionState,
    Experiment,
    ExperimentRun,
    ExperimentRunState,
    ExperimentRunStatus,
    ExperimentState,
    InferenceService,
    InferenceServiceState,
    Metric,
    ModelArtifact,
    ModelVersion,
    ModelVersionState,
    Parameter,
    ParameterType,
    Project,
    RegisteredModel,
    RegisteredModelState,
    ServeModel,
    ServingEnvironment,
    Token,
    Webhook,
    WebhookDelivery,
)
from model_registry.types.custom_properties import (
    _INT_WIRE,
    decode_custom_properties,
    decode_value,
    encode_custom_properties,
)

__all__ = [
    "Mode",
    "artifact_from_wire",
    "from_wire",
    "page_parts",
    "to_model",
    "to_wire",
    "token_from_wire",
]

Mode = Literal["create", "update", "full"]
E = TypeVar("E", bound=BaseResource)

# When a field is sent: always (settable), on create only (cannot change), or never (read-only).
_SET, _CREATE, _RO = "set", "create", "ro"


@dataclass(frozen=True)
class _Field:
    attr: str
    wire: str
    kind: str  # "str", "ms" (int as decimal string), "int", "float", "list", or "enum"
    send: str = _SET
    enum: type[Enum] | None = None


def _f(attr: str, wire: str, kind: str = "str", send: str = _SET) -> _Field:
    return _Field(attr, wire, kind, send)


def _e(attr: str, wire: str, enum: type[Enum], send: str = _SET) -> _Field:
    return _Field(attr, wire, "enum", send, enum)


_BASE = (
    _f("description", "description"),
    _f("external_id", "externalId"),
    _f("create_time_since_epoch", "createTimeSinceEpoch", "ms", _RO),
    _f("last_update_time_since_epoch", "lastUpdateTimeSinceEpoch", "ms", _RO),
)
_ARTIFACT = (
    *_BASE,
    _f("name", "name", send=_CREATE),
    _f("uri", "uri"),
    _e("state", "state", ArtifactState),
    _f("experiment_id", "experimentId", send=_RO),
    _f("experiment_run_id", "experimentRunId", send=_RO),
)

_FIELDS: dict[type[BaseResource], tuple[_Field, ...]] = {
    RegisteredModel: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("owner", "owner"),
        _e("state", "state", RegisteredModelState),
        _f("readme", "readme"),
        _f("maturity", "maturity"),
        _f("language", "language", "list"),
        _f("tasks", "tasks", "list"),
        _f("provider", "provider"),
        _f("logo", "logo"),
        _f("license", "license"),
        _f("license_link", "licenseLink"),
        _f("library_name", "libraryName"),
        _f("aliases", "aliases", "map", _RO),
    ),
    ModelVersion: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("author", "author"),
        _e("state", "state", ModelVersionState),
        _f("registered_model_id", "registeredModelId", send=_CREATE),
        _f("aliases", "aliases", "list", _RO),
    ),
    Experiment: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("owner", "owner"),
        _e("state", "state", ExperimentState),
    ),
    ExperimentRun: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("experiment_id", "experimentId", send=_CREATE),
        _f("owner", "owner"),
        _e("status", "status", ExperimentRunStatus),
        _e("state", "state", ExperimentRunState),
        _f("start_time_since_epoch", "startTimeSinceEpoch", "ms", _CREATE),
        _f("end_time_since_epoch", "endTimeSinceEpoch", "ms"),
    ),
    ServingEnvironment: (*_BASE, _f("name", "name", send=_CREATE)),
    Project: (*_BASE, _f("name", "name", send=_CREATE), _f("model_task", "modelTask")),
    InferenceService: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("registered_model_id", "registeredModelId", send=_CREATE),
        _f("serving_environment_id", "servingEnvironmentId", send=_CREATE),
        _f("model_version_id", "modelVersionId"),
        _f("runtime", "runtime"),
        _e("desired_state", "desiredState", InferenceServiceState),
    ),
    ServeModel: (
        *_BASE,
        _f("name", "name", send=_CREATE),
        _f("model_version_id", "modelVersionId", send=_CREATE),
        _e("last_known_state", "lastKnownState", ExecutionState),
    ),
    ModelArtifact: (
        *_ARTIFACT,
        _f("model_format_name", "modelFormatName"),
        _f("model_format_version", "modelFormatVersion"),
        _f("storage_key", "storageKey"),
        _f("storage_path", "storagePath"),
        _f("service_account_name", "serviceAccountName"),
        _f("model_source_kind", "modelSourceKind"),
        _f("model_source_class", "modelSourceClass"),
        _f("model_source_group", "modelSourceGroup"),
        _f("model_source_id", "modelSourceId"),
        _f("model_source_name", "modelSourceName"),
    ),
    DocArtifact: _ARTIFACT,
    DataSet: (
        *_ARTIFACT,
        _f("digest", "digest"),
        _f("source_type", "sourceType"),
        _f("source", "source"),
        _f("schema", "schema"),
        _f("profile", "profile"),
    ),
    Metric: (
        *_ARTIFACT,
        _f("value", "value", "float"),
        _f("timestamp", "timestamp", "ms"),
        _f("step", "step", "int"),
    ),
    Parameter: (
        *_ARTIFACT,
        _f("value", "value"),
        _e("parameter_type", "parameterType", ParameterType),
    ),
}

#: Artifact class by its wire ``artifactType``.
ARTIFACT_CLASSES: dict[str, type[Artifact]] = {
    cls.artifact_type.value: cls for cls in (ModelArtifact, DocArtifact, DataSet, Metric, Parameter)
}


def _fields_of(cls: type[BaseResource]) -> tuple[_Field, ...]:
    try:
        return _FIELDS[cls]
    except KeyError:
        for base, fields in _FIELDS.items():
            if issubclass(cls, base):
                return fields
        raise TypeError(f"{cls.__name__} is not a registry entity type") from None


def _encode(field: _Field, value: Any) -> Any:
    if field.kind == "ms":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{field.attr} must be an int (ms since epoch), got {value!r}")
        return str(int(value))
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field.attr} must be an int, got {value!r}")
        return value
    if field.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{field.attr} must be a number, got {value!r}")
        return float(value)
    if field.kind == "enum":
        assert field.enum is not None
        try:
            return field.enum(value).value
        except ValueError:
            choices = ", ".join(str(m.value) for m in field.enum)
            raise ValueError(f"{field.attr} must be one of {choices}, got {value!r}") from None
    if field.kind == "list":
        return [str(item) for item in value]
    return str(value)


def to_wire(entity: BaseResource, mode: Mode = "create") -> dict[str, Any]:
    """Build the REST JSON body for ``entity``.

    Args:
        entity: A domain entity.
        mode: ``"create"``, ``"update"`` (PATCH: no name or parent ids) or ``"full"`` (an
            artifact posted to a parent: with its ``id``).

    Returns:
        A JSON-ready dict with camelCase keys.

    Raises:
        ValueError: A value has no wire form (e.g. an int custom property out of range).
    """
    body: dict[str, Any] = {}
    if isinstance(entity, Artifact):
        body["artifactType"] = entity.artifact_type.value
    if mode == "full" and entity.id is not None:
        body["id"] = str(entity.id)
    for field in _fields_of(type(entity)):
        if field.send == _RO or (field.send == _CREATE and mode == "update"):
            continue
        value = getattr(entity, field.attr)
        if value is None:
            continue
        body[field.wire] = _encode(field, value)
    props = encode_custom_properties(entity.custom_properties)
    # On update the map is always sent: it replaces the stored one, so {} clears it. A "full"
    # body (linking an artifact to a parent) sends it only when there is something to set, so
    # linking a bare ``DocArtifact(id=...)`` does not wipe the stored properties.
    if props or mode == "update":
        body["customProperties"] = props
    return body


# -- wire -> domain ------------------------------------------------------------------------
#
# Decoding a page runs the per-item code 1,000 times, so each entity class gets a plan built
# once (``_Decoder``): its fields as (wire key, attribute, reader) with the reader picked by kind
# up front, and the facts about the class (does it need a name?) computed once. The readers raise
# TypeError/ValueError on a malformed value; the decoder turns that into InvalidResponse naming the
# entity, built only on that error path. What decodes a page is the plan compiled into one
# function (``_compile_decoder``), which hands anything unusual back to the plan.


def _read_int(value: Any) -> int:
    if value is True or value is False:  # bool is an int subclass: refuse it
        raise ValueError
    return int(value)


def _read_float(value: Any) -> float:
    if value is True or value is False:
        raise ValueError
    return float(value)


def _read_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError
    return [str(item) for item in value]


def _read_str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _enum_reader(enum: type[Enum]) -> Callable[[Any], Enum]:
    members = enum._value2member_map_

    def read(value: Any) -> Enum:
        # The same first step as ``enum(value)``; anything else (unknown, unhashable) takes the
        # full lookup, which gives the same result or error as before.
        try:
            return members[value]
        except (KeyError, TypeError):
            return enum(value)

    return read


def _read_map(value: Any) -> dict[str, str]:
    """A JSON object of strings (a registered model's aliases)."""
    if not isinstance(value, Mapping):
        raise TypeError(value)
    return {str(k): str(v) for k, v in value.items()}


_READERS: dict[str, Callable[[Any], Any]] = {
    "ms": _read_int,
    "int": _read_int,
    "float": _read_float,
    "list": _read_list,
    "map": _read_map,
}  # "str" has no entry: the decoder reads it inline


def _decode_properties(wire: Any) -> dict[str, Any]:
    """``decode_custom_properties`` with a fast path for the common plain string and int values.

    A value the fast path does not take (other kinds, malformed ones) goes through
    ``decode_value``, so results and errors are those of the shared codec.
    """
    if wire is None:
        return {}
    if type(wire) is not dict:
        return decode_custom_properties(wire)
    out: dict[str, Any] = {}
    for key, tagged in wire.items():
        key = key if type(key) is str else str(key)
        if type(tagged) is dict:
            kind = tagged.get("metadataType")
            if kind == "MetadataStringValue":
                value = tagged.get("string_value")
                if type(value) is str:
                    out[key] = value
                    continue
            elif kind == "MetadataIntValue":
                value = tagged.get("int_value")
                if type(value) is str and _INT_WIRE.match(value):
                    out[key] = int(value)
                    continue
        out[key] = decode_value(key, tagged)
    return out


class _Decoder(Generic[E]):
    """The REST JSON object -> ``cls`` plan of one entity class (see above)."""

    __slots__ = ("cls", "fields", "needs_name")

    def __init__(self, cls: type[E]) -> None:
        self.cls = cls
        self.fields = tuple(
            (
                f.wire,
                f.attr,
                _enum_reader(f.enum) if f.kind == "enum" and f.enum else _READERS.get(f.kind),
                f,
            )
            for f in _fields_of(cls)
        )
        self.needs_name = not issubclass(
            cls, Artifact | ExperimentRun | InferenceService | ServeModel
        )

    def __call__(self, data: Any) -> E:
        cls = self.cls
        if type(data) is not dict and not isinstance(data, Mapping):
            raise InvalidResponse(f"expected a {cls.__name__} object, got {type(data).__name__}")
        get = data.get
        kwargs: dict[str, Any] = {}
        raw_id = get("id")
        if raw_id is not None:
            kwargs["id"] = str(raw_id)
        for wire, attr, read, field in self.fields:
            value = get(wire)
            if value is None:
                continue
            if read is None:  # a "str" field: most values are already str
                kwargs[attr] = value if type(value) is str else _read_str(value)
            else:
                try:
                    kwargs[attr] = read(value)
                except (TypeError, ValueError):
                    raise InvalidResponse(
                        f"{self._where(raw_id)}: malformed {field.wire} {value!r} from the server"
                    ) from None
        try:
            kwargs["custom_properties"] = _decode_properties(get("customProperties"))
        except InvalidResponse as exc:
            raise InvalidResponse(f"{self._where(raw_id)}: {exc}") from None
        if self.needs_name and "name" not in kwargs:
            raise InvalidResponse(f"{self._where(raw_id)}: the server sent no name")
        return cls(**kwargs)

    def _where(self, raw_id: Any) -> str:
        name = self.cls.__name__
        return name if raw_id is None else f"{name} {raw_id}"


def _compile_decoder(plan: _Decoder[E]) -> Callable[[Any], E]:
    """The plan of ``plan.cls`` as one straight-line function, for the values servers send.

    Compiled once per class, as ``dataclasses`` compiles ``__init__``: every field read by
    name into a local, and the instance made by ``object.__new__`` with its fields set in
    declaration order (what the class's ``__init__`` does, without the call and its keyword
    dict): a page of 1,000 versions converts in about half the time of the plan's loop. Any
    value it does not take as sent (a type or enum value the plan would convert, a malformed
    one, a missing name) hands the whole object to the plan, which gives the result or error
    it always gave.
    """
    cls = plan.cls
    namespace: dict[str, Any] = {
        "slow": plan,
        "new": object.__new__,
        "cls": cls,
        "props": _decode_properties,
        "read_str": _read_str,
        "read_int": _read_int,
        "read_float": _read_float,
        "read_list": _read_list,
        "read_map": _read_map,
    }
    read = {"id": "None if (x := get('id')) is None else (x if type(x) is str else str(x))"}
    for *_, field in plan.fields:
        some = f"(x := get({field.wire!r})) is None"
        if field.kind == "str":
            value = "x if type(x) is str else read_str(x)"
        elif field.kind in ("ms", "int"):
            value = "int(x) if type(x) is str else read_int(x)"
        elif field.kind == "float":
            value = "x if type(x) is float else read_float(x)"
        elif field.kind == "enum":
            assert field.enum is not None
            namespace[f"m_{field.attr}"] = field.enum._value2member_map_
            value = f"m_{field.attr}[x]"  # KeyError, TypeError: the plan's full lookup
        else:
            value = f"read_{field.kind}(x)"
        read[field.attr] = f"None if {some} else ({value})"
    read["custom_properties"] = "props(get('customProperties'))"
    fields = dataclasses.fields(cls)
    if not _compiles(cls) or any(f.name not in read for f in fields):
        return plan
    body = [f"        a_{attr} = {expression}" for attr, expression in read.items()]
    required = {f.name for f in fields if f.default is f.default_factory is dataclasses.MISSING}
    for attr in sorted(required | ({"name"} if plan.needs_name else set())):
        body.append(f"        if a_{attr} is None:\n            return slow(data)")
    init = []
    for f in fields:
        if f.default_factory is not dataclasses.MISSING:
            namespace[f"d_{f.name}"] = f.default_factory
            factory: Any = f.default_factory
            default = {list: "[]", dict: "{}"}.get(factory, f"d_{f.name}()")
            init.append(f"    o.{f.name} = {default} if (x := a_{f.name}) is None else x")
        elif f.default is not None and f.default is not dataclasses.MISSING:
            namespace[f"d_{f.name}"] = f.default
            init.append(f"    o.{f.name} = d_{f.name} if (x := a_{f.name}) is None else x")
        else:
            init.append(f"    o.{f.name} = a_{f.name}")
    source = "\n".join(
        [
            "def decode(data):",
            "    if type(data) is not dict:",
            "        return slow(data)",
            "    get = data.get",
            "    try:",
            *body,
            "    except (TypeError, ValueError, KeyError):",
            "        return slow(data)",
            "    o = new(cls)",
            *init,
            "    return o",
        ]
    )
    # The source is built above from the class's own field table, nothing from outside.
    exec(source, namespace)
    decode: Callable[[Any], E] = namespace["decode"]
    return decode


def _compiles(cls: type[Any]) -> bool:
    """Whether the instance ``__init__`` would build is one :func:`_compile_decoder` can set."""
    params = getattr(cls, "__dataclass_params__", None)
    return (
        params is not None
        and not params.frozen
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and all(f.init for f in dataclasses.fields(cls))
    )


_DECODERS: dict[type[BaseResource], Callable[[Any], Any]] = {}


def _decoder(cls: type[E]) -> Callable[[Any], E]:
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = _compile_decoder(_Decoder(cls))
    return decoder


def from_wire(cls: type[E], data: Any) -> E:
    """Build a domain entity of class ``cls`` from a REST JSON object.

    Unknown wire keys are ignored (a newer server may add fields).

    Raises:
        InvalidResponse: The object or one of its values is malformed (the message names it).
        TypeError: ``cls`` is not a registry entity type.
    """
    return _decoder(cls)(data)


def artifact_from_wire(data: Any) -> Artifact:
    """Build the artifact subclass named by ``artifactType`` from a REST JSON object."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise InvalidResponse(f"expected an artifact object, got {type(data).__name__}")
    kind = data.get("artifactType")
    cls = ARTIFACT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidResponse(f"artifact {data.get('id')}: unknown artifactType {kind!r}")
    return _decoder(cls)(data)


def decoder_for(cls: type[Any]) -> Callable[[Any], Any]:
    """The wire decoder for domain class ``cls`` (artifact base class: by ``artifactType``)."""
    special = _OTHER_DECODERS.get(cls)
    return special if special is not None else _decoder(cls)


def page_parts(data: Any) -> tuple[list[Any], str, int | None]:
    """Split a REST list object into its raw items, next page token and page size.

    The items are left as wire objects, so a caller can act on the token (ask for the next
    page) before it converts them.

    Raises:
        InvalidResponse: ``data`` is not a list object with an ``items`` array.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("items", []), list):
        raise InvalidResponse("expected a list object with an items array from the server")
    page_size = data.get("pageSize")
    return (
        data.get("items") or [],
        str(data.get("nextPageToken") or ""),
        int(page_size) if isinstance(page_size, int | str) and page_size != "" else None,
    )


def to_model(
    model_cls: Any, entity: BaseResource, mode: Mode = "create", *, step_as_string: bool = False
) -> Any:
    """Build the generated attrs model ``model_cls`` (e.g. ``RegisteredModelCreate``) for
    ``entity``.

    Args:
        model_cls: The generated model class.
        entity: The domain entity.
        mode: As for :func:`to_wire`.
        step_as_string: Send ``Metric.step`` as a decimal string (REST API v1) instead of a
            JSON integer (v1alpha3); the domain type keeps it an int either way.
    """
    body = to_wire(entity, mode)
    if step_as_string and body.get("step") is not None:
        body["step"] = str(body["step"])
    return model_cls.from_dict(body)


def token_from_wire(data: Any) -> Token:
    """Build a :class:`~model_registry.types.Token` from a REST token object (its secret, if
    any, is left out).

    Raises:
        InvalidResponse: The object is malformed.
    """
    if not isinstance(data, Mapping):
        raise InvalidResponse(f"expected a token object, got {type(data).__name__}")
    token_id, subject, roles = data.get("id"), data.get("subject"), data.get("roles") or {}
    if token_id is None or not isinstance(subject, str) or not isinstance(roles, Mapping):
        raise InvalidResponse(f"malformed token object from the server: {dict(data)!r}")
    try:
        created, expires = (
            None if data.get(key) is None else _read_int(data[key])
            for key in ("createTimeSinceEpoch", "expiresTimeSinceEpoch")
        )
    except (TypeError, ValueError):
        raise InvalidResponse(f"token {token_id}: malformed time from the server") from None
    return Token(
        str(token_id),
        subject,
        {str(project): str(role) for project, role in roles.items()},
        create_time_since_epoch=created,
        expires_time_since_epoch=expires,
    )


def created_token_from_wire(data: Any) -> CreatedToken:
    """Build a :class:`~model_registry.types.CreatedToken` (a token with its secret)."""
    secret = data.get("token") if isinstance(data, Mapping) else None
    if not isinstance(secret, str) or not secret:
        raise InvalidResponse("the server's answer to creating a token holds no token")
    return CreatedToken(token_from_wire(data), secret)


def webhook_from_wire(data: Any) -> Webhook:
    """Build a :class:`~model_registry.types.Webhook` from a REST webhook object.

    Raises:
        InvalidResponse: The object is malformed.
    """
    try:
        last = data.get("lastDelivery") or {}
        return Webhook(
            str(data["id"]),
            str(data["url"]),
            [str(e) for e in data.get("events") or []],
            data.get("description"),
            _optional_int(data.get("createTimeSinceEpoch")),
            None if data.get("cursor") is None else str(data["cursor"]),
            last.get("status"),
            _optional_int(last.get("timeSinceEpoch")),
            last.get("error"),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise InvalidResponse(f"malformed webhook object from the server: {data!r}") from None


def webhook_delivery_from_wire(data: Any) -> WebhookDelivery:
    """Build a :class:`~model_registry.types.WebhookDelivery` from a REST delivery object.

    Raises:
        InvalidResponse: The object is malformed.
    """
    try:
        return WebhookDelivery(
            str(data["id"]),
            str(data["webhookId"]),
            str(data["cursor"]),
            str(data["eventType"]),
            _read_int(data["timeSinceEpoch"]),
            _read_int(data["attempts"]),
            str(data["status"]),
            _optional_int(data.get("httpStatus")),
            data.get("error"),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise InvalidResponse(f"malformed webhook delivery from the server: {data!r}") from None


def _optional_int(value: Any) -> int | None:
    return None if value is None else _read_int(value)


_OTHER_DECODERS: dict[type[Any], Callable[[Any], Any]] = {
    Artifact: artifact_from_wire,
    Token: token_from_wire,
    CreatedToken: created_token_from_wire,
    Webhook: webhook_from_wire,
    WebhookDelivery: webhook_delivery_from_wire,
}
