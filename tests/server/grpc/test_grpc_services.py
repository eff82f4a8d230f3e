"""Health, reflection, bearer tokens and TLS of the gRPC server."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import trustme
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from model_registry._generated.grpc.model_registry.v1alpha3 import model_registry_pb2 as pb
from model_registry._generated.grpc.model_registry.v1alpha3 import (
    model_registry_pb2_grpc as pb_grpc,
)
from model_registry.core import ModelRegistryAPIClient
from model_registry.exceptions import Unauthorized
from model_registry.operations import REGISTERED_MODEL
from model_registry.server import RunningServer, run_server
from model_registry.server.grpc import SERVICE_NAME, start_grpc_server
from model_registry.transport.grpc import GrpcTransport
from model_registry.types import ListOptions, RegisteredModel


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
async def test_health_answers_serving(channel: grpc.aio.Channel, service: str) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_registry_and_health_services(
    channel: grpc.aio.Channel,
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names: set[str] = set()
    async for answer in stub.ServerReflectionInfo(iter([request])):
        names |= {s.name for s in answer.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


async def test_reflection_describes_the_registry_messages(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)
    answers = [a async for a in stub.ServerReflectionInfo(iter([request]))]
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answers[0].file_descriptor_response.file_descriptor_proto
    ]
    services = {s.name: s for f in files for s in f.service}
    methods = {m.name for m in services["ModelRegistryService"].method}
    served = pb.DESCRIPTOR.services_by_name["ModelRegistryService"].methods_by_name
    assert "GetRegisteredModels" in methods and methods == set(served)
    assert "GetProjects" in methods


async def test_with_tokens_registry_rpcs_need_a_valid_bearer_token(
    grpc_server: RunningServer,
) -> None:
    server, port = await start_grpc_server(
        grpc_server.service, "127.0.0.1", 0, auth_tokens=["s3cret"]
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ModelRegistryServiceStub(channel)
            request = pb.GetRegisteredModelsRequest()
            for metadata in (None, (("authorization", "Bearer wrong"),)):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.GetRegisteredModels(request, metadata=metadata)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            ok = await stub.GetRegisteredModels(
                request, metadata=(("authorization", "Bearer s3cret"),)
            )
            assert ok.size == 0
            # Health stays open, as /healthz does on REST.
            health = health_pb2_grpc.HealthStub(channel)
            answer = await health.Check(health_pb2.HealthCheckRequest())
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(None)


async def test_the_transport_sends_the_token_and_rereads_it_once_on_unauthenticated(
    grpc_server: RunningServer,
) -> None:
    server, port = await start_grpc_server(
        grpc_server.service, "127.0.0.1", 0, auth_tokens=["fresh"]
    )
    handed_out: list[str] = []

    def token() -> str:
        # The first read is a stale token; the re-read after UNAUTHENTICATED is fresh.
        handed_out.append("stale" if not handed_out else "fresh")
        return handed_out[-1]

    transport = GrpcTransport("127.0.0.1", port, user_token=token, timeout=10.0)
    try:
        created = await transport.create(REGISTERED_MODEL, RegisteredModel("tok"))
        assert created.id
        assert handed_out == ["stale", "fresh"]
        page = await transport.page(REGISTERED_MODEL, ListOptions())
        assert [m.name for m in page] == ["tok"]
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_a_token_that_stays_wrong_is_unauthorized(grpc_server: RunningServer) -> None:
    server, port = await start_grpc_server(
        grpc_server.service, "127.0.0.1", 0, auth_tokens=["right"]
    )
    transport = GrpcTransport("127.0.0.1", port, user_token="wrong", timeout=10.0)
    try:
        with pytest.raises(Unauthorized):
            await transport.page(REGISTERED_MODEL, ListOptions())
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_tls_with_a_custom_ca(grpc_server: RunningServer, tmp_path: object) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    tls = (cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())
    server, port = await start_grpc_server(grpc_server.service, "127.0.0.1", 0, tls=tls)
    ca_file = f"{tmp_path}/ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    transport = GrpcTransport("localhost", port, secure=True, custom_ca=ca_file, timeout=10.0)
    try:
        created = await transport.create(REGISTERED_MODEL, RegisteredModel("over-tls"))
        assert (await transport.get(REGISTERED_MODEL, created.id or "")).name == "over-tls"
    finally:
        await transport.aclose()
        await server.stop(None)


async def test_a_server_run_with_tokens_protects_grpc_as_it_protects_rest(
    database_url: str,
) -> None:
    async with run_server(database_url, grpc_port=0, auth_tokens=["t0ken"]) as srv:
        assert srv.grpc_port
        anonymous = GrpcTransport("127.0.0.1", srv.grpc_port, timeout=10.0)
        holder = GrpcTransport("127.0.0.1", srv.grpc_port, user_token="t0ken", timeout=10.0)
        try:
            with pytest.raises(Unauthorized):
                await anonymous.page(REGISTERED_MODEL, ListOptions())
            created = await holder.create(REGISTERED_MODEL, RegisteredModel("guarded"))
            assert (await holder.get(REGISTERED_MODEL, created.id or "")).name == "guarded"
        finally:
            await anonymous.aclose()
            await holder.aclose()


async def test_the_client_talks_grpc_over_tls_with_a_custom_ca_and_a_token(
    database_url: str, tmp_path: Path
) -> None:
    # The user-facing path end to end: secure_connection(transport="grpc", custom_ca=...) to a
    # server run with TLS and a token.
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    async with run_server(
        database_url, grpc_port=0, tls_cert=cert_file, tls_key=key_file, auth_tokens=["tls-tok"]
    ) as srv:
        assert srv.grpc_port
        async with ModelRegistryAPIClient.secure_connection(
            "localhost",
            srv.grpc_port,
            user_token="tls-tok",
            custom_ca=str(ca_file),
            transport="grpc",
        ) as client:
            model = await client.upsert_registered_model(RegisteredModel("secure"))
            assert await client.get_registered_model_by_id(model.id) == model
