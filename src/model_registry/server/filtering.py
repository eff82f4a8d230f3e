"""The ``filterQuery`` language of every list endpoint: parser, AST and renderer.

Grammar (keywords are case-insensitive)::

    or    := and ("OR" and)*
    and   := term ("AND" term)*
    term  := "(" or ")" | prop OP value
    OP    := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE | IN
    prop  := `quoted name` ["." suffix] | ident ("." ident)* ["." suffix]
    suffix:= string_value | double_value | int_value | bool_value
    value := 'str' | "str" | int | float | true | false | "(" value ("," value)* ")"

:func:`parse_filter` turns text into an immutable AST (:class:`Comparison`, :class:`And`,
:class:`Or`); the store compiles the AST into SQL (:mod:`model_registry.server.store.filters`).
Every problem is a :class:`FilterError` (a ``ValueError``) whose message names the offending
token and its 1-based column, so the REST layer can answer 400.

Meaning, where the grammar leaves it open:

- Strings take backslash escapes ``\\n \\t \\r \\\\ \\' \\"``; any other escape keeps its
  backslash, so ``name LIKE "50\\%"`` reaches LIKE as an escaped ``%``. ``\\`` is the LIKE escape
  character on every backend.
- ``LIKE`` is case-sensitive and ``ILIKE`` case-insensitive on SQLite and PostgreSQL alike (SQLite's
  own LIKE ignores case, so there it is compiled to an equivalent ``GLOB``). SQLite folds case for
  ASCII letters only.
- A known field compares on its column, the literal coerced to the field's kind (``id = '12'``
  and ``id = 12`` are the same); a literal that does not fit is an error, as is an enum value
  outside the field's values. ``<``/``>`` do not apply to bool and enum fields, LIKE only to
  strings.
- Any other name is a custom property: its value type is the ``.xxx_value`` suffix, or follows the
  literal (``"x"`` string, ``1.5`` double, ``true`` bool, and ``1`` int *or* double). A suffix
  always means a custom property, even on a field's name (``state.string_value``). A dotted name
  without a suffix (``a.b``) is the custom property ``"a.b"``.
- ``!=`` on a nullable field, like SQL, does not match rows where the field is unset; on a custom
  property it matches entities that have the property with another value.
- Bounds: :data:`MAX_FILTER_LENGTH` characters, :data:`MAX_DEPTH` nested parentheses,
  :data:`MAX_COMPARISONS` comparisons, :data:`MAX_PATTERN_WILDCARDS` wildcards in and
  :data:`MAX_PATTERN_LENGTH` characters of a LIKE pattern; 64-bit integers; NUL and lone
  surrogates are refused. Each refusal names the limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_PATTERN_LENGTH",
    "MAX_PATTERN_WILDCARDS",
    "VALUE_TYPES",
    "And",
    "Comparison",
    "FieldKind",
    "FilterError",
    "Node",
    "Op",
    "Or",
    "PropertyRef",
    "Scalar",
    "Value",
    "ValueType",
    "filter_error",
    "parse_filter",
    "render_filter",
    "render_scalar",
]

#: Longest filter text accepted; longer input is refused before tokenizing.
MAX_FILTER_LENGTH = 4096
#: Deepest parenthesis nesting accepted (bounds parser recursion and SQL expression depth).
MAX_DEPTH = 32
#: Most comparisons in one filter (SQLite refuses expression trees deeper than 1000).
MAX_COMPARISONS = 200
#: Most wildcards (``%`` and ``_``, unescaped) in one LIKE/ILIKE pattern: matching a pattern
#: costs up to its length times the text's per row, and backtracking over ``%`` more.
MAX_PATTERN_WILDCARDS = 10
#: Longest LIKE/ILIKE pattern, in characters. Both databases check the statement budget only
#: between rows, and matching one row costs up to its text's length times the pattern's: a
#: pattern of 100 over the largest text an entity may hold (4 MiB) takes under a second (0.7 s
#: on the bench machine under load; 200 took 1.8 s), so one row cannot run far past the budget.
MAX_PATTERN_LENGTH = 100

#: The range of the integers a filter may hold (64-bit, as the columns).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

ValueType = Literal["string_value", "int_value", "double_value", "bool_value"]
VALUE_TYPES: tuple[ValueType, ...] = ("string_value", "int_value", "double_value", "bool_value")

FieldKind = Literal["int", "str", "enum", "bool", "double", "time"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN"]
Scalar: TypeAlias = str | int | float | bool
Value: TypeAlias = Scalar | tuple[Scalar, ...]


class FilterError(ValueError):
    """A ``filterQuery`` that cannot be parsed or compiled (answered as 400 Bad Request)."""


# --------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class PropertyRef:
    """A property named in a filter.

    Attributes:
        name: Field or custom-property name (``"a.b"`` for a dotted name without a type suffix).
        value_type: The explicit ``.xxx_value`` suffix, or ``None`` when the name had none.
    """

    name: str
    value_type: ValueType | None = None


@dataclass(frozen=True)
class Comparison:
    """``prop OP value``.

    Attributes:
        prop: The property compared.
        op: Normalised operator (``<>`` becomes ``!=``; keywords upper case).
        value: A typed literal, or a tuple of literals for ``IN``.
        column: 1-based column of the property in the source text (0 when built by hand);
            used only in error messages, so it takes no part in equality.
    """

    prop: PropertyRef
    op: Op
    value: Value
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    """Conjunction of two or more nodes."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction of two or more nodes."""

    items: tuple[Node, ...]


