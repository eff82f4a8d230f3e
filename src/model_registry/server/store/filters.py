"""The SQL half of ``filterQuery``: a parsed filter compiled into a SQLAlchemy condition.

:func:`~model_registry.server.filtering.parse_filter` gives the AST (the language and its
meaning are described there); :func:`compile_filter` turns it into a boolean expression through
a :class:`PropertyResolver` the store supplies (:mod:`.statements`), binding every literal as a
parameter. :func:`build_filter` does both. Every problem is a
:class:`~model_registry.server.filtering.FilterError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import BigInteger, Boolean, and_, bindparam, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from model_registry.server.filtering import (
    INT64_MAX,
    INT64_MIN,
    And,
    Comparison,
    FieldKind,
    Node,
    Op,
    Scalar,
    Value,
    ValueType,
    filter_error,
    parse_filter,
    render_scalar,
)

__all__ = ["KnownField", "PropertyResolver", "build_filter", "compile_filter"]


@dataclass(frozen=True)
class KnownField:
    """An entity's own field that a filter may name.

    Attributes:
        column: The column (or column expression) holding the field.
        kind: How literals are coerced: ``int`` (ids), ``time`` (epoch milliseconds, integers),
            ``str``, ``enum`` (a string with a closed set of values), ``bool``, ``double``.
        values: For ``enum``: the allowed values; a literal outside them is a FilterError.
        related: For a field of related rows (a version's aliases): turns the condition on
            ``column`` into the entity's condition (an EXISTS over those rows).
    """

    column: ColumnElement[Any]
    kind: FieldKind
    values: tuple[str, ...] | None = None
    related: Callable[[ColumnElement[bool]], ColumnElement[bool]] | None = None


class PropertyResolver(Protocol):
    """What the store tells the compiler about one entity kind."""

    def known(self, name: str) -> KnownField | None:
        """Return the field called ``name``, or ``None`` when it is a custom property."""
        ...

    def custom(
        self,
        name: str,
        value_type: ValueType,
        condition: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    ) -> ColumnElement[bool]:
        """Return EXISTS(custom property ``name`` whose ``value_type`` column meets condition)."""
        ...

    def custom_row(
        self,
        name: str,
        value_type: ValueType,
        condition: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    ) -> ColumnElement[bool]:
        """Return the condition on one property row: named ``name``, its ``value_type``
        column meeting ``condition`` (for :meth:`custom_all`)."""
        ...

    def custom_all(self, rows: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        """Return: for each of ``rows``, the entity has a property row meeting it (ANDed
        custom-property comparisons, as one subquery whose cost grows with their number)."""
        ...


_KIND_OF_VALUE_TYPE: dict[ValueType, FieldKind] = {
    "string_value": "str",
    "int_value": "int",
    "double_value": "double",
    "bool_value": "bool",
}
_INT_RE = re.compile(r"-?[0-9]{1,19}")


class _CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern`` that is case-sensitive on every backend.

    PostgreSQL's LIKE is case-sensitive; SQLite's is not (for ASCII), so on SQLite the pattern
    is translated to an equivalent GLOB, which is. ``\\`` escapes ``%``/``_`` on both.
    """

    # Statements holding this element are not cached; correctness over a cache hit.
    inherit_cache = False
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.column = column
        self.pattern = pattern

    @property
    def _from_objects(self) -> Any:
        return self.column._from_objects


@compiles(_CaseSensitiveLike)
def _compile_like_default(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    like = element.column.like(element.pattern, escape="\\")
    return "(" + compiler.process(like, **kw) + ")"


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    glob = element.column.op("GLOB", is_comparison=True)(_like_to_glob(element.pattern))
    return "(" + compiler.process(glob, **kw) + ")"


def _like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (escape ``\\``) into the SQLite GLOB pattern matching the same."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            literal = pattern[i + 1]
            out.append(f"[{literal}]" if literal in "*?[" else literal)
            i += 2
            continue
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _where(c: Comparison) -> str:
    return f" at column {c.column}" if c.column else ""


def _coerce(c: Comparison, value: Scalar, kind: FieldKind, what: str) -> Scalar:
    """Coerce one literal to the Python type matching ``kind``."""
    bad = filter_error(f"{what} cannot be compared with {render_scalar(value)}{_where(c)}")
    if kind in ("int", "time"):
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not value.is_integer():
                raise bad
            value = int(value)
        elif _INT_RE.fullmatch(value.strip()):
            value = int(value.strip())
        else:
            raise bad
        if not INT64_MIN <= value <= INT64_MAX:
            raise bad
        return value
    if kind == "double":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            return float(value)
        try:
            result = float(value)
        except ValueError:
            raise bad from None
        if not math.isfinite(result):
            raise bad
        return result
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    # str / enum
    if isinstance(value, (bool, float)):
        raise bad
    return str(value)


_ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
_LIKE_OPS = frozenset({"LIKE", "ILIKE"})


def _check_op(c: Comparison, kind: FieldKind, what: str) -> None:
    if c.op in _LIKE_OPS and kind not in ("str", "enum"):
        raise filter_error(f"{c.op} needs a string property, {what} is not{_where(c)}")
    if c.op in _ORDERING_OPS and kind in ("bool", "enum"):
        raise filter_error(f"operator {c.op} does not apply to {what}{_where(c)}")


def _coerced(c: Comparison, kind: FieldKind, what: str) -> Value:
    _check_op(c, kind, what)
    if isinstance(c.value, tuple):
        return tuple(_coerce(c, v, kind, what) for v in c.value)
    if c.op in _LIKE_OPS:
        if not isinstance(c.value, str):
            raise filter_error(f"{c.op} needs a string pattern{_where(c)}")
        if re.search(r"(?<!\\)(\\\\)*\\$", c.value):
            raise filter_error(f"{c.op} pattern ends with an escape character{_where(c)}")
    return _coerce(c, c.value, kind, what)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _condition(op: Op, value: Value) -> Callable[[ColumnElement[Any]], ColumnElement[bool]]:
    """The comparison as a function of the column it applies to; every value is bound."""

    def apply(col: ColumnElement[Any]) -> ColumnElement[bool]:
        if isinstance(value, tuple):
            if all(_is_int(v) for v in value):
                return col.in_(bindparam(None, list(value), expanding=True, type_=BigInteger()))
            return col.in_(list(value))
        # Integers bind as BIGINT: bound with an INTEGER column's type, PostgreSQL drivers refuse
        # values beyond 32 bits instead of comparing them.
        bound: object = literal(value, BigInteger()) if _is_int(value) else value
        if op == "=":
            return col == bound
        if op == "!=":
            return col != bound
        if op == "<":
            return col < bound
        if op == "<=":
            return col <= bound
        if op == ">":
            return col > bound
        if op == ">=":
            return col >= bound
        if op == "LIKE":
            return _CaseSensitiveLike(col, str(value))
        if op == "ILIKE":
            return col.ilike(str(value), escape="\\")
        raise AssertionError(op)  # pragma: no cover - the parser admits no other operator

    return apply


def _inferred(c: Comparison) -> list[tuple[ValueType, Comparison]]:
    """The (value type, comparison) pairs a custom property without a suffix is matched on.

    A string literal means ``string_value``, a float ``double_value``, a bool ``bool_value``;
    an integer literal matches an ``int_value`` or a ``double_value`` of that value. In an ``IN``
    list mixing integers and floats, ``int_value`` is matched against the integers only.
    """
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if all(isinstance(v, str) for v in values):
        return [("string_value", c)]
    if all(isinstance(v, bool) for v in values):
        return [("bool_value", c)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        ints = tuple(v for v in values if isinstance(v, int))
        pairs: list[tuple[ValueType, Comparison]] = []
        if ints:
            int_value: Value = ints if isinstance(c.value, tuple) else ints[0]
            pairs.append(("int_value", replace(c, value=int_value)))
        pairs.append(("double_value", c))
        return pairs
    raise filter_error(f"IN list mixes literal types{_where(c)}")


def _custom_pairs(c: Comparison, resolver: PropertyResolver) -> list[tuple[ValueType, Any]] | None:
    """The (value type, condition) a custom-property comparison is matched on; None for a
    comparison on one of the entity's own fields."""
    prop = c.prop
    if prop.value_type is None:
        if resolver.known(prop.name) is not None:
            return None
        pairs = _inferred(c)
    else:
        pairs = [(prop.value_type, c)]
    return [
        (vt, _condition(cc.op, _coerced(cc, _KIND_OF_VALUE_TYPE[vt], f"{prop.name}.{vt}")))
        for vt, cc in pairs
    ]


def _custom_row(c: Comparison, resolver: PropertyResolver) -> ColumnElement[bool] | None:
    """The property-row condition of a custom-property comparison (None for a field)."""
    pairs = _custom_pairs(c, resolver)
    if pairs is None:
        return None
    rows = [resolver.custom_row(c.prop.name, vt, cond) for vt, cond in pairs]
    return rows[0] if len(rows) == 1 else or_(*rows)


def _compile_comparison(c: Comparison, resolver: PropertyResolver) -> ColumnElement[bool]:
    prop = c.prop
    if prop.value_type is None:
        known = resolver.known(prop.name)
        if known is not None:
            value = _coerced(c, known.kind, prop.name)
            if known.kind == "enum" and known.values is not None:
                for v in value if isinstance(value, tuple) else (value,):
                    if c.op not in _LIKE_OPS and v not in known.values:
                        allowed = ", ".join(known.values)
                        raise filter_error(
                            f"{prop.name} is one of {allowed}, not {render_scalar(v)}{_where(c)}"
                        )
            condition = _condition(c.op, value)(known.column)
            return condition if known.related is None else known.related(condition)
    pairs = _custom_pairs(c, resolver)
    assert pairs is not None  # not a known field
    conditions = [resolver.custom(prop.name, vt, condition) for vt, condition in pairs]
    return conditions[0] if len(conditions) == 1 else or_(*conditions)


def compile_filter(node: Node, resolver: PropertyResolver) -> ColumnElement[bool]:
    """Compile an AST into a SQLAlchemy boolean expression.

    Known fields compare on their column with the literal coerced to the field kind; any other
    name is a custom property matched through ``resolver.custom``.

    Args:
        node: The root node from :func:`parse_filter`.
        resolver: Maps property names to columns / custom-property conditions.

    Returns:
        The WHERE condition; every literal is a bound parameter.

    Raises:
        FilterError: A literal that does not fit the property or operator.
    """
    if isinstance(node, Comparison):
        return _compile_comparison(node, resolver)
    if isinstance(node, And):
        # ANDed custom-property comparisons become ONE subquery over the entity's property
        # rows: an EXISTS each lets PostgreSQL plan them as as many joins, a planning cost
        # that grows much faster than their number (200 took half a minute).
        customs: list[tuple[Comparison, ColumnElement[bool]]] = []
        parts: list[ColumnElement[bool]] = []
        for item in node.items:
            row = _custom_row(item, resolver) if isinstance(item, Comparison) else None
            if row is not None:
                assert isinstance(item, Comparison)
                customs.append((item, row))
            else:
                parts.append(compile_filter(item, resolver))
        if len(customs) == 1:
            parts.append(_compile_comparison(customs[0][0], resolver))
        elif customs:
            parts.append(resolver.custom_all([row for _, row in customs]))
        return and_(*parts)
    return or_(*(compile_filter(item, resolver) for item in node.items))


def build_filter(text: str | None, resolver: PropertyResolver) -> ColumnElement[bool] | None:
    """Parse and compile ``text``; ``None`` when there is no filter.

    Args:
        text: The raw ``filterQuery`` parameter (``None``, empty or blank means no filter).
        resolver: Maps property names to columns / custom-property conditions.

    Returns:
        The WHERE condition, or ``None``.

    Raises:
        FilterError: Any parse or compile error.
    """
    if text is None or not text.strip():
        return None
    return compile_filter(parse_filter(text), resolver)
