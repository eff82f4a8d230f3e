"""Keyset paging: page tokens, page requests and walking real tables page by page.

The walking tests run on SQLite (always) and PostgreSQL (when MR_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from model_registry.server.paging import (
    MAX_PAGE_SIZE,
    MAX_TOKEN_LENGTH,
    ORDER_BY_FIELDS,
    OrderBy,
    PageRequest,
    PageRequestError,
    PageTokenError,
    decode_token,
    encode_token,
)
from model_registry.server.store.keyset import apply_page, finish_page

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
IDS = st.integers(min_value=1, max_value=2**63 - 1)
INT_ORDERS: list[OrderBy] = [f for f in ORDER_BY_FIELDS if f != "NAME"]
ORDERS = st.sampled_from(INT_ORDERS)
"""The orderings whose values are integers (NAME's are names: tested on their own)."""
NAMES = st.one_of(st.none(), st.text(max_size=255))


def _b64(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


# ------------------------------------------------------------------------------------------
# Tokens


@settings(max_examples=300, deadline=None)
@given(INT64, IDS, ORDERS, st.booleans())
def test_token_round_trips_and_is_deterministic(
    value: int, id_: int, order_by: OrderBy, desc: bool
) -> None:
    token = encode_token(value, id_, order_by=order_by, desc=desc)
    assert token == encode_token(value, id_, order_by=order_by, desc=desc)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert decode_token(token) == (value, id_)
    assert decode_token(token, order_by=order_by, desc=desc) == (value, id_)


@settings(max_examples=200, deadline=None)
@given(st.tuples(INT64, IDS, ORDERS, st.booleans()), st.tuples(INT64, IDS, ORDERS, st.booleans()))
def test_different_positions_get_different_tokens(
    a: tuple[int, int, OrderBy, bool], b: tuple[int, int, OrderBy, bool]
) -> None:
    ta = encode_token(a[0], a[1], order_by=a[2], desc=a[3])
    tb = encode_token(b[0], b[1], order_by=b[2], desc=b[3])
    assert (ta == tb) == (a == b)


@settings(max_examples=300, deadline=None)
@given(NAMES, IDS, st.booleans())
def test_name_token_round_trips_any_name_within_the_length_limit(
    name: str | None, id_: int, desc: bool
) -> None:
    token = encode_token(name, id_, order_by="NAME", desc=desc)
    assert len(token) <= MAX_TOKEN_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert decode_token(token, order_by="NAME", desc=desc) == (name, id_)
    assert token != encode_token("" if name is None else None, id_, order_by="NAME", desc=desc)
    with pytest.raises(PageTokenError):
        decode_token(token, order_by="ID")


def test_the_longest_name_token_fits() -> None:
    longest = "\U0001f600" * 255  # 255 characters of 4 bytes each
    assert len(encode_token(longest, 2**63 - 1, order_by="NAME", desc=True)) <= MAX_TOKEN_LENGTH


@pytest.mark.parametrize(
    "payload", ["1.NA.x.1", "1.NA.sYQ=.1", "1.NA.5.1", "1.NA..1", "1.NA.s_w.1", "1.ND.n.0"]
)
def test_malformed_name_tokens_are_refused(payload: str) -> None:
    # Not base64 of UTF-8 ("s_w" decodes to 0xff 0x0c), padding, a number, nothing, id 0.
    with pytest.raises(PageTokenError):
        decode_token(_b64(payload))


def test_name_tokens_take_names_and_other_tokens_integers() -> None:
    with pytest.raises(TypeError):
        encode_token(5, 1, order_by="NAME")
    with pytest.raises(TypeError):
        encode_token("a", 1, order_by="CREATE_TIME")


def test_token_defaults_to_id_ascending() -> None:
    assert encode_token(7, 7) == encode_token(7, 7, order_by="ID", desc=False)
    assert decode_token(encode_token(7, 7), order_by="ID", desc=False) == (7, 7)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=MAX_TOKEN_LENGTH + 20))
