"""Methods over REST: every method the spec does not define on a path is a 405."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from conformance.http import RestApi, check_error_body, rest_api

# The served v1alpha3 document: the reference's spec plus our marked extensions (the deletes of
# experiments and runs), as make generate merges them.
SPEC = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "model_registry"
    / "_generated"
    / "specs"
    / "v1alpha3.yaml"
)
SPEC_BASE = "/api/model_registry/v1alpha3"
HTTP_METHODS = ("get", "post", "patch", "put", "delete")


def spec_operations() -> dict[str, set[str]]:
    """Map each path of the served spec (relative to the base, ids as "1") to its methods."""
    document = yaml.safe_load(SPEC.read_text())
    operations: dict[str, set[str]] = {}
    for template, item in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", template.removeprefix(SPEC_BASE))
        operations[path] = {method for method in HTTP_METHODS if method in item}
    return operations


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[RestApi]:
    """A REST wrapper bound to the test server."""
    async with rest_api(base_url) as client:
        yield client


async def test_every_method_the_spec_does_not_define_is_a_405(api: RestApi) -> None:
    operations = spec_operations()
    assert len(operations) >= 30

    wrong = []
    for path, methods in sorted(operations.items()):
        for method in sorted(set(HTTP_METHODS) - methods):
            reply = await api.request(method.upper(), path, json_body={})
            if reply.status != 405:
                wrong.append(reply.describe())
                continue
            check_error_body(reply, 405)

    assert wrong == []
