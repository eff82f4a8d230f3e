"""Keyset paging for list endpoints: page requests and page tokens.

The page query that uses them is the store's (:mod:`model_registry.server.store.keyset`).

A page token is an opaque cursor over (order value, id) of the last row on the page. It is
deterministic (the same position always gives the same token, which the reference client's pager
relies on to stop) and bound to the ordering it was made for, so a token replayed with another
``orderBy``/``sortOrder`` is refused instead of silently paging from a meaningless position.

Token layout: URL-safe base64 (no padding) of the ASCII text ``1.<o><d>.<value>.<id>`` where
``1`` is the format version, ``<o>`` is ``I``/``C``/``U``/``N`` (ID, CREATE_TIME,
LAST_UPDATE_TIME, NAME), ``<d>`` is ``A``/``D`` (ASC, DESC), the id is a canonical decimal and
the value one too, except for NAME (our extension): ``n`` for a row without a name, else ``s``
and the name's UTF-8 in URL-safe base64 (no padding). Decoding accepts only the exact
canonical encoding, so every position has exactly one token.

Page sizes: ``pageSize`` absent (or empty) means every row, as the reference server does; a value
above :data:`MAX_PAGE_SIZE` is clamped to it (the client then simply pages on); one past the
wire's 9-digit range is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_TOKEN_LENGTH",
    "MAX_WIRE_DIGITS",
    "ORDER_BY_FIELDS",
    "OrderBy",
    "OrderValue",
    "PageRequest",
    "PageRequestError",
    "PageTokenError",
    "decode_token",
    "encode_token",
]

#: Largest page served; a larger ``pageSize`` is clamped to this.
MAX_PAGE_SIZE = 10_000
#: Most significant digits a ``pageSize`` may have on the wire (the spec's pattern).
MAX_WIRE_DIGITS = 9
#: Longest token text accepted by :func:`decode_token` (a NAME token carries a name of up to
#: 255 characters).
MAX_TOKEN_LENGTH = 2048

OrderBy = Literal["ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME"]
ORDER_BY_FIELDS: tuple[OrderBy, ...] = ("ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME")
"""The orderings of every list; ``NAME`` is our extension (rows without a name come last in
ascending order, first in descending order; names compare as the database's collation does)."""

OrderValue = int | str | None
"""A row's value of its ordering: an int (ID, times), the name or None (NAME)."""

_VERSION = "1"
_ORDER_CODES: dict[OrderBy, str] = {
    "ID": "I",
    "CREATE_TIME": "C",
    "LAST_UPDATE_TIME": "U",
    "NAME": "N",
}
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_PAYLOAD_RE = re.compile(
    r"1\.(?:([ICU])([AD])\.(-?(?:0|[1-9][0-9]{0,18}))|N([AD])\.(n|s[A-Za-z0-9_-]*))"
    r"\.([1-9][0-9]{0,18})"
)
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_DIGITS_RE = re.compile(r"[0-9]+")

_T = TypeVar("_T")


class PageRequestError(ValueError):
    """A bad paging parameter (``pageSize``, ``orderBy``, ``sortOrder``); answered as 400."""


class PageTokenError(PageRequestError):
    """A malformed, foreign or mismatched ``nextPageToken``; answered as 400."""


def _check_int64(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{what} {value} is outside the 64-bit range")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_token(
    order_value: OrderValue, id: int, *, order_by: OrderBy = "ID", desc: bool = False
) -> str:
    """Encode the cursor after the row (``order_value``, ``id``).

    Args:
        order_value: The row's value of the ordering column: an integer (ids and times), or
            for ``NAME`` the name (None for a row without one).
        id: The row's id (positive).
        order_by: The ordering the token is valid for.
        desc: Whether that ordering is descending.

    Returns:
        The token: URL-safe base64 text, the same for the same arguments.

    Raises:
        ValueError: ``id`` not positive, or either number outside the 64-bit range.
        TypeError: A number that is not an ``int``.
    """
    _check_int64(id, "id")
    if id <= 0:
        raise ValueError(f"id must be positive, not {id}")
    if order_by == "NAME":
        if order_value is not None and not isinstance(order_value, str):
            raise TypeError(f"a NAME order value must be a str or None, not {order_value!r}")
        value = "n" if order_value is None else "s" + _b64(order_value.encode("utf-8"))
    else:
        if not isinstance(order_value, int):
            raise TypeError(f"order value must be an int, not {type(order_value).__name__}")
        _check_int64(order_value, "order value")
        value = str(order_value)
    payload = f"{_VERSION}.{_ORDER_CODES[order_by]}{'D' if desc else 'A'}.{value}.{id}"
    return _b64(payload.encode("ascii"))


def _decode_full(token: str) -> tuple[OrderBy, bool, OrderValue, int]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise PageTokenError("invalid nextPageToken: too long")
    if not token or _BASE64URL_RE.fullmatch(token) is None or len(token) % 4 == 1:
        raise PageTokenError("invalid nextPageToken")
    try:
        text = _unb64(token).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PageTokenError("invalid nextPageToken") from None
    m = _PAYLOAD_RE.fullmatch(text)
    if m is None:
        if text[:1].isdigit() and not text.startswith(_VERSION + "."):
            raise PageTokenError("invalid nextPageToken: unsupported version")
        raise PageTokenError("invalid nextPageToken")
    id_ = int(m.group(6))
    order_value: OrderValue
    if m.group(1) is not None:
        order_by = next(k for k, v in _ORDER_CODES.items() if v == m.group(1))
        desc = m.group(2) == "D"
        order_value = int(m.group(3))
        if not _INT64_MIN <= order_value <= _INT64_MAX:
            raise PageTokenError("invalid nextPageToken")
    else:
        order_by, desc = "NAME", m.group(4) == "D"
        order_value = None
        if m.group(5) != "n":
            try:
                order_value = _unb64(m.group(5)[1:]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise PageTokenError("invalid nextPageToken") from None
    if id_ > _INT64_MAX:
        raise PageTokenError("invalid nextPageToken")
    # Only the canonical text is accepted (no stray bits in the last base64 character), so a
    # position has exactly one token and a token exactly one position.
    if encode_token(order_value, id_, order_by=order_by, desc=desc) != token:
        raise PageTokenError("invalid nextPageToken")
    return order_by, desc, order_value, id_


def decode_token(
    token: str, *, order_by: OrderBy | None = None, desc: bool | None = None
) -> tuple[OrderValue, int]:
    """Decode a token made by :func:`encode_token`.

    Args:
        token: The token text.
        order_by: When given, the ordering the token must have been made for.
        desc: When given, the direction the token must have been made for.

    Returns:
        ``(order_value, id)`` of the last row of the previous page.

    Raises:
        PageTokenError: Anything malformed (bad base64 or payload, unknown version, longer than
            :data:`MAX_TOKEN_LENGTH`) or made for another ordering than the one given.
    """
    tok_order, tok_desc, order_value, id_ = _decode_full(token)
    if (order_by is not None and order_by != tok_order) or (desc is not None and desc != tok_desc):
        raise PageTokenError("nextPageToken was issued for another orderBy/sortOrder")
    return order_value, id_


@dataclass(frozen=True)
class PageRequest:
    """Paging parameters of one list request.

    Attributes:
        page_size: Rows per page, or ``None`` for every row.
        order_by: The ordering field.
        desc: Descending order when true.
        token: The ``nextPageToken`` received, or ``None`` for the first page.
    """

    page_size: int | None = None
    order_by: OrderBy = "ID"
    desc: bool = False
    token: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> PageRequest:
        """Build a request from query parameters, validating every one.

        Args:
            params: Query parameters (``pageSize``, ``orderBy``, ``sortOrder``,
                ``nextPageToken``); other keys are ignored. Empty values count as absent.

        Returns:
            The validated request; ``pageSize`` above :data:`MAX_PAGE_SIZE` is clamped,
            one of more than 9 digits is refused.

        Raises:
            PageRequestError: ``pageSize`` not a positive integer, unknown ``orderBy`` or
                ``sortOrder``.
            PageTokenError: A malformed token or one made for another ordering.
        """
        page_size: int | None = None
        raw_size = params.get("pageSize", "")
        if raw_size != "":
            digits = raw_size.lstrip("0")
            if _DIGITS_RE.fullmatch(raw_size) is None or not digits:
                raise PageRequestError(
                    f"invalid pageSize {raw_size[:40]!r}: must be a positive integer"
                )
            # Past the wire range (9 digits, as ids) is a client mistake; within it, a size above
            # the maximum is clamped. Lengths first, so a million digits never reach int().
            if len(digits) > MAX_WIRE_DIGITS:
                raise PageRequestError(
                    f"invalid pageSize {raw_size[:40]!r}: must be at most {'9' * MAX_WIRE_DIGITS}"
                )
            page_size = min(int(digits), MAX_PAGE_SIZE)
        raw_order = params.get("orderBy", "") or "ID"
        order_by = next((f for f in ORDER_BY_FIELDS if f == raw_order.upper()), None)
        if order_by is None:
            raise PageRequestError(
                f"invalid orderBy {raw_order[:40]!r}: must be one of {', '.join(ORDER_BY_FIELDS)}"
            )
        raw_sort = (params.get("sortOrder", "") or "ASC").upper()
        if raw_sort not in ("ASC", "DESC"):
            raise PageRequestError(
                f"invalid sortOrder {params.get('sortOrder', '')[:40]!r}: must be ASC or DESC"
            )
        desc = raw_sort == "DESC"
        token = params.get("nextPageToken", "") or None
        if token is not None:
            decode_token(token, order_by=order_by, desc=desc)  # refuse bad tokens up front
        return cls(page_size=page_size, order_by=order_by, desc=desc, token=token)

    def cursor(self) -> tuple[OrderValue, int] | None:
        """The decoded token: ``(order_value, id)`` after which this page starts, or ``None``.

        Raises:
            PageTokenError: The token is malformed or made for another ordering.
        """
        if self.token is None:
            return None
        return decode_token(self.token, order_by=self.order_by, desc=self.desc)
