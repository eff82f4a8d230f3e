"""The exception hierarchy and its two mapping choke points."""

from __future__ import annotations

import pytest

from model_registry import exceptions as exc


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, exc.BadRequest),
        (401, exc.Unauthorized),
        (403, exc.Forbidden),
        (404, exc.NotFound),
        (405, exc.BadRequest),
        (409, exc.Conflict),
        (413, exc.BadRequest),
        (422, exc.UnprocessableEntity),
        (429, exc.Unavailable),
        (500, exc.ServerError),
        (501, exc.ServerError),
        (502, exc.Unavailable),
        (503, exc.Unavailable),
        (504, exc.Unavailable),
    ],
)
def test_http_status_maps_to_its_class(status: int, cls: type[exc.StatusError]) -> None:
    err = exc.from_http_response(status, b'{"code": "C", "message": "M"}', method="GET", path="/p")
    assert type(err) is cls
    assert isinstance(err, exc.ModelRegistryError)
    assert (err.status, err.code, err.message, err.method, err.path) == (
        status,
        "C",
        "M",
        "GET",
        "/p",
    )


def test_error_keeps_the_request_but_not_the_query_string() -> None:
    err = exc.from_http_response(404, b"", method="GET", path="/api/x?name=secret")
    assert err.path == "/api/x"
    assert "GET /api/x" in str(err)
    assert err.message == "Not Found"


def test_non_json_error_body_becomes_the_message() -> None:
    err = exc.from_http_response(502, b"<html>bad gateway</html>", method="GET", path="/")
    assert isinstance(err, exc.Unavailable)
    assert err.code is None
    assert "bad gateway" in err.message


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("NOT_FOUND", exc.NotFound),
        ("ALREADY_EXISTS", exc.Conflict),
        ("INVALID_ARGUMENT", exc.BadRequest),
        ("UNAUTHENTICATED", exc.Unauthorized),
        ("PERMISSION_DENIED", exc.Forbidden),
        ("UNAVAILABLE", exc.Unavailable),
        ("FAILED_PRECONDITION", exc.UnprocessableEntity),
        ("INTERNAL", exc.ServerError),
        ("UNKNOWN", exc.ServerError),
        ("SOMETHING_NEW", exc.ServerError),
    ],
)
def test_grpc_code_maps_to_the_same_classes(code: str, cls: type[exc.StatusError]) -> None:
    err = exc.from_grpc_status(code, "details", path="GetRegisteredModelById")
    assert type(err) is cls
    assert isinstance(err, exc.StatusError)
    assert err.status == code
    assert err.path == "GetRegisteredModelById"


def test_grpc_deadline_is_a_timeout() -> None:
    err = exc.from_grpc_status("DEADLINE_EXCEEDED", "late", path="GetArtifacts")
    assert isinstance(err, exc.Timeout)
    assert isinstance(err, TimeoutError)
    assert isinstance(err, exc.TransportError)


def test_transport_errors_are_apart_from_status_errors() -> None:
    assert not issubclass(exc.ConnectionFailed, exc.StatusError)
    assert issubclass(exc.ConnectionFailed, exc.ModelRegistryError)
    assert issubclass(exc.InvalidResponse, ValueError)
