"""Protobuf messages of the gRPC API <-> REST wire dicts.

The proto (``proto/model_registry/v1alpha3/model_registry.proto``) mirrors the REST schemas
field for field: a proto field ``license_link`` is the REST key ``licenseLink`` (the proto
JSON name). So the conversion is driven by the message descriptors, with a handful of typed
rules:

- int64 fields are decimal strings on the REST wire (times), except ``step``, a JSON number;
- enum values drop their type prefix (``ARTIFACT_STATE_LIVE`` -> ``LIVE``); ``ArtifactType`` is
  kebab case (``model-artifact``) and ``ParameterType`` lower case (``string``); the
  ``_UNSPECIFIED`` zero value means "absent";
- ``CustomProperties`` is the REST ``customProperties`` object of tagged ``MetadataValue``s;
- ``StringList`` is a JSON array of strings;
- ``Artifact`` is the REST artifact union, its set member named by ``artifactType``;
- a ``map<string, string>`` is a JSON object of strings.

The server's gRPC front door uses :func:`message_to_wire` / :func:`wire_to_message` to hand the
service the same dicts REST hands it. The client's domain codec
(:mod:`model_registry._convert_grpc`) builds on the enum and metadata codecs here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb

__all__ = [
    "ARTIFACT_MEMBERS",
    "EnumCodec",
    "artifact_member",
    "enum_codec",
    "enum_from_wire",
    "enum_to_wire",
    "fill_metadata",
    "message_class",
    "message_to_wire",
    "metadata_from_wire",
    "metadata_to_wire",
    "query_params",
    "wire_to_message",
]

M = TypeVar("M", bound=Message)

#: Wire ``artifactType`` -> the member of the ``Artifact`` oneof that holds that kind.
ARTIFACT_MEMBERS: Mapping[str, str] = {
    "model-artifact": "model_artifact",
    "doc-artifact": "doc_artifact",
    "dataset-artifact": "dataset_artifact",
    "metric": "metric",
    "parameter": "parameter",
}
_ARTIFACT_TYPE_OF_MEMBER = {member: kind for kind, member in ARTIFACT_MEMBERS.items()}
_ARTIFACT_DESCRIPTOR: Any = pb.Artifact.DESCRIPTOR
_ARTIFACT_TYPE_OF_MESSAGE = {
    _ARTIFACT_DESCRIPTOR.fields_by_name[member].message_type.full_name: kind
    for kind, member in ARTIFACT_MEMBERS.items()
}

# int64 fields that REST writes as JSON numbers rather than decimal strings.
_INT64_AS_NUMBER = frozenset({"step"})

# How an enum value name (without its prefix) becomes the REST value, for the enums whose REST
# values are not the upper-case names themselves.
_ENUM_STYLE: Mapping[str, Callable[[str], str]] = {
    "ArtifactType": lambda name: name.lower().replace("_", "-"),
    "ParameterType": str.lower,
}


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def _same(name: str) -> str:
    return name


class EnumCodec:
    """Proto enum numbers <-> REST strings for one enum type.

    Attributes:
        name: The proto enum type name.
        to_wire: Enum number -> REST value (no entry for the UNSPECIFIED zero value).
        from_wire: REST value -> enum number.
    """

    def __init__(self, desc: Any) -> None:
        prefix = _upper_snake(desc.name) + "_"
        style = _ENUM_STYLE.get(desc.name, _same)
        self.name = desc.name
        self.to_wire: dict[int, str] = {}
        self.from_wire: dict[str, int] = {}
        for value in desc.values:
            if value.number == 0:
                continue  # UNSPECIFIED: "absent", never a wire value
            wire = style(value.name.removeprefix(prefix))
            self.to_wire[value.number] = wire
            self.from_wire[wire] = value.number


_ENUMS: dict[str, EnumCodec] = {
    desc.name: EnumCodec(desc) for desc in pb.DESCRIPTOR.enum_types_by_name.values()
}


def enum_codec(enum_name: str) -> EnumCodec:
    """Return the codec of a proto enum type, e.g. ``"ArtifactState"``.

    Raises:
        KeyError: The proto has no enum of that name.
    """
    return _ENUMS[enum_name]


def enum_to_wire(enum_name: str, number: int) -> str | None:
    """Return the REST value of a proto enum number (``None`` for UNSPECIFIED or unknown).

    Args:
        enum_name: The proto enum type name, e.g. ``"ArtifactState"``.
        number: The enum number.
    """
    return _ENUMS[enum_name].to_wire.get(number)


def enum_from_wire(enum_name: str, value: str) -> int:
    """Return the proto enum number of a REST value.

    Raises:
        ValueError: The value is not one of the enum's REST values.
    """
    try:
        return _ENUMS[enum_name].from_wire[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a valid {enum_name}") from None


# ---------------------------------------------------------------------------------------------
# Custom property values


def metadata_to_wire(value: pb.MetadataValue) -> dict[str, Any]:
    """Return the tagged REST form of a ``MetadataValue`` (``{}`` when no member is set)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"metadataType": "MetadataStringValue", "string_value": value.string_value}
    if kind == "int_value":
        return {"metadataType": "MetadataIntValue", "int_value": str(value.int_value)}
    if kind == "double_value":
        return {"metadataType": "MetadataDoubleValue", "double_value": value.double_value}
    if kind == "bool_value":
        return {"metadataType": "MetadataBoolValue", "bool_value": value.bool_value}
    if kind == "struct_value":
        return {
            "metadataType": "MetadataStructValue",
            "struct_value": base64.b64encode(value.struct_value).decode("ascii"),
        }
    if kind == "proto_value":
        return {
            "metadataType": "MetadataProtoValue",
            "type": value.proto_value.type,
            "proto_value": base64.b64encode(value.proto_value.proto_value).decode("ascii"),
        }
    # No member set: an untagged value, which the service refuses like any malformed one.
    return {}