def test_decoding_random_text_raises_only_page_token_error(token: str) -> None:
    with contextlib.suppress(PageTokenError):
        decode_token(token)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_decoding_random_base64_raises_only_page_token_error(raw: bytes) -> None:
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with contextlib.suppress(PageTokenError):
        decode_token(token)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"[0-9]\.[ICUX][ADX]\.-?[0-9]{1,21}\.-?[0-9]{1,21}", fullmatch=True),
)
def test_decoding_payload_shaped_text_raises_only_page_token_error(payload: str) -> None:
    try:
        _, id_ = decode_token(_b64(payload))
    except PageTokenError:
        return
    # What decodes is exactly a token this module would have made.
    assert payload.startswith("1.")
    assert id_ > 0


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "invalid nextPageToken"),
        ("!!!!", "invalid nextPageToken"),
        ("a b", "invalid nextPageToken"),
        ("A", "invalid nextPageToken"),
        (_b64("1.IA.5.5") + "==", "invalid nextPageToken"),  # padding is not part of the token
        (_b64("1.IA.5.5") + "A", "invalid nextPageToken"),
        (_b64("hello"), "invalid nextPageToken"),
        (_b64("2.IA.5.5"), "unsupported version"),
        (_b64("1.XA.5.5"), "invalid nextPageToken"),
        (_b64("1.IA.05.5"), "invalid nextPageToken"),  # not canonical
        (_b64("1.IA.5.0"), "invalid nextPageToken"),  # ids are positive
        (_b64("1.IA.5.-5"), "invalid nextPageToken"),
        (_b64("1.IA.-0.5"), "invalid nextPageToken"),
        (_b64("1.IA.9223372036854775808.5"), "invalid nextPageToken"),
        (_b64("1.IA.5.5 "), "invalid nextPageToken"),
        (base64.urlsafe_b64encode(b"\xff\xfe1.IA").decode(), "invalid nextPageToken"),
        ("A" * (MAX_TOKEN_LENGTH + 1), "too long"),
    ],
)
def test_malformed_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(PageTokenError, match=message):
        decode_token(token)


def test_token_with_stray_low_bits_is_refused() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for value, id_ in [(5, 5), (12, 345), (55, 55), (1700000000000, 9)]:  # 2 or 4 stray bits
        token = encode_token(value, id_)
        payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        stray_bits = 6 * len(token) - 8 * len(payload)
        assert stray_bits > 0
        last = alphabet.index(token[-1])
        for k in range(1, 2**stray_bits):
            # Same bytes when decoded leniently, but not the canonical text: refused.
            variant = token[:-1] + alphabet[last | k]
            assert base64.urlsafe_b64decode(variant + "=" * (-len(variant) % 4)) == payload
            assert not _accepts(variant)


def _accepts(token: str) -> bool:
    try:
        decode_token(token)
    except PageTokenError:
        return False
    return True