Node: TypeAlias = Comparison | And | Or


# --------------------------------------------------------------------------------------------
# Tokenizer

_TokKind = Literal["(", ")", ",", ".", "OP", "WORD", "NAME", "STRING", "NUMBER", "EOF"]


@dataclass(frozen=True)
class _Token:
    kind: _TokKind
    text: str  # source text, for messages
    column: int  # 1-based
    value: Any = None


_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_OP_CHARS = "<>=!"
_DIGITS = "0123456789"  # ASCII only: str.isdigit() also accepts "²" and other scripts
_OPERATORS: dict[str, Op] = {
    "=": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_PUNCTUATION: dict[str, _TokKind] = {"(": "(", ")": ")", ",": ",", ".": "."}
_KEYWORD_OPS: dict[str, Op] = {"LIKE": "LIKE", "ILIKE": "ILIKE", "IN": "IN"}
# Words that cannot start a bare property name (backquote them to use them as names).
_RESERVED = frozenset({"AND", "OR", "LIKE", "ILIKE", "IN"})
# NUL is refused by PostgreSQL text columns and lone surrogates cannot be encoded as UTF-8:
# either would turn a client mistake into a database error.
_UNSTORABLE_RE = re.compile(r"[\x00\ud800-\udfff]")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def filter_error(message: str) -> FilterError:
    """The :class:`FilterError` of a message (prefixed with ``filterQuery:``)."""
    return FilterError(f"filterQuery: {message}")


def _show(text: str) -> str:
    """Quote a token for an error message, keeping the message short and printable."""
    if len(text) > 40:
        text = text[:37] + "..."
    text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return '"' + text.replace('"', '\\"') + '"'


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``start``; returns (value, index after closing quote)."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "\\'\"":
                out.append(nxt)
            else:
                # Unknown escapes keep their backslash, so LIKE "50\%" escapes the "%".
                out.append("\\" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    raise filter_error(f"unterminated string starting at column {start + 1}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[ch], ch, col))
            i += 1
        elif ch in "'\"":
            value, end = _read_string(text, i)
            tokens.append(_Token("STRING", text[i:end], col, value))
            i = end
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise filter_error(f"unterminated quoted name starting at column {col}")
            name = text[i + 1 : end]
            if not name.strip():
                raise filter_error(f"empty quoted name at column {col}")
            tokens.append(_Token("NAME", text[i : end + 1], col, name))
            i = end + 1
        elif ch in _OP_CHARS:
            j = i
            while j < n and text[j] in _OP_CHARS:
                j += 1
            op_text = text[i:j]
            if op_text not in _OPERATORS:
                raise filter_error(f"unknown operator {_show(op_text)} at column {col}")
            tokens.append(_Token("OP", op_text, col, _OPERATORS[op_text]))
            i = j
        elif ch in _DIGITS or (ch == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER_RE.match(text, i)
            assert m is not None  # the first character is a digit or "-digit"
            j = m.end()
            # "12abc" or "1.2.3" is one bad token, not a number followed by something.
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            raw = text[i:j]
            if j != m.end():
                raise filter_error(f"invalid number {_show(raw)} at column {col}")
            tokens.append(_Token("NUMBER", raw, col, _number(raw, col)))
            i = j
        elif ch.isalpha() or ch == "_":
            m = _WORD_RE.match(text, i)
            if m is None:  # a non-ASCII letter: not part of the identifier alphabet
                raise filter_error(f"unexpected character {_show(ch)} at column {col}")
            tokens.append(_Token("WORD", m.group(), col, m.group()))
            i = m.end()
        else:
            raise filter_error(f"unexpected character {_show(ch)} at column {col}")
    tokens.append(_Token("EOF", "", n + 1))
    return tokens


def _number(raw: str, column: int) -> int | float:
    if "." in raw or "e" in raw or "E" in raw:
        value = float(raw)
        if not math.isfinite(value):
            raise filter_error(f"number {_show(raw)} out of range at column {column}")
        return value
    if len(raw) > 20:  # cheap guard before int() on a long digit run
        raise filter_error(f"integer {_show(raw)} out of range at column {column}")
    ivalue = int(raw)
    if not INT64_MIN <= ivalue <= INT64_MAX:
        raise filter_error(f"integer {_show(raw)} out of range at column {column}")
    return ivalue


# --------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._pos = 0
        self._comparisons = 0

    def _peek(self) -> _Token:
        return self._tokens[self._pos]

    def _next(self) -> _Token:
        tok = self._tokens[self._pos]
        if tok.kind != "EOF":
            self._pos += 1
        return tok

    @staticmethod
    def _unexpected(tok: _Token) -> FilterError:
        if tok.kind == "EOF":
            return filter_error(f"unexpected end of input at column {tok.column}")
        return filter_error(f"unexpected token {_show(tok.text)} at column {tok.column}")

    def _expect(self, kind: _TokKind) -> _Token:
        tok = self._next()
        if tok.kind != kind:
            raise self._unexpected(tok)
        return tok

    def _at_keyword(self, word: str) -> bool:
        tok = self._peek()
        return tok.kind == "WORD" and tok.text.upper() == word

    def parse(self) -> Node:
        node = self._or(0)
        tok = self._peek()
        if tok.kind != "EOF":
            raise self._unexpected(tok)
        return node

    def _or(self, depth: int) -> Node:
        items = [self._and(depth)]
        while self._at_keyword("OR"):
            self._next()
            items.append(self._and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, depth: int) -> Node:
        items = [self._term(depth)]
        while self._at_keyword("AND"):
            self._next()
            items.append(self._term(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _term(self, depth: int) -> Node:
        tok = self._peek()
        if tok.kind == "(":
            if depth >= MAX_DEPTH:
                raise filter_error(f"nesting deeper than {MAX_DEPTH} at column {tok.column}")
            self._next()
            node = self._or(depth + 1)
            self._expect(")")
            return node
        prop = self._prop()
        op = self._op()
        value = self._in_list() if op == "IN" else self._scalar()
        self._comparisons += 1
        if self._comparisons > MAX_COMPARISONS:
            raise filter_error(f"more than {MAX_COMPARISONS} comparisons at column {tok.column}")
        if op in ("LIKE", "ILIKE") and isinstance(value, str):
            if len(value) > MAX_PATTERN_LENGTH:
                raise filter_error(
                    f"{op} pattern of {len(value)} characters at column {tok.column}: "
                    f"at most {MAX_PATTERN_LENGTH} are allowed"
                )
            wildcards = _wildcards(value)
            if wildcards > MAX_PATTERN_WILDCARDS:
                raise filter_error(
                    f"{op} pattern with {wildcards} wildcards at column {tok.column}: "
                    f"at most {MAX_PATTERN_WILDCARDS} (% and _) are allowed"
                )
        return Comparison(prop, op, value, tok.column)

    def _prop(self) -> PropertyRef:
        tok = self._next()
        if tok.kind == "NAME":
            name: str = tok.value
        elif tok.kind == "WORD" and tok.text.upper() not in _RESERVED:
            parts = [tok.text]
            while self._peek().kind == "." and self._tokens[self._pos + 1].kind == "WORD":
                if self._tokens[self._pos + 1].text in VALUE_TYPES:
                    break  # the type suffix, read below
                self._next()
                parts.append(self._next().text)
            name = ".".join(parts)
        else:
            raise self._unexpected(tok)
        value_type: ValueType | None = None
        if self._peek().kind == ".":
            self._next()
            suffix = self._next()
            if suffix.kind != "WORD" or suffix.text not in VALUE_TYPES:
                raise self._unexpected(suffix)
            value_type = _as_value_type(suffix.text)
        return PropertyRef(name, value_type)

    def _op(self) -> Op:
        tok = self._next()
        if tok.kind == "OP":
            op: Op = tok.value
            return op
        if tok.kind == "WORD":
            keyword = _KEYWORD_OPS.get(tok.text.upper())
            if keyword is None:
                raise filter_error(f"unknown operator {_show(tok.text)} at column {tok.column}")
            return keyword
        raise self._unexpected(tok)

    def _scalar(self) -> Scalar:
        tok = self._next()
        if tok.kind in ("STRING", "NUMBER"):
            value: Scalar = tok.value
            return value
        if tok.kind == "WORD" and tok.text.upper() in ("TRUE", "FALSE"):
            return tok.text.upper() == "TRUE"
        if tok.kind == "(":
            raise filter_error(f"a list value needs the IN operator at column {tok.column}")
        raise self._unexpected(tok)

    def _in_list(self) -> tuple[Scalar, ...]:
        self._expect("(")
        if self._peek().kind == ")":
            raise filter_error(f"empty IN list at column {self._peek().column}")
        values = [self._scalar()]
        while self._peek().kind == ",":
            self._next()
            values.append(self._scalar())
        self._expect(")")
        return tuple(values)


_WILDCARD_RE = re.compile(r"\\.|[%_]", re.DOTALL)


def _wildcards(pattern: str) -> int:
    """How many unescaped ``%`` and ``_`` a LIKE pattern holds (``\\`` escapes)."""
    return sum(1 for m in _WILDCARD_RE.finditer(pattern) if m.group() in ("%", "_"))


def _as_value_type(text: str) -> ValueType:
    for vt in VALUE_TYPES:
        if vt == text:
            return vt
    raise filter_error(f"unknown value type {_show(text)}")


def parse_filter(text: str) -> Node:
    """Parse a ``filterQuery`` into its AST.

    Args:
        text: The filter text.

    Returns:
        The root node; a single comparison is returned as a bare :class:`Comparison`.

    Raises:
        FilterError: Empty or over-long input, bad syntax, unknown operator, unterminated
            string, empty ``IN`` list, trailing input, nesting deeper than :data:`MAX_DEPTH`.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise filter_error(f"longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise filter_error("empty filter")
    bad = _UNSTORABLE_RE.search(text)
    if bad is not None:
        raise filter_error(f"unexpected character {_show(bad.group())} at column {bad.start() + 1}")
    return _Parser(_tokenize(text)).parse()


# --------------------------------------------------------------------------------------------
# Rendering (AST back to text; parse_filter(render_filter(n)) == n)

_PLAIN_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _render_name(prop: PropertyRef) -> str:
    segments = prop.name.split(".")
    plain = (
        _PLAIN_NAME_RE.fullmatch(prop.name) is not None
        and segments[0].upper() not in _RESERVED
        and not any(s in VALUE_TYPES for s in segments[1:])
    )
    text = prop.name if plain else f"`{prop.name}`"
    if prop.value_type is not None:
        text += "." + prop.value_type
    return text


def render_scalar(value: Scalar) -> str:
    """A literal as the filter language writes it (strings double-quoted and escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # always has "." or "e", so it reads back as a float
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def render_filter(node: Node) -> str:
    """Render an AST as ``filterQuery`` text that parses back to an equal AST.

    Args:
        node: The root node.

    Returns:
        Canonical filter text (compound children are parenthesised).

    Raises:
        FilterError: A name or string cannot be written (a backquote in a name, NUL or a lone
            surrogate anywhere).
    """
    if isinstance(node, Comparison):
        if "`" in node.prop.name or _UNSTORABLE_RE.search(node.prop.name):
            raise filter_error(f"property name {_show(node.prop.name)} cannot be written")
        for v in node.value if isinstance(node.value, tuple) else (node.value,):
            if isinstance(v, str) and _UNSTORABLE_RE.search(v):
                raise filter_error(f"string {_show(v)} cannot be written")
        if isinstance(node.value, tuple):
            value = "(" + ", ".join(render_scalar(v) for v in node.value) + ")"
        else:
            value = render_scalar(node.value)
        return f"{_render_name(node.prop)} {node.op} {value}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(
        render_filter(item) if isinstance(item, Comparison) else f"({render_filter(item)})"
        for item in node.items
    )
