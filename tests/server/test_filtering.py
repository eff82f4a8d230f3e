"""filterQuery: parser, renderer and SQL compiler, run against real databases.

The compile tests execute compiled filters on SQLite (always) and PostgreSQL (when
MR_TEST_DATABASE_URL is set) over a tiny entity table plus a custom-property table, through a small
resolver written here the way the store writes its own.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    create_engine,
    exists,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

from model_registry.server.filtering import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_WILDCARDS,
    VALUE_TYPES,
    And,
    Comparison,
    FilterError,
    Node,
    Op,
    Or,
    PropertyRef,
    Scalar,
    Value,
    ValueType,
    parse_filter,
    render_filter,
)
from model_registry.server.store.filters import KnownField, build_filter, compile_filter

# ------------------------------------------------------------------------------------------
# Parser: the examples of COMPAT.md


def cmp(name: str, op: Any, value: Value, value_type: ValueType | None = None) -> Comparison:
    return Comparison(PropertyRef(name, value_type), op, value)


def typed(node: Node | Value) -> Any:
    """A view of an AST where 1, 1.0 and True differ (dataclass equality conflates them)."""
    if isinstance(node, Comparison):
        return ("cmp", node.prop, node.op, typed(node.value))
    if isinstance(node, (And, Or)):
        return (type(node).__name__, tuple(typed(i) for i in node.items))
    if isinstance(node, tuple):
        return tuple(typed(v) for v in node)
    return (type(node).__name__, node)


def test_and_of_two_equalities_with_single_quotes() -> None:
    assert typed(parse_filter("name='my-model' AND state='LIVE'")) == typed(
        And((cmp("name", "=", "my-model"), cmp("state", "=", "LIVE")))
    )


def test_float_literal_comparison_on_custom_property() -> None:
    assert typed(parse_filter("accuracy > 0.95")) == typed(cmp("accuracy", ">", 0.95))


def test_parenthesised_or_inside_and() -> None:
    node = parse_filter('(name="a" OR name="b") AND state="LIVE"')
    expected = And((Or((cmp("name", "=", "a"), cmp("name", "=", "b"))), cmp("state", "=", "LIVE")))
    assert typed(node) == typed(expected)


def test_value_type_suffix_is_split_from_the_name() -> None:
    node = parse_filter('framework.string_value = "pytorch"')
    assert typed(node) == typed(cmp("framework", "=", "pytorch", "string_value"))


def test_backquoted_dotted_name_is_one_property() -> None:
    node = parse_filter('`mlflow.source.type` = "notebook"')
    assert typed(node) == typed(cmp("mlflow.source.type", "=", "notebook"))


def test_in_list_and_like() -> None:
    node = parse_filter("experimentRunId IN ('12','15') AND name LIKE \"%acc%\"")
    expected = And((cmp("experimentRunId", "IN", ("12", "15")), cmp("name", "LIKE", "%acc%")))
    assert typed(node) == typed(expected)


def test_dotted_name_without_suffix_is_a_dotted_custom_name() -> None:
    assert typed(parse_filter("a.b = 1")) == typed(cmp("a.b", "=", 1))
    assert typed(parse_filter("a.b.c.int_value >= -3")) == typed(
        cmp("a.b.c", ">=", -3, "int_value")
    )


def test_backquoted_name_may_carry_a_suffix() -> None:
    node = parse_filter("`my prop`.double_value < 2")
    assert typed(node) == typed(cmp("my prop", "<", 2, "double_value"))


def test_literal_types() -> None:
    values = [
        ("'x'", ("str", "x")),
        ('"x"', ("str", "x")),
        ("12", ("int", 12)),
        ("-12", ("int", -12)),
        ("1.5", ("float", 1.5)),
        ("2e3", ("float", 2000.0)),
        ("-1.5E-2", ("float", -0.015)),
        ("true", ("bool", True)),
        ("FALSE", ("bool", False)),
    ]
    for literal, expected in values:
        node = parse_filter(f"p = {literal}")
        assert isinstance(node, Comparison)
        assert typed(node.value) == expected, literal


def test_string_escapes() -> None:
    node = parse_filter(r'p = "a\"b\\c\nd" OR q = ' + r"'it\'s' OR r LIKE '50\%'")
    assert isinstance(node, Or)
    assert [c.value for c in node.items if isinstance(c, Comparison)] == [
        'a"b\\c\nd',
        "it's",
        "50\\%",  # unknown escapes keep their backslash: LIKE sees an escaped "%"
    ]


def test_and_binds_tighter_than_or() -> None:
    node = parse_filter("a=1 OR b=2 AND c=3 OR d=4")
    expected = Or((cmp("a", "=", 1), And((cmp("b", "=", 2), cmp("c", "=", 3))), cmp("d", "=", 4)))
    assert typed(node) == typed(expected)


def test_parentheses_override_precedence() -> None:
    node = parse_filter("(a=1 OR b=2) AND (c=3 OR d=4)")
    expected = And(
        (Or((cmp("a", "=", 1), cmp("b", "=", 2))), Or((cmp("c", "=", 3), cmp("d", "=", 4))))
    )
    assert typed(node) == typed(expected)


def test_redundant_parentheses_disappear() -> None:
    assert typed(parse_filter("((( a = 1 )))")) == typed(cmp("a", "=", 1))


def test_keywords_are_case_insensitive() -> None:
    node = parse_filter("a = 1 and b like 'x' Or c iN (1) aNd d ILike 'y' or e = TrUe")
    expected = Or(
        (
            And((cmp("a", "=", 1), cmp("b", "LIKE", "x"))),
            And((cmp("c", "IN", (1,)), cmp("d", "ILIKE", "y"))),
            cmp("e", "=", True),
        )
    )
    assert typed(node) == typed(expected)


def test_every_operator_is_recognised_and_diamond_means_not_equal() -> None:
    for text_op, op in [
        ("=", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
        ("LIKE", "LIKE"),
        ("ILIKE", "ILIKE"),
    ]:
        assert typed(parse_filter(f"p {text_op} 'v'")) == typed(cmp("p", op, "v")), text_op


def test_whitespace_is_optional_around_symbols() -> None:
    assert typed(parse_filter("a<=1")) == typed(cmp("a", "<=", 1))
    assert typed(parse_filter("x IN(1,2)")) == typed(cmp("x", "IN", (1, 2)))
    assert typed(parse_filter("\ta\n=\r\n'v'  ")) == typed(cmp("a", "=", "v"))


def test_comparison_remembers_its_column() -> None:
    node = parse_filter("a = 1 AND  bee = 2")
    assert isinstance(node, And)
    assert [c.column for c in node.items if isinstance(c, Comparison)] == [1, 12]


# ------------------------------------------------------------------------------------------
# Parser: errors name the token and its column


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x' AND AND", 'unexpected token "AND" at column 16'),
        ("name = 'x' AND", "unexpected end of input at column 15"),
        ("AND name = 'x'", 'unexpected token "AND" at column 1'),
        ("name == 'x'", 'unknown operator "==" at column 6'),
        ("name CONTAINS 'x'", 'unknown operator "CONTAINS" at column 6'),
        ("name ~ 'x'", 'unexpected character "~" at column 6'),
        ("name = 'x", "unterminated string starting at column 8"),
        ('name = "x\\"', "unterminated string starting at column 8"),
        ("`name = 1", "unterminated quoted name starting at column 1"),
        ("`  ` = 1", "empty quoted name at column 1"),
        ("id IN ()", "empty IN list at column 8"),
        ("id IN 1", 'unexpected token "1" at column 7'),
        ("id IN (1,)", 'unexpected token ")" at column 10'),
        ("id = (1, 2)", "a list value needs the IN operator at column 6"),
        ("a = 1 b = 2", 'unexpected token "b" at column 7'),
        ("a = 1)", 'unexpected token ")" at column 6'),
        ("(a = 1", "unexpected end of input at column 7"),
        ("()", 'unexpected token ")" at column 2'),
        ("a = 1 OR", "unexpected end of input at column 9"),
        ("a = 1 OR OR b = 1", 'unexpected token "OR" at column 10'),
        ("a =", "unexpected end of input at column 4"),
        ("a", "unexpected end of input at column 2"),
        ("= 1", 'unexpected token "=" at column 1'),
        ("a = b", 'unexpected token "b" at column 5'),
        ("a = 12abc", 'invalid number "12abc" at column 5'),
        ("a = 1.2.3", 'invalid number "1.2.3" at column 5'),
        ("a = 99999999999999999999", 'integer "99999999999999999999" out of range at column 5'),
        ("a = 1e999", 'number "1e999" out of range at column 5'),
        ("a.foo_value. = 1", 'unexpected token "=" at column 14'),
        ("`a`.b = 1", 'unexpected token "b" at column 5'),
        ("a.string_value.b = 1", 'unexpected token "." at column 15'),
        ("in = 1", 'unexpected token "in" at column 1'),
        ("é = 1", 'unexpected character "é" at column 1'),
        ("a\x01 = 1", 'unexpected character "\\u0001" at column 2'),
        # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8) never reach the database
        ("a = 'x\x00'", 'unexpected character "\\u0000" at column 7'),
        ("`a\udcff` = 1", 'unexpected character "\\udcff" at column 3'),
    ],
)
def test_syntax_errors_name_token_and_column(text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert str(info.value) == f"filterQuery: {message}"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_filter_is_an_error_for_the_parser(text: str) -> None:
    with pytest.raises(FilterError, match="empty filter"):
        parse_filter(text)


def test_filter_error_is_a_value_error() -> None:
    assert issubclass(FilterError, ValueError)


def test_overlong_input_is_refused_before_parsing() -> None:
    text = "a = '" + "x" * MAX_FILTER_LENGTH + "'"
    with pytest.raises(FilterError, match=f"longer than {MAX_FILTER_LENGTH} characters"):
        parse_filter(text)


def test_nesting_is_bounded() -> None:
    ok = "(" * MAX_DEPTH + "a = 1" + ")" * MAX_DEPTH
    assert typed(parse_filter(ok)) == typed(cmp("a", "=", 1))
    too_deep = "(" * (MAX_DEPTH + 1) + "a = 1" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(FilterError, match=f"nesting deeper than {MAX_DEPTH} at column 33"):
        parse_filter(too_deep)


def test_hostile_nesting_within_the_length_limit_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match="nesting deeper"):
        parse_filter("(" * (MAX_FILTER_LENGTH - 10) + "a=1")


def test_number_of_comparisons_is_bounded() -> None:
    ok = " OR ".join(["a=1"] * MAX_COMPARISONS)
    assert isinstance(parse_filter(ok), Or)
    with pytest.raises(FilterError, match=f"more than {MAX_COMPARISONS} comparisons"):
        parse_filter(ok + " OR a=1")


@pytest.mark.parametrize("op", ["LIKE", "ILIKE"])
def test_wildcards_in_a_pattern_are_bounded_and_the_refusal_names_the_limit(op: str) -> None:
    at_limit = "%" + "a_" * (MAX_PATTERN_WILDCARDS - 1)
    assert isinstance(parse_filter(f"description {op} '{at_limit}'"), Comparison)
    with pytest.raises(FilterError, match=f"at most {MAX_PATTERN_WILDCARDS} "):
        parse_filter(f"description {op} '{at_limit}_b'")


@pytest.mark.parametrize("op", ["LIKE", "ILIKE"])
def test_a_pattern_longer_than_the_limit_is_refused_naming_the_limit(op: str) -> None:
    at_limit = "%" + "a" * (MAX_PATTERN_LENGTH - 1)
    assert isinstance(parse_filter(f"name {op} '{at_limit}'"), Comparison)
    with pytest.raises(FilterError, match=f"at most {MAX_PATTERN_LENGTH} are allowed"):
        parse_filter(f"name {op} '{at_limit}b'")


def test_the_pattern_length_limit_leaves_equality_on_long_texts_alone() -> None:
    assert isinstance(parse_filter(f"description = '{'a' * 1000}'"), Comparison)


def test_escaped_wildcards_do_not_count_against_the_limit() -> None:
    escaped = "\\\\%" * (MAX_PATTERN_WILDCARDS + 5) + "%"
    assert isinstance(parse_filter(f"name LIKE '{escaped}'"), Comparison)


# ------------------------------------------------------------------------------------------
# Property tests: render/parse round trip, garbage never escapes as anything but FilterError

# Text the filter language can carry: no NUL (refused before it reaches a database).
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_NAMES = st.one_of(
    _IDENT,
    st.lists(_IDENT, min_size=2, max_size=4).map(".".join),
    _TEXT.filter(lambda s: bool(s.strip()) and "`" not in s),
    st.sampled_from(["and", "Or.x", "in", "true", "a.string_value", "x.int_value.y", "LIKE"]),
)
_SCALARS: st.SearchStrategy[Scalar] = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
_SCALAR_OPS: st.SearchStrategy[Op] = st.sampled_from(
    ["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE"]
)


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    prop = PropertyRef(draw(_NAMES), draw(st.one_of(st.none(), st.sampled_from(VALUE_TYPES))))
    if draw(st.booleans()):
        return Comparison(prop, "IN", tuple(draw(st.lists(_SCALARS, min_size=1, max_size=4))))
    return Comparison(prop, draw(_SCALAR_OPS), draw(_SCALARS))


_NODES: st.SearchStrategy[Node] = st.recursive(
    _comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_NODES)
def test_rendered_ast_parses_back_to_the_same_ast(node: Node) -> None:
    assert typed(parse_filter(render_filter(node))) == typed(node)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_raises_only_filter_error(text: str) -> None:
    with contextlib.suppress(FilterError):
        parse_filter(text)


_FILTER_ALPHABET = st.sampled_from(
    [*"abAB_.`'\"()=!<> ,-0123456789e\\", "AND", "OR", "IN", "LIKE", "true", " "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FILTER_ALPHABET, max_size=40).map("".join))
def test_filter_shaped_garbage_raises_only_filter_error(text: str) -> None:
    try:
        node = parse_filter(text)
    except FilterError:
        return
    # Whatever parses also renders and parses back unchanged.
    assert typed(parse_filter(render_filter(node))) == typed(node)


@settings(max_examples=100, deadline=None)
@given(_NODES, st.data())
def test_mutated_filters_raise_only_filter_error(node: Node, data: st.DataObject) -> None:
    text_ = render_filter(node)
    pos = data.draw(st.integers(min_value=0, max_value=len(text_)))
    cut = data.draw(st.integers(min_value=0, max_value=3))
    insert = data.draw(st.sampled_from(["", "(", ")", "'", '"', "`", "AND ", " OR", ",", "=", "x"]))
    with contextlib.suppress(FilterError):
        parse_filter(text_[:pos] + insert + text_[pos + cut :])


# ------------------------------------------------------------------------------------------
# Compiler against real databases

metadata = MetaData()
models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("owner", String(255)),
    Column("create_time", Integer, nullable=False),
    Column("score", Float),
    Column("active", Boolean),
    Column("run_id", Integer),
)
props = Table(
    "props",
    metadata,
    Column("entity_id", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("string_value", String(255)),
    Column("int_value", Integer),
    Column("double_value", Float),
    Column("bool_value", Boolean),
)


class Resolver:
    """Resolves the test table's fields the way the store resolves an entity's."""

    FIELDS = {
        "id": KnownField(models.c.id, "int"),
        "name": KnownField(models.c.name, "str"),
        "state": KnownField(models.c.state, "enum", ("LIVE", "ARCHIVED")),
        "owner": KnownField(models.c.owner, "str"),
        "createTimeSinceEpoch": KnownField(models.c.create_time, "time"),
        "score": KnownField(models.c.score, "double"),
        "active": KnownField(models.c.active, "bool"),
        "experimentRunId": KnownField(models.c.run_id, "int"),
    }

    def __init__(self) -> None:
        self.custom_calls: list[tuple[str, str]] = []

    def known(self, name: str) -> KnownField | None:
        return self.FIELDS.get(name)

    def custom(
        self,
        name: str,
        value_type: ValueType,
        condition: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    ) -> ColumnElement[bool]:
        self.custom_calls.append((name, value_type))
        return exists().where(
            props.c.entity_id == models.c.id,
            props.c.name == name,
            condition(props.c[value_type]),
        )

    def custom_row(
        self,
        name: str,
        value_type: ValueType,
        condition: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    ) -> ColumnElement[bool]:
        self.custom_calls.append((name, value_type))
        return and_(props.c.name == name, condition(props.c[value_type]))

    def custom_all(self, rows: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        met = [func.max(case((row, 1), else_=0)) == 1 for row in rows]
        return exists(
            select(props.c.entity_id)
            .where(props.c.entity_id == models.c.id)
            .group_by(props.c.entity_id)
            .having(and_(*met))
        )


MODELS = [
    dict(id=1, name="my-model", state="LIVE", owner="alice", create_time=1000, score=0.5,
         active=True, run_id=12),
    dict(id=2, name="acc-model", state="LIVE", owner=None, create_time=2000, score=0.9,
         active=False, run_id=15),
    dict(id=3, name="a", state="ARCHIVED", owner="bob", create_time=3000, score=None,
         active=None, run_id=12),
    dict(id=4, name="b", state="LIVE", owner="Alice", create_time=4000, score=1.0,
         active=True, run_id=None),
    dict(id=12, name="ACCURATE", state="LIVE", owner="carol", create_time=5000, score=2.5,
         active=False, run_id=99),
    dict(id=15, name="50%_off", state="ARCHIVED", owner="dave", create_time=6000, score=-1.0,
         active=True, run_id=15),
]  # fmt: skip


def _prop(entity_id: int, name: str, value_type: str, value: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(VALUE_TYPES)
    row.update(entity_id=entity_id, name=name)
    row[value_type] = value
    return row


PROPS = [
    _prop(1, "accuracy", "double_value", 0.97),
    _prop(1, "framework", "string_value", "pytorch"),
    _prop(1, "mlflow.source.type", "string_value", "notebook"),
    _prop(1, "epochs", "int_value", 10),
    _prop(1, "reviewed", "bool_value", True),
    _prop(2, "accuracy", "double_value", 0.90),
    _prop(2, "framework", "string_value", "tensorflow"),
    _prop(2, "epochs", "double_value", 10.0),
    _prop(2, "reviewed", "bool_value", False),
    _prop(2, "a.b", "string_value", "dotted"),
    _prop(3, "accuracy", "int_value", 1),
    _prop(3, "framework", "string_value", "PyTorch"),
    _prop(3, "mlflow.source.type", "string_value", "job"),
    _prop(4, "epochs", "string_value", "10"),
    _prop(4, "state", "string_value", "custom-state"),
]


@pytest.fixture
async def db(scratch_engine: AsyncEngine) -> AsyncEngine:
    """The test tables, filled, on a fresh SQLite database or a fresh PostgreSQL schema."""
    async with scratch_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(models.insert(), MODELS)
        await conn.execute(props.insert(), PROPS)
    return scratch_engine


async def matching_ids(engine: AsyncEngine, filter_text: str) -> list[int]:
    condition = build_filter(filter_text, Resolver())
    assert condition is not None
    async with engine.connect() as conn:
        result = await conn.execute(select(models.c.id).where(condition).order_by(models.c.id))
        return [row[0] for row in result]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        # COMPAT.md examples
        ("name='my-model' AND state='LIVE'", [1]),
        ("accuracy > 0.95", [1]),
        ('(name="a" OR name="b") AND state="LIVE"', [4]),
        ('framework.string_value = "pytorch"', [1]),
        ('`mlflow.source.type` = "notebook"', [1]),
        ("experimentRunId IN ('12','15') AND name LIKE \"%acc%\"", [2]),
        # known fields, literals coerced to the field kind
        ("id = 12", [12]),
        ("id = '12'", [12]),
        ("id IN ('12', 15, 3)", [3, 12, 15]),
        ("id > 3 AND id <= '12'", [4, 12]),
        ("createTimeSinceEpoch >= '3000' AND createTimeSinceEpoch < 6000", [3, 4, 12]),
        ("score > 0.5", [2, 4, 12]),
        ("score >= 1", [4, 12]),
        ("score < '0'", [15]),
        ("active = true", [1, 4, 15]),
        ("active != TRUE", [2, 12]),
        ("active = 'false'", [2, 12]),
        ("state = 'ARCHIVED'", [3, 15]),
        ("state <> 'ARCHIVED'", [1, 2, 4, 12]),
        ("state != 'ARCHIVED'", [1, 2, 4, 12]),
        ("state IN ('LIVE')", [1, 2, 4, 12]),
        ("owner = 'alice'", [1]),
        ("owner > 'b'", [3, 12, 15]),
        ("name = 'nothing'", []),
        # LIKE is case-sensitive on every backend, ILIKE is not
        ("name LIKE 'acc%'", [2]),
        ("name LIKE 'ACC%'", [12]),
        ("name ILIKE 'acc%'", [2, 12]),
        ("owner ILIKE 'ALICE'", [1, 4]),
        ("name LIKE '_'", [3, 4]),
        ("name LIKE '50\\%\\_%'", [15]),
        ("name LIKE '%\\_%'", [15]),
        ("name LIKE '%[a]%'", []),
        ("name LIKE '*'", []),
        # custom properties: value type from the literal or the suffix
        ("framework = 'pytorch'", [1]),
        ("framework LIKE '%torch'", [1]),
        ("framework LIKE '%orch'", [1, 3]),
        ("framework ILIKE '%TORCH'", [1, 3]),
        ("framework != 'pytorch'", [2, 3]),
        ("epochs = 10", [1, 2]),
        ("epochs = 10.0", [2]),
        ("epochs.int_value = 10", [1]),
        ("epochs.int_value = '10'", [1]),
        ("epochs.double_value = 10", [2]),
        ("epochs.string_value = 10", [4]),
        ("epochs = '10'", [4]),
        ("accuracy >= 0.9", [1, 2]),
        ("accuracy >= 0.9 OR accuracy = 1", [1, 2, 3]),
        ("accuracy IN (1, 0.97)", [1, 3]),
        ("accuracy IN (1, 2)", [3]),
        ("accuracy IN (1.0, 0.97)", [1]),
        ("epochs IN (10, 0.5)", [1, 2]),
        ("reviewed = true", [1]),
        ("reviewed = false", [2]),
        ("reviewed.bool_value = 'true'", [1]),
        ("framework IN ('pytorch', 'tensorflow')", [1, 2]),
        ("a.b = 'dotted'", [2]),
        ("`a.b` = 'dotted'", [2]),
        ("`state`.string_value = 'custom-state'", [4]),
        ("missing = 1", []),
        # integers beyond 32 bits compare (rather than overflow the driver) on every backend
        ("id = 99999999999", []),
        ("id != 99999999999", [1, 2, 3, 4, 12, 15]),
        ("id IN (1, 99999999999)", [1]),
        ("id < 9223372036854775807 AND id > -9223372036854775808", [1, 2, 3, 4, 12, 15]),
        ("createTimeSinceEpoch < '99999999999'", [1, 2, 3, 4, 12, 15]),
        ("epochs = 99999999999", []),
        ("epochs IN (10, 99999999999)", [1, 2]),
        ("score < 1e300 AND accuracy > -1e300", [1, 2]),
        # combinations
        ("state = 'LIVE' AND (framework = 'pytorch' OR framework = 'tensorflow')", [1, 2]),
        ("state = 'LIVE' AND framework = 'pytorch' OR id = 15", [1, 15]),
        ("(id = 1 OR id = 2) AND (epochs = 10 AND accuracy > 0.95)", [1]),
    ],
)
async def test_compiled_filter_selects_the_right_rows(
    db: AsyncEngine, filter_text: str, expected: list[int]
) -> None:
    assert await matching_ids(db, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "message"),
    [
        ("id = 'abc'", 'id cannot be compared with "abc" at column 1'),
        ("id = 1.5", "id cannot be compared with 1.5 at column 1"),
        ("id = true", "id cannot be compared with true at column 1"),
        ("id IN (1, 'x')", 'id cannot be compared with "x" at column 1'),
        ("id = '99999999999999999999'", "id cannot be compared with"),
        ("createTimeSinceEpoch > '2024-01-01'", "createTimeSinceEpoch cannot be compared"),
        ("score = 'high'", 'score cannot be compared with "high"'),
        ("active = 1", "active cannot be compared with 1"),
        ("name = 1.5", "name cannot be compared with 1.5"),
        ("name = true", "name cannot be compared with true"),
        ("id LIKE '1%'", "LIKE needs a string property, id is not at column 1"),
        ("name LIKE 1", "LIKE needs a string pattern at column 1"),
        ("name LIKE 'x\\\\'", "LIKE pattern ends with an escape character"),
        ("active > true", "operator > does not apply to active"),
        ("state < 'LIVE'", "operator < does not apply to state"),
        ("state = 'live'", 'state is one of LIVE, ARCHIVED, not "live" at column 1'),
        ("x = 1 AND  state IN ('LIVE', 'GONE')", 'not "GONE" at column 12'),
        ("accuracy LIKE 1", "LIKE needs a string property, accuracy.int_value is not"),
        ("flag > true", "operator > does not apply to flag.bool_value"),
        ("p IN ('a', 1)", "IN list mixes literal types at column 1"),
        ("p IN (true, 1)", "IN list mixes literal types"),
        ("p.int_value = 'x'", 'p.int_value cannot be compared with "x"'),
        ("p.int_value = 1.5", "p.int_value cannot be compared with 1.5"),
        ("p.double_value = 'x'", 'p.double_value cannot be compared with "x"'),
        ("p.double_value = 'nan'", 'p.double_value cannot be compared with "nan"'),
        ("p.bool_value = 1", "p.bool_value cannot be compared with 1"),
        ("p.string_value = 1.5", "p.string_value cannot be compared with 1.5"),
    ],
)
def test_literals_that_do_not_fit_are_filter_errors(filter_text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        build_filter(filter_text, Resolver())
    assert str(info.value).startswith("filterQuery: ")
    assert message in str(info.value)


def test_blank_filter_builds_no_condition() -> None:
    for blank in (None, "", "   \n"):
        assert build_filter(blank, Resolver()) is None


def test_integer_literal_on_custom_property_asks_for_int_and_double() -> None:
    resolver = Resolver()
    compile_filter(parse_filter("epochs = 3"), resolver)
    assert resolver.custom_calls == [("epochs", "int_value"), ("epochs", "double_value")]


def test_value_type_of_custom_property_follows_literal_or_suffix() -> None:
    resolver = Resolver()
    compile_filter(
        parse_filter("s = 'x' AND d = 1.5 AND b = false AND i.int_value = 2 AND `x y` IN (1.5, 2)"),
        resolver,
    )
    assert resolver.custom_calls == [
        ("s", "string_value"),
        ("d", "double_value"),
        ("b", "bool_value"),
        ("i", "int_value"),
        ("x y", "int_value"),  # the integers of a mixed numeric list also match int_value
        ("x y", "double_value"),
    ]


def test_suffix_forces_a_custom_property_even_for_a_field_name() -> None:
    resolver = Resolver()
    compile_filter(parse_filter("name.string_value = 'x'"), resolver)
    assert resolver.custom_calls == [("name", "string_value")]


def test_literals_are_bound_parameters_never_sql_text() -> None:
    hostile = "x'; DROP TABLE models; --"
    node = parse_filter(
        f'name = "{hostile}" OR framework LIKE "{hostile}" OR owner ILIKE "{hostile}" '
        f"OR id IN (1, 2) OR score > 0.5"
    )
    stmt = select(models.c.id).where(compile_filter(node, Resolver()))
    dialects: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]
    for dialect in dialects:
        compiled = stmt.compile(dialect=dialect)
        sql = str(compiled)
        assert "DROP" not in sql
        assert "0.5" not in sql
        values = list(compiled.params.values())
        assert hostile in values
        assert 0.5 in values


def _worst_case_filters() -> list[str]:
    """Filters at the parser's limits: they must run, not trip database limits."""
    many_custom_ints = " OR ".join(f"p{i % 7} = {i}" for i in range(MAX_COMPARISONS))
    deep = "a = 1"
    for level in range(MAX_DEPTH):
        joiner = "AND" if level % 2 else "OR"
        deep = f"(epochs = {level} {joiner} {deep})"
    long_in = "id IN (" + ",".join(str(i) for i in range(1, 900)) + ")"
    long_custom_in = "epochs IN (" + ",".join(str(i) for i in range(1, 900)) + ")"
    return [many_custom_ints, deep, long_in, long_custom_in]