def metadata_from_wire(wire: Mapping[str, Any]) -> pb.MetadataValue:
    """Return the ``MetadataValue`` of a tagged REST value.

    Raises:
        ValueError: The value is not one of the tagged forms.
    """
    value = pb.MetadataValue()
    fill_metadata(value, wire)
    return value


def fill_metadata(value: pb.MetadataValue, wire: Mapping[str, Any]) -> None:
    """Set ``value`` (in place, e.g. a map entry) from a tagged REST value.

    Raises:
        ValueError: The value is not one of the tagged forms.
        KeyError: A tagged form lacks its member.
    """
    kind = wire.get("metadataType")
    if kind == "MetadataStringValue":
        value.string_value = wire["string_value"]
    elif kind == "MetadataIntValue":
        value.int_value = int(wire["int_value"])
    elif kind == "MetadataDoubleValue":
        value.double_value = wire["double_value"]
    elif kind == "MetadataBoolValue":
        value.bool_value = wire["bool_value"]
    elif kind == "MetadataStructValue":
        value.struct_value = base64.b64decode(wire["struct_value"])
    elif kind == "MetadataProtoValue":
        value.proto_value.type = wire.get("type", "")
        value.proto_value.proto_value = base64.b64decode(wire["proto_value"])
    else:
        raise ValueError(f"unknown metadataType {kind!r}")


# ---------------------------------------------------------------------------------------------
# Messages <-> REST wire dicts


def _custom_to_wire(value: pb.CustomProperties) -> dict[str, Any]:
    return {key: metadata_to_wire(v) for key, v in value.properties.items()}


def _strlist_to_wire(value: pb.StringList) -> list[str]:
    return list(value.values)


def _artifact_to_wire(value: pb.Artifact) -> dict[str, Any]:
    member = value.WhichOneof("kind")
    if member is None:
        return {}
    out = message_to_wire(getattr(value, member))
    out["artifactType"] = _ARTIFACT_TYPE_OF_MEMBER[member]
    return out


_SPECIAL_TO_WIRE: dict[str, Callable[[Any], Any]] = {
    pb.CustomProperties.DESCRIPTOR.full_name: _custom_to_wire,
    pb.StringList.DESCRIPTOR.full_name: _strlist_to_wire,
    pb.Artifact.DESCRIPTOR.full_name: _artifact_to_wire,
    pb.MetadataValue.DESCRIPTOR.full_name: metadata_to_wire,
}
# Field kinds, for filling messages from wire dicts in one loop (no per-field closures: this is
# the server's per-item path when it answers a page).
_PLAIN, _INT, _ENUM, _CUSTOM, _STRLIST, _ARTIFACT, _METADATA, _MESSAGE = range(8)
_SPECIAL_KINDS: dict[str, int] = {
    pb.CustomProperties.DESCRIPTOR.full_name: _CUSTOM,
    pb.StringList.DESCRIPTOR.full_name: _STRLIST,
    pb.Artifact.DESCRIPTOR.full_name: _ARTIFACT,
    pb.MetadataValue.DESCRIPTOR.full_name: _METADATA,
}


def _enum_to_wire(codec: EnumCodec) -> Callable[[int], str | None]:
    def to_wire(number: int) -> str | None:
        if number == 0:
            return None  # UNSPECIFIED: absent
        # A number this side does not know (proto3 enums are open) goes on as its digits, so
        # the service refuses it like any bad enum value instead of it vanishing.
        return codec.to_wire.get(number, str(number))

    return to_wire


