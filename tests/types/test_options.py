"""ListOptions: the page size sent on the wire."""

import pytest

from model_registry.types import ListOptions
from model_registry.types.options import MAX_WIRE_PAGE_SIZE


@pytest.mark.parametrize(
    ("limit", "sent"),
    [
        (None, None),
        (1, 1),
        (1000, 1000),
        (MAX_WIRE_PAGE_SIZE, MAX_WIRE_PAGE_SIZE),
        (10**12, MAX_WIRE_PAGE_SIZE),
    ],
)
def test_wire_page_size_is_the_limit_capped_at_nine_digits(
    limit: int | None, sent: int | None
) -> None:
    assert ListOptions(limit=limit).wire_page_size == sent