def test_longest_valid_token_is_well_under_the_limit() -> None:
    token = encode_token(-(2**63), 2**63 - 1, order_by="LAST_UPDATE_TIME", desc=True)
    assert len(token) < MAX_TOKEN_LENGTH // 4


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        (("ID", False), ("CREATE_TIME", False)),
        (("CREATE_TIME", False), ("LAST_UPDATE_TIME", False)),
        (("CREATE_TIME", False), ("CREATE_TIME", True)),
        (("LAST_UPDATE_TIME", True), ("ID", True)),
    ],
)
def test_token_for_another_ordering_is_refused(
    made_for: tuple[OrderBy, bool], used_with: tuple[OrderBy, bool]
) -> None:
    token = encode_token(1000, 3, order_by=made_for[0], desc=made_for[1])
    with pytest.raises(PageTokenError, match="another orderBy/sortOrder"):
        decode_token(token, order_by=used_with[0], desc=used_with[1])
    params = {"orderBy": used_with[0], "sortOrder": "DESC" if used_with[1] else "ASC"}
    with pytest.raises(PageTokenError):
        PageRequest.from_query({**params, "nextPageToken": token})


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((5, 0), ValueError),
        ((5, -1), ValueError),
        ((2**63, 1), ValueError),
        ((1, 2**63), ValueError),
        ((True, 1), TypeError),
        ((1.5, 1), TypeError),
    ],
)
def test_encode_refuses_values_outside_the_token_domain(
    args: tuple[Any, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        encode_token(*args)


def test_page_token_error_is_a_value_error() -> None:
    assert issubclass(PageTokenError, PageRequestError)
    assert issubclass(PageRequestError, ValueError)


# ------------------------------------------------------------------------------------------
# Page requests from query parameters


def test_page_request_defaults_to_every_row_by_id_ascending() -> None:
    assert PageRequest.from_query({}) == PageRequest(None, "ID", False, None)
    assert PageRequest.from_query({"pageSize": "", "orderBy": "", "sortOrder": ""}) == (
        PageRequest(None, "ID", False, None)
    )


def test_page_request_reads_every_parameter() -> None:
    token = encode_token(1000, 4, order_by="CREATE_TIME", desc=True)
    req = PageRequest.from_query(
        {
            "pageSize": "25",
            "orderBy": "CREATE_TIME",
            "sortOrder": "DESC",
            "nextPageToken": token,
            "filterQuery": "ignored here",
        }
    )
    assert req == PageRequest(25, "CREATE_TIME", True, token)
    assert req.cursor() == (1000, 4)


def test_order_and_direction_are_case_insensitive() -> None:
    req = PageRequest.from_query({"orderBy": "last_update_time", "sortOrder": "desc"})
    assert (req.order_by, req.desc) == ("LAST_UPDATE_TIME", True)


def test_empty_token_means_first_page() -> None:
    req = PageRequest.from_query({"nextPageToken": ""})
    assert req.token is None
    assert req.cursor() is None


@pytest.mark.parametrize(
    ("raw", "size"),
    [("1", 1), ("007", 7), ("10000", 10000), ("10001", MAX_PAGE_SIZE), ("9" * 9, MAX_PAGE_SIZE)],
)
def test_page_size_is_a_positive_integer_clamped_to_the_maximum(raw: str, size: int) -> None:
    assert PageRequest.from_query({"pageSize": raw}).page_size == size


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pageSize": "0"}, "invalid pageSize '0': must be a positive integer"),
        ({"pageSize": "1" + "0" * 9}, "invalid pageSize '1000000000': must be at most 999999999"),
        ({"pageSize": "9" * 5000}, "must be at most 999999999"),
        ({"pageSize": "000"}, "invalid pageSize"),
        ({"pageSize": "-1"}, "invalid pageSize"),
        ({"pageSize": "+5"}, "invalid pageSize"),
        ({"pageSize": "1.5"}, "invalid pageSize"),
        ({"pageSize": " 5"}, "invalid pageSize"),
        ({"pageSize": "five"}, "invalid pageSize"),
        ({"pageSize": "\u0665"}, "invalid pageSize"),  # a non-ASCII digit
        ({"orderBy": "TITLE"}, "invalid orderBy 'TITLE': must be one of ID, CREATE_TIME"),
        ({"sortOrder": "UP"}, "invalid sortOrder 'UP': must be ASC or DESC"),
        ({"nextPageToken": "garbage!"}, "invalid nextPageToken"),
    ],
)
def test_bad_paging_parameters_are_request_errors(params: dict[str, str], message: str) -> None:
    with pytest.raises(PageRequestError, match=re.escape(message)):
        PageRequest.from_query(params)


# ------------------------------------------------------------------------------------------
# Walking real tables

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=True),
    Column("create_time", Integer, nullable=False),
    Column("update_time", Integer, nullable=False),
)
COLUMNS = {
    "ID": items.c.id,
    "CREATE_TIME": items.c.create_time,
    "LAST_UPDATE_TIME": items.c.update_time,
    "NAME": items.c.name,
}
KEYS = {"ID": "id", "CREATE_TIME": "create_time", "LAST_UPDATE_TIME": "update_time", "NAME": "name"}

# Ties on both time columns and on names, rows without a name, ids not in time or name order,
# gaps in ids.
_NAMES = ["b", None, "a", "b", "c", None, "a", "b", "d", "a", None, "c", "b"]
ROWS: list[dict[str, Any]] = [
    {
        "id": i,
        "name": name,
        "create_time": 1000 + (i * 7) % 5,
        "update_time": 2000 - (i % 3),
    }
    for i, name in zip([1, 2, 3, 5, 8, 9, 10, 11, 14, 20, 21, 22, 30], _NAMES, strict=True)
]