@pytest.mark.parametrize("index", range(4), ids=["ors", "nesting", "in-list", "custom-in-list"])
async def test_filters_at_the_limits_execute(db: AsyncEngine, index: int) -> None:
    filter_text = _worst_case_filters()[index]
    assert len(filter_text) <= MAX_FILTER_LENGTH
    ids = await matching_ids(db, filter_text)
    assert ids == ([1, 2, 3, 4, 12, 15] if index == 2 else [1, 2] if index == 3 else [])


async def test_hostile_literal_matches_nothing_and_harms_nothing(db: AsyncEngine) -> None:
    assert await matching_ids(db, "name = 'x\\'; DROP TABLE models; --'") == []
    assert await matching_ids(db, "id > 0") == [1, 2, 3, 4, 12, 15]


# ------------------------------------------------------------------------------------------
# Property test: compiled SQL agrees with a Python evaluation of the same AST (SQLite)


@pytest.fixture(scope="module")
def sync_sqlite() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(models.insert(), MODELS)
        conn.execute(props.insert(), PROPS)
    yield engine
    engine.dispose()


def _like_regex(pattern: str, flags: int) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), flags | re.DOTALL)


def _holds(actual: Any, op: str, value: Any) -> bool:
    if actual is None:
        return False
    if op == "IN":
        return any(actual == v for v in value)
    if op in ("LIKE", "ILIKE"):
        flags = re.IGNORECASE if op == "ILIKE" else 0
        return _like_regex(value, flags).fullmatch(actual) is not None
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return ops[op](actual, value)


