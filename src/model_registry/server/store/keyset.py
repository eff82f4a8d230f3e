"""The SQL half of keyset paging: a list query cut into a page and the next page's token.

:func:`apply_page` adds a :class:`~model_registry.server.paging.PageRequest`'s position,
ordering and limit to a query; :func:`finish_page` cuts what it returned into the page and the
token of the next (:func:`~model_registry.server.paging.encode_token`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, String, and_, literal, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from model_registry.server.paging import OrderValue, PageRequest, encode_token

__all__ = ["apply_page", "finish_page"]

_T = TypeVar("_T")
_S = TypeVar("_S", bound=Select[Any])


def apply_page(
    select: _S, order_col: ColumnElement[Any], id_col: ColumnElement[Any], req: PageRequest
) -> _S:
    """Add the keyset condition, the ordering and the limit of ``req`` to ``select``.

    Rows come ordered by (``order_col``, ``id_col``) in the request direction, start strictly
    after the token's position, and number at most ``page_size + 1`` (the extra row tells
    :func:`finish_page` that another page follows). With ``order_by == "ID"`` only ``id_col`` is
    used.

    Args:
        select: The query selecting the candidate rows (filters already applied).
        order_col: The column of ``req.order_by``.
        id_col: The id column (the tie breaker).
        req: The page request.

    Returns:
        The paged query.

    Raises:
        PageTokenError: The request's token is malformed or made for another ordering.
    """
    by_id = req.order_by == "ID"
    if req.order_by == "NAME":
        return _apply_name_page(select, order_col, id_col, req)
    cursor = req.cursor()
    if cursor is not None:
        # Bound as BIGINT: a token may carry any 64-bit value, and PostgreSQL drivers refuse
        # one beyond 32 bits when it is bound with an INTEGER column's type.
        value, last_id = literal(cursor[0], BigInteger()), literal(cursor[1], BigInteger())
        if by_id:
            cond = id_col < last_id if req.desc else id_col > last_id
        elif req.desc:
            cond = or_(order_col < value, and_(order_col == value, id_col < last_id))
        else:
            cond = or_(order_col > value, and_(order_col == value, id_col > last_id))
        select = select.where(cond)
    columns = [id_col] if by_id else [order_col, id_col]
    select = select.order_by(*(c.desc() if req.desc else c.asc() for c in columns))
    if req.page_size is not None:
        select = select.limit(req.page_size + 1)
    return select


def _apply_name_page(
    select: _S, name_col: ColumnElement[Any], id_col: ColumnElement[Any], req: PageRequest
) -> _S:
    """:func:`apply_page` for ``NAME``: a nullable column, so rows without a name sort last
    ascending and first descending (PostgreSQL's default, an index's order on both databases)
    and the keyset condition says where they are."""
    cursor = req.cursor()
    if cursor is not None:
        value, last_id = cursor[0], literal(cursor[1], BigInteger())
        if value is None:
            after_nulls = id_col < last_id if req.desc else id_col > last_id
            cond = and_(name_col.is_(None), after_nulls)
            if req.desc:  # the named rows all follow the unnamed ones
                cond = or_(cond, name_col.is_not(None))
        else:
            name = literal(value, String())
            if req.desc:
                cond = or_(name_col < name, and_(name_col == name, id_col < last_id))
            else:
                cond = or_(
                    name_col > name,
                    and_(name_col == name, id_col > last_id),
                    name_col.is_(None),
                )
        select = select.where(cond)
    if req.desc:
        select = select.order_by(name_col.desc().nulls_first(), id_col.desc())
    else:
        select = select.order_by(name_col.asc().nulls_last(), id_col.asc())
    if req.page_size is not None:
        select = select.limit(req.page_size + 1)
    return select


def finish_page(
    rows: Sequence[_T],
    req: PageRequest,
    order_value_of: Callable[[_T], OrderValue],
    id_of: Callable[[_T], int],
) -> tuple[list[_T], str]:
    """Cut the rows of an :func:`apply_page` query into the page and the next token.

    Args:
        rows: The rows the paged query returned (at most ``page_size + 1``).
        req: The page request.
        order_value_of: Gives a row's order value (the id itself for ``ID`` ordering).
        id_of: Gives a row's id.

    Returns:
        ``(rows_on_page, next_token)``; the token is ``""`` on the last page.
    """
    if req.page_size is None or len(rows) <= req.page_size:
        return list(rows), ""
    page = list(rows[: req.page_size])
    last = page[-1]
    token = encode_token(order_value_of(last), id_of(last), order_by=req.order_by, desc=req.desc)
    return page, token