def _identity(value: Any) -> Any:
    return value


class _FieldCodec:
    """How one field of one message type maps to its REST key and value."""

    __slots__ = (
        "enum_from",
        "is_map",
        "kind",
        "message_type",
        "name",
        "repeated",
        "to_wire",
        "wire",
    )

    def __init__(self, fd: Any) -> None:
        self.name: str = fd.name
        self.wire: str = fd.json_name
        self.kind = _PLAIN
        self.repeated = _is_repeated(fd) and not _is_map(fd)
        self.enum_from: dict[str, int] = {}
        self.message_type: Any = fd.message_type  # descriptor of a message field, else None
        to_wire: Callable[[Any], Any] = _identity
        self.is_map = _is_map(fd)
        if self.is_map:
            # map<string, string> (a registered model's aliases): a JSON object as it is.
            to_wire, self.message_type = dict, None
        elif fd.type == FieldDescriptor.TYPE_ENUM:
            codec = _ENUMS[fd.enum_type.name]
            to_wire = _enum_to_wire(codec)
            self.kind, self.enum_from = _ENUM, codec.from_wire
        elif fd.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64):
            if fd.name not in _INT64_AS_NUMBER:
                to_wire, self.kind = str, _INT
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            full_name = fd.message_type.full_name
            to_wire = _SPECIAL_TO_WIRE.get(full_name, message_to_wire)
            self.kind = _SPECIAL_KINDS.get(full_name, _MESSAGE)
        if self.repeated:
            item_to = to_wire
            self.to_wire: Callable[[Any], Any] = lambda values: [item_to(v) for v in values]
        else:
            self.to_wire = to_wire


def _is_repeated(fd: Any) -> bool:
    return bool(fd.is_repeated)


def _is_map(fd: Any) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def message_class(desc: Any) -> type[Message]:
    """Return the generated message class of a message descriptor of the registry's proto."""
    cls: type[Message] = getattr(pb, desc.name)
    return cls


class _MessageCodec:
    """Field codecs of one message type, by field number and by REST key."""

    def __init__(self, desc: Any) -> None:
        self.name: str = desc.name
        self.cls = message_class(desc)
        self.by_number: dict[int, _FieldCodec] = {}
        self.by_wire: dict[str, _FieldCodec] = {}
        for fd in desc.fields:
            codec = _FieldCodec(fd)
            self.by_number[fd.number] = codec
            self.by_wire[codec.wire] = codec


_CODECS: dict[str, _MessageCodec] = {}


def _codec(desc: Any) -> _MessageCodec:
    codec = _CODECS.get(desc.full_name)
    if codec is None:
        codec = _CODECS[desc.full_name] = _MessageCodec(desc)
    return codec


def message_to_wire(message: Message) -> dict[str, Any]:
    """Return the REST wire dict of a message: its set fields only, under their REST keys.

    An entity message gives the body REST would carry (an artifact kind also gets its
    ``artifactType``); a request message gives its parameters under their REST names
    (``pageSize``, ``filterQuery``, ...), typed as in JSON (use :func:`query_params` for
    query strings). An enum set to its UNSPECIFIED value counts as absent.
    """
    desc = message.DESCRIPTOR
    special = _SPECIAL_TO_WIRE.get(desc.full_name)
    if special is not None:
        result: dict[str, Any] = special(message)
        return result
    codec = _codec(desc)
    out: dict[str, Any] = {}
    for fd, value in message.ListFields():
        field = codec.by_number[fd.number]
        wire_value = field.to_wire(value)
        if wire_value is not None:
            out[field.wire] = wire_value
    artifact_type = _ARTIFACT_TYPE_OF_MESSAGE.get(desc.full_name)
    if artifact_type is not None:
        out["artifactType"] = artifact_type
    return out


def query_params(message: Message) -> dict[str, str]:
    """Return a request message's set fields as REST query parameters (all strings)."""
    params: dict[str, str] = {}
    for key, value in message_to_wire(message).items():
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
        else:
            params[key] = str(value)
    return params


def wire_to_message(wire: Mapping[str, Any], cls: type[M]) -> M:
    """Build a message of type ``cls`` from a REST wire dict.

    Keys the message does not have (such as ``artifactType`` on an artifact kind) and
    ``None`` values are skipped.

    Raises:
        ValueError: A value has no proto form (an unknown enum value or metadata type).
    """
    kind = _SPECIAL_KINDS.get(cls.DESCRIPTOR.full_name)
    if kind is None:
        message: M = _build(cls, wire, _codec(cls.DESCRIPTOR))
        return message
    message = cls()
    _fill_special(message, wire, kind)
    return message