_PY_TYPES = {"string_value": str, "int_value": int, "double_value": float, "bool_value": bool}


def _evaluate(node: Node, row: dict[str, Any]) -> bool:
    """What a filter means, written independently of the compiler (for the test's fields)."""
    if isinstance(node, And):
        return all(_evaluate(i, row) for i in node.items)
    if isinstance(node, Or):
        return any(_evaluate(i, row) for i in node.items)
    column = {"id": "id", "name": "name", "owner": "owner", "score": "score"}
    if node.prop.value_type is None and node.prop.name in column:
        return _holds(row[column[node.prop.name]], node.op, node.value)
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if node.prop.value_type is not None:
        types = [node.prop.value_type]
    elif all(isinstance(v, str) for v in values):
        types = ["string_value"]
    else:
        # An integer literal matches int_value or double_value; a float only double_value.
        types = ["int_value", "double_value"]
    for p in PROPS:
        if p["entity_id"] != row["id"] or p["name"] != node.prop.name:
            continue
        for vt in types:
            value = node.value
            if vt == "int_value" and node.prop.value_type is None:
                ints = tuple(v for v in values if type(v) is int)
                if not ints:
                    continue
                value = ints if isinstance(node.value, tuple) else ints[0]
            if p[vt] is not None and _holds(p[vt], node.op, value):
                return True
    return False


