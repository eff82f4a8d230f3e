"""Projects and tokens over gRPC: project RPCs, the x-model-registry-project metadata scoping
every RPC, roles (PERMISSION_DENIED), revocation, token management with auth off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.server import RunningServer, run_server

Stub = pb_grpc.ModelRegistryServiceStub
ADMIN = "admin-secret"
ALPHA = "/api/model_registry/v1alpha3"


def md(token: str | None = ADMIN, project: str | None = None) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if token is not None:
        out.append(("authorization", f"Bearer {token}"))
    if project is not None:
        out.append(("x-model-registry-project", project))
    return tuple(out)


async def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    code: grpc.StatusCode = info.value.code()
    return code


@pytest.fixture
async def guarded(database_url: str) -> AsyncIterator[RunningServer]:
    async with run_server(database_url, grpc_port=0, auth_tokens=[ADMIN]) as srv:
        yield srv


@pytest.fixture
async def stub(guarded: RunningServer) -> AsyncIterator[Stub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        yield pb_grpc.ModelRegistryServiceStub(channel)


async def test_projects_are_created_read_listed_and_updated(stub: Stub) -> None:
    created = await stub.UpsertProject(
        pb.UpsertProjectRequest(
            project=pb.Project(
                name="fraud", description="d", model_task="MODEL_TASK_BINARY_CLASSIFICATION"
            )
        ),
        metadata=md(),
    )
    assert len(created.id) == 36 and created.model_task == "MODEL_TASK_BINARY_CLASSIFICATION"
    got = await stub.GetProjectById(pb.GetProjectByIdRequest(id=created.id), metadata=md())
    assert got == created
    found = await stub.GetProjectByParams(pb.GetProjectByParamsRequest(name="fraud"), metadata=md())
    assert found.id == created.id
    listed = await stub.GetProjects(pb.GetProjectsRequest(page_size=10), metadata=md())
    assert [p.name for p in listed.items] == ["default", "fraud"]
    updated = await stub.UpsertProject(
        pb.UpsertProjectRequest(project=pb.Project(id=created.id, description="new")),
        metadata=md(),
    )
    assert updated.description == "new" and updated.name == "fraud"
    await stub.UpsertRegisteredModel(
        pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m")),
        metadata=md(project="fraud"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.DeleteProject(pb.DeleteProjectRequest(id="fraud"), metadata=md())
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "1 registered model" in (info.value.details() or "")
    default = stub.DeleteProject(pb.DeleteProjectRequest(id="default", cascade=True), metadata=md())
    assert await _code(default) == grpc.StatusCode.INVALID_ARGUMENT
    await stub.DeleteProject(pb.DeleteProjectRequest(id=created.id, cascade=True), metadata=md())
    gone = stub.GetProjectById(pb.GetProjectByIdRequest(id=created.id), metadata=md())
    assert await _code(gone) == grpc.StatusCode.NOT_FOUND
    bad = stub.UpsertProject(
        pb.UpsertProjectRequest(project=pb.Project(name="x", model_task="NOPE")), metadata=md()
    )
    assert await _code(bad) == grpc.StatusCode.INVALID_ARGUMENT


async def test_metadata_scopes_every_rpc_to_its_project(stub: Stub, guarded: RunningServer) -> None:
    for name in ("a", "b"):
        await stub.UpsertProject(
            pb.UpsertProjectRequest(project=pb.Project(name=name)), metadata=md()
        )
    headers = {"Authorization": f"Bearer {ADMIN}", "X-Model-Registry-Project": "a"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(guarded.url + ALPHA + path, json=body) as r:
                assert r.status == 201, await r.text()
                answer: dict[str, Any] = await r.json()
                return answer

        model = await post("/registered_models", {"name": "m"})
        version = await post("/model_versions", {"name": "v", "registeredModelId": model["id"]})
        artifact = await post(
            f"/model_versions/{version['id']}/artifacts",
            {"artifactType": "model-artifact", "name": "art"},
        )
        env = await post("/serving_environments", {"name": "env"})
        isvc = await post(
            "/inference_services",
            {"name": "i", "servingEnvironmentId": env["id"], "registeredModelId": model["id"]},
        )
    in_a, in_b = md(project="a"), md(project="b")
    assert (
        await stub.GetRegisteredModelById(
            pb.GetRegisteredModelByIdRequest(id=model["id"]), metadata=in_a
        )
    ).name == "m"
    calls = [
        stub.GetRegisteredModelById(
            pb.GetRegisteredModelByIdRequest(id=model["id"]), metadata=in_b
        ),
        stub.GetRegisteredModelByParams(
            pb.GetRegisteredModelByParamsRequest(name="m"), metadata=in_b
        ),
        stub.GetModelVersionById(pb.GetModelVersionByIdRequest(id=version["id"]), metadata=in_b),
        stub.GetArtifactById(pb.GetArtifactByIdRequest(id=artifact["id"]), metadata=in_b),
        stub.GetModelVersionArtifacts(
            pb.GetModelVersionArtifactsRequest(model_version_id=version["id"]), metadata=in_b
        ),
        stub.GetRegisteredModelByInferenceService(
            pb.GetRegisteredModelByInferenceServiceRequest(inference_service_id=isvc["id"]),
            metadata=in_b,
        ),
        stub.GetModelVersionByInferenceService(
            pb.GetModelVersionByInferenceServiceRequest(inference_service_id=isvc["id"]),
            metadata=in_b,
        ),
        stub.GetInferenceServiceById(
            pb.GetInferenceServiceByIdRequest(id=isvc["id"]), metadata=in_b
        ),
        stub.GetProjectById(pb.GetProjectByIdRequest(id="nope"), metadata=md()),
        stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), metadata=md(project="nope")),
    ]
    for call in calls:
        assert await _code(call) == grpc.StatusCode.NOT_FOUND
    for lister in (
        stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), metadata=in_b),
        stub.GetModelVersions(pb.GetModelVersionsRequest(), metadata=in_b),
        stub.GetArtifacts(pb.GetArtifactsRequest(), metadata=in_b),
        stub.GetInferenceServices(pb.GetInferenceServicesRequest(), metadata=in_b),
        stub.GetRegisteredModels(
            pb.GetRegisteredModelsRequest(filter_query="name = 'm'"), metadata=in_b
        ),
    ):
        assert list((await lister).items) == []
    # Linking a's artifact into a version of b: as if it did not exist.
    b_model = await stub.UpsertRegisteredModel(
        pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m")),
        metadata=in_b,
    )
    b_version = await stub.UpsertModelVersion(
        pb.UpsertModelVersionRequest(
            model_version=pb.ModelVersion(name="v"), registered_model_id=b_model.id
        ),
        metadata=in_b,
    )
    link = stub.UpsertModelVersionArtifact(
        pb.UpsertModelVersionArtifactRequest(
            model_version_id=b_version.id,
            artifact=pb.Artifact(model_artifact=pb.ModelArtifact(id=artifact["id"])),
        ),
        metadata=in_b,
    )
    assert await _code(link) == grpc.StatusCode.NOT_FOUND


async def test_tokens_roles_and_revocation_over_grpc(stub: Stub) -> None:
    await stub.UpsertProject(pb.UpsertProjectRequest(project=pb.Project(name="p")), metadata=md())
    reader = await stub.CreateToken(
        pb.CreateTokenRequest(subject="r", roles={"p": "reader"}), metadata=md()
    )
    editor = await stub.CreateToken(
        pb.CreateTokenRequest(subject="e", roles={"p": "editor"}), metadata=md()
    )
    assert reader.secret and dict(reader.token.roles) == {"p": "reader"}
    create = pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.UpsertRegisteredModel(create, metadata=md(reader.secret))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'editor'" in (info.value.details() or "")
    await stub.UpsertRegisteredModel(create, metadata=md(editor.secret))
    listed = await stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(), metadata=md(reader.secret)
    )
    assert [m.name for m in listed.items] == ["m"]
    tokens = await stub.GetTokens(pb.GetTokensRequest(), metadata=md())
    assert sorted(t.subject for t in tokens.items) == ["e", "r"]
    revoked = await stub.RevokeToken(pb.RevokeTokenRequest(id=reader.token.id), metadata=md())
    assert revoked.subject == "r"
    gone = stub.GetRegisteredModels(pb.GetRegisteredModelsRequest(), metadata=md(reader.secret))
    assert await _code(gone) == grpc.StatusCode.UNAUTHENTICATED
    outside = stub.GetRegisteredModels(
        pb.GetRegisteredModelsRequest(), metadata=md(editor.secret, "default")
    )
    assert await _code(outside) == grpc.StatusCode.NOT_FOUND


async def test_a_token_default_project_names_the_first_project_and_must_be_one_of_them(
    stub: Stub,
) -> None:
    for name in ("a", "b"):
        await stub.UpsertProject(
            pb.UpsertProjectRequest(project=pb.Project(name=name)), metadata=md()
        )
    token = await stub.CreateToken(
        pb.CreateTokenRequest(
            subject="t", roles={"a": "reader", "b": "editor"}, default_project="b"
        ),
        metadata=md(),
    )
    create = pb.UpsertRegisteredModelRequest(registered_model=pb.RegisteredModel(name="m"))
    made = await stub.UpsertRegisteredModel(create, metadata=md(token.secret))  # lands in b
    in_b = stub.GetRegisteredModelById(
        pb.GetRegisteredModelByIdRequest(id=made.id), metadata=md(project="b")
    )
    assert (await in_b).name == "m"
    wrong = stub.CreateToken(
        pb.CreateTokenRequest(subject="t", roles={"a": "reader"}, default_project="b"),
        metadata=md(),
    )
    assert await _code(wrong) == grpc.StatusCode.INVALID_ARGUMENT


async def test_with_auth_off_token_rpcs_are_invalid_argument(grpc_server: RunningServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server.grpc_port}") as channel:
        open_stub = pb_grpc.ModelRegistryServiceStub(channel)
        call = open_stub.CreateToken(
            pb.CreateTokenRequest(subject="a", roles={"default": "reader"})
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "authentication is off" in (info.value.details() or "")