def _expected(rows: Sequence[dict[str, Any]], order_by: OrderBy, desc: bool) -> list[int]:
    key = KEYS[order_by]
    if order_by == "NAME":
        # Rows without a name after the named ones ascending (before them descending).
        ordered = sorted(
            rows, key=lambda r: (r["name"] is None, r["name"] or "", r["id"]), reverse=desc
        )
    else:
        ordered = sorted(rows, key=lambda r: (r[key], r["id"]), reverse=desc)
    return [r["id"] for r in ordered]


@pytest.fixture
async def db(scratch_engine: AsyncEngine) -> AsyncEngine:
    """The items table, filled, on a fresh SQLite database or a fresh PostgreSQL schema."""
    async with scratch_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(items.insert(), ROWS)
    return scratch_engine


def _order_value(order_by: OrderBy) -> Any:
    key = KEYS[order_by]
    return lambda row: getattr(row, key)


async def _page(engine: AsyncEngine, req: PageRequest, where: Any = None) -> tuple[list[int], str]:
    stmt = select(items)
    if where is not None:
        stmt = stmt.where(where)
    stmt = apply_page(stmt, COLUMNS[req.order_by], items.c.id, req)
    async with engine.connect() as conn:
        rows: list[Row[Any]] = list(await conn.execute(stmt))
    page, token = finish_page(rows, req, _order_value(req.order_by), lambda r: r.id)
    return [r.id for r in page], token


async def _walk(
    engine: AsyncEngine, size: int | None, order_by: OrderBy, desc: bool, where: Any = None
) -> tuple[list[int], list[str]]:
    seen: list[int] = []
    tokens: list[str] = []
    token = ""
    for _ in range(100):
        params = {"orderBy": order_by, "sortOrder": "DESC" if desc else "ASC"}
        if size is not None:
            params["pageSize"] = str(size)
        req = PageRequest.from_query({**params, "nextPageToken": token})
        ids, token = await _page(engine, req, where)
        assert size is None or len(ids) <= size
        seen.extend(ids)
        tokens.append(token)
        if token == "":
            return seen, tokens
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("order_by", ORDER_BY_FIELDS)
@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 14, 100, None])
async def test_walking_all_pages_returns_every_row_once_in_order(
    db: AsyncEngine, order_by: OrderBy, desc: bool, size: int | None
) -> None:
    seen, tokens = await _walk(db, size, order_by, desc)
    assert seen == _expected(ROWS, order_by, desc)
    assert tokens[-1] == ""
    assert "" not in tokens[:-1]
    assert len(set(tokens)) == len(tokens)
    pages = 1 if size is None else max(1, -(-len(ROWS) // size))
    assert len(tokens) == pages


async def test_ties_on_the_order_value_are_broken_by_id(db: AsyncEngine) -> None:
    for desc in (False, True):
        seen, _ = await _walk(db, 2, "LAST_UPDATE_TIME", desc)
        by_time: dict[int, list[int]] = {}
        times = {r["id"]: r["update_time"] for r in ROWS}
        for id_ in seen:
            by_time.setdefault(times[id_], []).append(id_)
        assert all(len(ids) > 1 for ids in by_time.values())  # the data really has ties
        for ids in by_time.values():
            assert ids == sorted(ids, reverse=desc)


async def test_next_page_token_is_deterministic(db: AsyncEngine) -> None:
    req = PageRequest.from_query({"pageSize": "4", "orderBy": "CREATE_TIME"})
    first = await _page(db, req)
    again = await _page(db, req)
    assert first == again
    assert first[1] != ""


async def test_exactly_full_last_page_has_empty_token(db: AsyncEngine) -> None:
    ids, token = await _page(db, PageRequest(page_size=len(ROWS)))
    assert len(ids) == len(ROWS)
    assert token == ""


async def test_paging_composes_with_a_filter(db: AsyncEngine) -> None:
    seen, tokens = await _walk(db, 2, "CREATE_TIME", True, where=items.c.id > 8)
    assert seen == _expected([r for r in ROWS if r["id"] > 8], "CREATE_TIME", True)
    assert tokens[-1] == ""


async def test_rows_inserted_before_the_cursor_do_not_repeat_rows(db: AsyncEngine) -> None:
    req = PageRequest.from_query({"pageSize": "5", "orderBy": "CREATE_TIME"})
    first, token = await _page(db, req)
    async with db.begin() as conn:
        await conn.execute(
            items.insert(), [{"id": 100, "name": "late", "create_time": 0, "update_time": 0}]
        )
    rest: list[int] = []
    while token:
        req = PageRequest.from_query(
            {"pageSize": "5", "orderBy": "CREATE_TIME", "nextPageToken": token}
        )
        ids, token = await _page(db, req)
        rest.extend(ids)
    assert not set(first) & set(rest)
    assert sorted(first + rest) == sorted(r["id"] for r in ROWS)


async def test_paged_query_binds_the_cursor_as_parameters(db: AsyncEngine) -> None:
    token = encode_token(1003, 987654, order_by="CREATE_TIME")
    req = PageRequest(page_size=3, order_by="CREATE_TIME", token=token)
    stmt = apply_page(select(items), items.c.create_time, items.c.id, req)
    compiled = stmt.compile(db.sync_engine)
    assert "987654" not in str(compiled)
    assert 987654 in compiled.params.values()


def test_apply_page_refuses_a_mismatched_token() -> None:
    token = encode_token(5, 5)  # made for ID ascending
    req = PageRequest(page_size=3, order_by="ID", desc=True, token=token)
    with pytest.raises(PageTokenError):
        apply_page(select(items), items.c.id, items.c.id, req)


def test_finish_page_without_page_size_returns_everything() -> None:
    rows = [(i, i * 10) for i in range(1, 6)]
    page, token = finish_page(rows, PageRequest(), lambda r: r[1], lambda r: r[0])
    assert (page, token) == (rows, "")


def test_finish_page_cuts_the_lookahead_row_and_points_at_the_last_kept_row() -> None:
    rows = [(i, i * 10) for i in range(1, 5)]
    req = PageRequest(page_size=3, order_by="CREATE_TIME", desc=True)
    page, token = finish_page(rows, req, lambda r: r[1], lambda r: r[0])
    assert page == rows[:3]
    assert decode_token(token, order_by="CREATE_TIME", desc=True) == (30, 3)


# Property test on SQLite: random data with many ties, random page size and ordering.


@pytest.fixture(scope="module")
def sync_sqlite() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


_ROW_SETS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10_000),
        st.integers(min_value=0, max_value=4),
        st.integers(min_value=-3, max_value=3),
        st.sampled_from([None, "", "a", "ab", "b", "B", "é", "z\u00ff"]),
    ),
    max_size=30,
    unique_by=lambda t: t[0],
)