_ALPHA = "acmoy%_-ACM"
_EVAL_STRINGS = st.text(alphabet=_ALPHA, max_size=6) | st.sampled_from(
    ["pytorch", "%orch", "my-model", "acc%", "%", "a", "b", "tensorflow", "%_%", "50\\%%"]
)


@st.composite
def _eval_comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from(["id", "name", "owner", "score", "custom_str", "custom_num"]))
    if kind == "id":
        ints = st.integers(min_value=-1, max_value=16)
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN"]))
        value: Value = (
            tuple(draw(st.lists(ints, min_size=1, max_size=3))) if op == "IN" else draw(ints)
        )
        return cmp("id", op, value)
    if kind in ("name", "owner", "custom_str"):
        name = kind if kind != "custom_str" else draw(st.sampled_from(["framework", "a.b", "x"]))
        op = draw(st.sampled_from(["=", "!=", "<", ">=", "LIKE", "ILIKE", "IN"]))
        if op == "IN":
            value = tuple(draw(st.lists(_EVAL_STRINGS, min_size=1, max_size=3)))
        else:
            value = draw(_EVAL_STRINGS)
        return cmp(name, op, value)
    nums = st.sampled_from([0, 1, 10, -1]) | st.sampled_from([0.5, 0.9, 0.97, 1.0, 2.5, 10.0])
    name = "score" if kind == "score" else draw(st.sampled_from(["accuracy", "epochs"]))
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN"]))
    value = tuple(draw(st.lists(nums, min_size=1, max_size=3))) if op == "IN" else draw(nums)
    suffixes: list[ValueType | None] = [None, None, "int_value", "double_value"]
    vt = None if name == "score" else draw(st.sampled_from(suffixes))
    if vt == "int_value":
        value = tuple(int(v) for v in value) if isinstance(value, tuple) else int(value)
    return cmp(name, op, value, vt)