def _build(make: Callable[..., Any], wire: Mapping[str, Any], codec: _MessageCodec) -> Any:
    """Make a message from ``wire``: scalar fields as constructor arguments (one call), then
    message fields filled in place (no intermediate messages to copy)."""
    by_wire = codec.by_wire
    kwargs: dict[str, Any] = {}
    nested: list[tuple[_FieldCodec, str, Any]] = []
    for key, value in wire.items():
        field = by_wire.get(key)
        if field is None or value is None:
            continue
        kind = field.kind
        try:
            if kind == _PLAIN:
                kwargs[field.name] = value
            elif kind == _INT:
                kwargs[field.name] = int(value)
            elif kind == _ENUM:
                kwargs[field.name] = field.enum_from[value]
            else:
                nested.append((field, key, value))
        except (KeyError, TypeError, ValueError) as exc:
            raise _conversion_error(codec, key, value, exc) from exc
    try:
        message = make(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{codec.name}: cannot convert {dict(wire)!r}: {exc}") from exc
    for field, key, value in nested:
        if field.kind == _CUSTOM:  # the common case, without the generic dispatch
            try:
                _fill_custom(getattr(message, field.name), value)
            except (KeyError, TypeError, ValueError) as exc:
                raise _conversion_error(codec, key, value, exc) from exc
        else:
            _fill_nested(message, field, key, value, codec)
    return message


def _fill(message: Any, wire: Mapping[str, Any], codec: _MessageCodec) -> None:
    """Set the fields of an existing ``message`` from ``wire`` in place."""
    by_wire = codec.by_wire
    for key, value in wire.items():
        field = by_wire.get(key)
        if field is None or value is None:
            continue
        kind = field.kind
        try:
            if kind == _PLAIN:
                if field.repeated:
                    getattr(message, field.name).extend(value)
                elif field.is_map:
                    getattr(message, field.name).update(value)
                else:
                    setattr(message, field.name, value)
            elif kind == _INT:
                setattr(message, field.name, int(value))
            elif kind == _ENUM:
                setattr(message, field.name, field.enum_from[value])
            else:
                _fill_nested(message, field, key, value, codec)
        except (KeyError, TypeError, ValueError) as exc:
            raise _conversion_error(codec, key, value, exc) from exc


def _fill_nested(
    message: Any, field: _FieldCodec, key: str, value: Any, codec: _MessageCodec
) -> None:
    kind = field.kind
    try:
        if not field.repeated:
            _fill_any(getattr(message, field.name), value, kind)
        elif kind == _MESSAGE:
            container = getattr(message, field.name)
            item_codec = _codec(field.message_type)
            for item in value:
                _build(container.add, item, item_codec)
        else:
            container = getattr(message, field.name)
            for item in value:
                _fill_any(container.add(), item, kind)
    except (KeyError, TypeError, ValueError) as exc:
        raise _conversion_error(codec, key, value, exc) from exc


def _conversion_error(codec: _MessageCodec, key: str, value: Any, exc: Exception) -> ValueError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueError(f"{codec.name}.{key}: cannot convert {shown}: {exc}")


def _fill_any(message: Any, wire: Any, kind: int) -> None:
    if kind == _MESSAGE:
        message.SetInParent()
        _fill(message, wire, _codec(message.DESCRIPTOR))
    else:
        _fill_special(message, wire, kind)


def _fill_custom(message: Any, wire: Mapping[str, Any]) -> None:
    message.SetInParent()  # present even when empty: an empty map clears on update
    properties = message.properties
    for key, value in wire.items():
        fill_metadata(properties[key], value)


def _fill_special(message: Any, wire: Any, kind: int) -> None:
    if kind == _CUSTOM:
        _fill_custom(message, wire)
    elif kind == _STRLIST:
        message.SetInParent()
        message.values.extend(wire)
    elif kind == _ARTIFACT:
        artifact_type = wire.get("artifactType")
        member = ARTIFACT_MEMBERS.get(artifact_type) if isinstance(artifact_type, str) else None
        if member is None:
            raise ValueError(f"unknown artifactType {artifact_type!r}")
        inner = getattr(message, member)
        inner.SetInParent()
        _fill(inner, wire, _codec(inner.DESCRIPTOR))
    else:
        fill_metadata(message, wire)


def artifact_member(message: pb.Artifact) -> Message | None:
    """Return the set member of an ``Artifact`` (the concrete kind), or ``None``."""
    member = message.WhichOneof("kind")
    if member is None:
        return None
    inner: Message = getattr(message, member)
    return inner