@settings(max_examples=150, deadline=None)
@given(_ROW_SETS, st.integers(1, 8), st.sampled_from(ORDER_BY_FIELDS), st.booleans())
def test_walk_matches_sorted_order_for_any_data(
    sync_sqlite: Engine,
    data: list[tuple[int, int, int, str | None]],
    size: int,
    order_by: OrderBy,
    desc: bool,
) -> None:
    # SQLite compares names byte by byte (UTF-8), as Python compares code points.
    rows = [{"id": i, "name": n, "create_time": c, "update_time": u} for i, c, u, n in data]
    with sync_sqlite.begin() as conn:
        conn.execute(items.delete())
        if rows:
            conn.execute(items.insert(), rows)
    seen: list[int] = []
    token = ""
    with sync_sqlite.connect() as conn:
        for _ in range(len(rows) + 2):
            req = PageRequest(size, order_by, desc, token or None)
            stmt = apply_page(select(items), COLUMNS[order_by], items.c.id, req)
            page, token = finish_page(
                list(conn.execute(stmt)), req, _order_value(order_by), lambda r: r.id
            )
            seen.extend(r.id for r in page)
            if not token:
                break
    assert token == ""
    assert seen == _expected(rows, order_by, desc)


@pytest.mark.parametrize("order_by", INT_ORDERS)
async def test_cursor_beyond_32_bits_pages_without_driver_errors(
    db: AsyncEngine, order_by: OrderBy
) -> None:
    big = 2**62
    after_all = PageRequest(3, order_by, False, encode_token(big, big, order_by=order_by))
    assert await _page(db, after_all) == ([], "")
    before_all = PageRequest(
        3, order_by, True, encode_token(big, big, order_by=order_by, desc=True)
    )
    ids, token = await _page(db, before_all)
    assert ids == _expected(ROWS, order_by, True)[:3]
    assert token != ""