_EVAL_NODES: st.SearchStrategy[Node] = st.recursive(
    _eval_comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EVAL_NODES)
def test_compiled_filter_agrees_with_python_semantics(sync_sqlite: Engine, node: Node) -> None:
    try:
        condition = compile_filter(node, Resolver())
    except FilterError as exc:
        # Only one refusal is possible here: a LIKE pattern ending in a lone backslash.
        assert "escape character" in str(exc)
        assume(False)
        return
    with sync_sqlite.connect() as conn:
        got = [
            r[0] for r in conn.execute(select(models.c.id).where(condition).order_by(models.c.id))
        ]
    want = [row["id"] for row in MODELS if _evaluate(node, row)]
    assert got == want, render_filter(node)


def test_python_semantics_helper_agrees_on_a_known_case() -> None:
    # Guards the oracle itself: a float IN list on a numeric custom property.
    node = parse_filter("accuracy IN (1, 0.97)")
    assert [row["id"] for row in MODELS if _evaluate(node, row)] == [1, 3]


def test_render_refuses_what_the_parser_would_refuse() -> None:
    for node in (cmp("a`b", "=", 1), cmp("a", "=", "x\x00"), cmp("a\x00", "=", 1)):
        with pytest.raises(FilterError, match="cannot be written"):
            render_filter(node)
