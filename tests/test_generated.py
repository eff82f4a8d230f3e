"""The generated stubs: fresh, warning-free, complete, and free of httpx.

These tests run scripts/generate.py (the code behind `make generate`) into a temporary
directory and compare the result with what is committed under src/model_registry/_generated.
"""

from __future__ import annotations

import difflib
import filecmp
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml  # type: ignore[import-untyped]
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
GENERATED = Path("src") / "model_registry" / "_generated"
SPEC = REPO / "openapi" / "model-registry.yaml"
# The reference spec is a data file outside the repository; when present, the tables below are
# checked against it. The tables are what the spec must match, so a clean checkout needs only them.
REFERENCE_SPEC = Path("/work/shared/reference/kubeflow-model-registry-v1alpha3.yaml")
SERVED_ALPHA_SPEC = REPO / GENERATED / "specs" / "v1alpha3.yaml"
"""The v1alpha3 spec as served and generated: :data:`SPEC` with openapi/extensions-v1alpha3.yaml."""
ALPHA_OVERLAY = REPO / "openapi" / "extensions-v1alpha3.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BASE_PATH = "/api/model_registry/v1alpha3"
PAGED = "filterQuery nextPageToken orderBy pageSize sortOrder"

# Facts of the Kubeflow Model Registry REST API v1alpha3: operationId -> (method, path below
# BASE_PATH, query parameter names). Path parameters are the ones named in the path.
REFERENCE_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "createArtifact": ("post", "/artifacts", ""),
    "createEnvironmentInferenceService": (
        "post",
        "/serving_environments/{servingenvironmentId}/inference_services",
        "",
    ),
    "createExperiment": ("post", "/experiments", ""),
    "createExperimentExperimentRun": ("post", "/experiments/{experimentId}/experiment_runs", ""),
    "createExperimentRun": ("post", "/experiment_runs", ""),
    "createInferenceService": ("post", "/inference_services", ""),
    "createInferenceServiceServe": ("post", "/inference_services/{inferenceserviceId}/serves", ""),
    "createModelArtifact": ("post", "/model_artifacts", ""),
    "createModelVersion": ("post", "/model_versions", ""),
    "createRegisteredModel": ("post", "/registered_models", ""),
    "createRegisteredModelVersion": ("post", "/registered_models/{registeredmodelId}/versions", ""),
    "createServingEnvironment": ("post", "/serving_environments", ""),
    "findArtifact": ("get", "/artifact", "externalId name parentResourceId"),
    "findExperiment": ("get", "/experiment", "externalId name"),
    "findExperimentRun": ("get", "/experiment_run", "externalId name parentResourceId"),
    "findInferenceService": ("get", "/inference_service", "externalId name parentResourceId"),
    "findModelArtifact": ("get", "/model_artifact", "externalId name parentResourceId"),
    "findModelVersion": ("get", "/model_version", "externalId name parentResourceId"),
    "findRegisteredModel": ("get", "/registered_model", "externalId name"),
    "findServingEnvironment": ("get", "/serving_environment", "externalId name"),
    "getArtifact": ("get", "/artifacts/{id}", ""),
    "getArtifacts": ("get", "/artifacts", f"artifactType {PAGED}"),
    "getEnvironmentInferenceServices": (
        "get",
        "/serving_environments/{servingenvironmentId}/inference_services",
        f"externalId name {PAGED}",
    ),
    "getExperiment": ("get", "/experiments/{experimentId}", ""),
    "getExperimentExperimentRuns": (
        "get",
        "/experiments/{experimentId}/experiment_runs",
        f"externalId name {PAGED}",
    ),
    "getExperimentRun": ("get", "/experiment_runs/{experimentrunId}", ""),
    "getExperimentRunArtifacts": (
        "get",
        "/experiment_runs/{experimentrunId}/artifacts",
        f"artifactType externalId name {PAGED}",
    ),
    "getExperimentRunMetricHistory": (
        "get",
        "/experiment_runs/{experimentrunId}/metric_history",
        f"name stepIds {PAGED}",
    ),
    "getExperimentRuns": ("get", "/experiment_runs", PAGED),
    "getExperimentRunsMetricHistory": (
        "get",
        "/experiment_runs/metric_history",
        f"name stepIds {PAGED}",
    ),
    "getExperiments": ("get", "/experiments", PAGED),
    "getInferenceService": ("get", "/inference_services/{inferenceserviceId}", ""),
    "getInferenceServiceModel": ("get", "/inference_services/{inferenceserviceId}/model", ""),
    "getInferenceServiceServes": (
        "get",
        "/inference_services/{inferenceserviceId}/serves",
        f"externalId name {PAGED}",
    ),
    "getInferenceServiceVersion": ("get", "/inference_services/{inferenceserviceId}/version", ""),
    "getInferenceServices": ("get", "/inference_services", PAGED),
    "getModelArtifact": ("get", "/model_artifacts/{modelartifactId}", ""),
    "getModelArtifacts": ("get", "/model_artifacts", PAGED),
    "getModelVersion": ("get", "/model_versions/{modelversionId}", ""),
    "getModelVersionArtifacts": (
        "get",
        "/model_versions/{modelversionId}/artifacts",
        f"artifactType externalId name {PAGED}",
    ),
    "getModelVersions": ("get", "/model_versions", PAGED),
    "getRegisteredModel": ("get", "/registered_models/{registeredmodelId}", ""),
    "getRegisteredModelVersions": (
        "get",
        "/registered_models/{registeredmodelId}/versions",
        f"externalId name {PAGED}",
    ),
    "getRegisteredModels": ("get", "/registered_models", PAGED),
    "getServingEnvironment": ("get", "/serving_environments/{servingenvironmentId}", ""),
    "getServingEnvironments": ("get", "/serving_environments", PAGED),
    "updateArtifact": ("patch", "/artifacts/{id}", ""),
    "updateExperiment": ("patch", "/experiments/{experimentId}", ""),
    "updateExperimentRun": ("patch", "/experiment_runs/{experimentrunId}", ""),
    "updateInferenceService": ("patch", "/inference_services/{inferenceserviceId}", ""),
    "updateModelArtifact": ("patch", "/model_artifacts/{modelartifactId}", ""),
    "updateModelVersion": ("patch", "/model_versions/{modelversionId}", ""),
    "updateRegisteredModel": ("patch", "/registered_models/{registeredmodelId}", ""),
    "updateServingEnvironment": ("patch", "/serving_environments/{servingenvironmentId}", ""),
    "upsertExperimentRunArtifact": ("post", "/experiment_runs/{experimentrunId}/artifacts", ""),
    "upsertModelVersionArtifact": ("post", "/model_versions/{modelversionId}/artifacts", ""),
}
_REFERENCE_SCHEMA_NAMES = """
    Artifact ArtifactCreate ArtifactList ArtifactState ArtifactTypeQueryParam ArtifactUpdate
    BaseArtifact BaseModel BaseResource BaseResourceCreate BaseResourceDates BaseResourceList
    BaseResourceUpdate DataSet DataSetCreate DataSetUpdate DocArtifact DocArtifactCreate
    DocArtifactUpdate Error ExecutionState Experiment ExperimentCreate ExperimentList
    ExperimentRun ExperimentRunCreate ExperimentRunList ExperimentRunState ExperimentRunStatus
    ExperimentRunUpdate ExperimentState ExperimentUpdate InferenceService InferenceServiceCreate
    InferenceServiceList InferenceServiceState InferenceServiceUpdate MetadataBoolValue
    MetadataDoubleValue MetadataIntValue MetadataProtoValue MetadataStringValue
    MetadataStructValue MetadataValue Metric MetricCreate MetricList MetricUpdate ModelArtifact
    ModelArtifactCreate ModelArtifactList ModelArtifactUpdate ModelVersion ModelVersionCreate
    ModelVersionList ModelVersionState ModelVersionUpdate OrderByField Parameter ParameterCreate
    ParameterType ParameterUpdate RegisteredModel RegisteredModelCreate RegisteredModelList
    RegisteredModelState RegisteredModelUpdate ServeModel ServeModelCreate ServeModelList
    ServeModelUpdate ServingEnvironment ServingEnvironmentCreate ServingEnvironmentList
    ServingEnvironmentUpdate SortOrder
"""
REFERENCE_SCHEMAS = frozenset(_REFERENCE_SCHEMA_NAMES.split())

V1_SPEC = REPO / "openapi" / "model-registry-v1.yaml"
V1_BASE_PATH = "/api/model_registry/v1"
# Facts of the Kubeflow Model Registry REST API v1 (the reference client 0.3.18's generated
# mr_openapi, COMPAT.md "API v1"): operationId -> path below V1_BASE_PATH. Methods and query
# parameters are those of the same operation on v1alpha3.
REFERENCE_V1_PATHS: dict[str, str] = {
    "createArtifact": "/artifacts",
    "createEnvironmentInferenceService": (
        "/serving_environments/{serving_environment_id}/inference_services"
    ),
    "createInferenceService": "/inference_services",
    "createInferenceServiceServe": "/inference_services/{inference_service_id}/serves",
    "createModelArtifact": "/model_artifacts",
    "createModelVersion": "/model_versions",
    "createRegisteredModel": "/registered_models",
    "createRegisteredModelVersion": "/registered_models/{registered_model_id}/versions",
    "createServingEnvironment": "/serving_environments",
    "findArtifact": "/artifact",
    "findInferenceService": "/inference_service",
    "findModelArtifact": "/model_artifact",
    "findModelVersion": "/model_version",
    "findRegisteredModel": "/registered_model",
    "findServingEnvironment": "/serving_environment",
    "getArtifact": "/artifacts/{id}",
    "getArtifacts": "/artifacts",
    "getEnvironmentInferenceServices": (
        "/serving_environments/{serving_environment_id}/inference_services"
    ),
    "getInferenceService": "/inference_services/{inference_service_id}",
    "getInferenceServiceModel": "/inference_services/{inference_service_id}/model",
    "getInferenceServiceServes": "/inference_services/{inference_service_id}/serves",
    "getInferenceServiceVersion": "/inference_services/{inference_service_id}/version",
    "getInferenceServices": "/inference_services",
    "getModelArtifact": "/model_artifacts/{model_artifact_id}",
    "getModelArtifacts": "/model_artifacts",
    "getModelVersion": "/model_versions/{model_version_id}",
    "getModelVersionArtifacts": "/model_versions/{model_version_id}/artifacts",
    "getModelVersions": "/model_versions",
    "getRegisteredModel": "/registered_models/{registered_model_id}",
    "getRegisteredModelVersions": "/registered_models/{registered_model_id}/versions",
    "getRegisteredModels": "/registered_models",
    "getServingEnvironment": "/serving_environments/{serving_environment_id}",
    "getServingEnvironments": "/serving_environments",
    "updateArtifact": "/artifacts/{id}",
    "updateInferenceService": "/inference_services/{inference_service_id}",
    "updateModelArtifact": "/model_artifacts/{model_artifact_id}",
    "updateModelVersion": "/model_versions/{model_version_id}",
    "updateRegisteredModel": "/registered_models/{registered_model_id}",
    "updateServingEnvironment": "/serving_environments/{serving_environment_id}",
    "upsertModelVersionArtifact": "/model_versions/{model_version_id}/artifacts",
}
REFERENCE_V1_SCHEMAS = frozenset(
    name for name in REFERENCE_SCHEMAS if not name.startswith("Experiment") and name != "MetricList"
)


def _run_generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


@pytest.fixture(scope="module")
def fresh_generation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Run the generator once into a temp root; yield (generated dir, stderr)."""
    root = tmp_path_factory.mktemp("generated-root")
    proc = _run_generate("--out", str(root))
    assert proc.returncode == 0, f"scripts/generate.py failed:\n{proc.stdout}\n{proc.stderr}"
    yield root / GENERATED, proc.stderr


def _files(top: Path) -> dict[str, Path]:
    return {
        p.relative_to(top).as_posix(): p
        for p in sorted(top.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _diff_summary(committed: Path, fresh: Path) -> list[str]:
    """Human-readable differences between two generated trees (empty when identical)."""
    old, new = _files(committed), _files(fresh)
    problems = [f"missing from the commit: {name}" for name in sorted(new.keys() - old.keys())]
    problems += [f"stale file (no longer generated): {name}" for name in sorted(old.keys() - new)]
    for name in sorted(old.keys() & new.keys()):
        if filecmp.cmp(old[name], new[name], shallow=False):
            continue
        diff = list(
            difflib.unified_diff(
                old[name].read_text(encoding="utf-8", errors="replace").splitlines(),
                new[name].read_text(encoding="utf-8", errors="replace").splitlines(),
                fromfile=f"committed/{name}",
                tofile=f"generated/{name}",
                lineterm="",
                n=1,
            )
        )
        problems.append(f"differs: {name}\n" + "\n".join(diff[:20]))
    return problems


def test_committed_generated_code_matches_a_fresh_generation(
    fresh_generation: tuple[Path, str],
) -> None:
    fresh, _ = fresh_generation
    problems = _diff_summary(REPO / GENERATED, fresh)
    assert not problems, (
        "src/model_registry/_generated is stale; run `make generate` and commit it:\n\n"
        + "\n\n".join(problems[:15])
        + (f"\n\n... and {len(problems) - 15} more" if len(problems) > 15 else "")
    )


def test_fresh_generation_covers_both_openapi_and_grpc_stubs(
    fresh_generation: tuple[Path, str],
) -> None:
    fresh, _ = fresh_generation
    names = _files(fresh)
    for package in ("openapi", "openapi_v1"):
        assert f"{package}/client.py" in names
        assert f"{package}/api/model_registry_service/get_registered_models.py" in names
    assert "openapi_v1/api/model_registry_service/get_experiments.py" not in names
    protos = sorted((REPO / "proto").rglob("*.proto"))
    for proto in protos:
        stem = proto.relative_to(REPO / "proto").with_suffix("").as_posix()
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert f"grpc/{stem}{suffix}" in names


def test_committed_v1_spec_matches_a_fresh_derivation(
    fresh_generation: tuple[Path, str],
) -> None:
    fresh, _ = fresh_generation
    derived = fresh.parents[2] / "openapi" / V1_SPEC.name

    assert derived.read_text(encoding="utf-8") == V1_SPEC.read_text(encoding="utf-8"), (
        f"{V1_SPEC.relative_to(REPO)} is stale; run `make generate` and commit it"
    )


V1_PROTO = REPO / "proto" / "model_registry" / "v1" / "model_registry.proto"


def test_committed_stable_grpc_proto_matches_a_fresh_derivation(
    fresh_generation: tuple[Path, str],
) -> None:
    fresh, _ = fresh_generation
    derived = fresh.parents[2] / V1_PROTO.relative_to(REPO)
    assert derived.read_text(encoding="utf-8") == V1_PROTO.read_text(encoding="utf-8"), (
        f"{V1_PROTO.relative_to(REPO)} is stale; run `make generate` and commit it"
    )


def test_the_stable_grpc_proto_is_derived_from_the_v1alpha3_service_without_experiments() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import generate
    finally:
        sys.path.remove(str(REPO / "scripts"))
    alpha = """syntax = "proto3";
package model_registry.v1alpha3;
service ModelRegistryService {
  // A comment.
  rpc GetThing(GetThingRequest) returns (Thing);
  rpc Upload(stream Chunk)
      returns (Thing);
  rpc UpsertExperiment(UpsertExperimentRequest) returns (Experiment);
  rpc Watch(WatchRequest) returns (stream Event);
}
"""
    text = generate.derive_v1_proto(alpha)
    assert "package model_registry.v1;" in text
    rpcs = [line.strip() for line in text.splitlines() if line.strip().startswith("rpc ")]
    assert rpcs == [
        "rpc GetThing(model_registry.v1alpha3.GetThingRequest)",
        "rpc Upload(stream model_registry.v1alpha3.Chunk)",
        "rpc Watch(model_registry.v1alpha3.WatchRequest)",
    ]
    assert "returns (stream model_registry.v1alpha3.Event);" in text
    assert "Experiment" not in text.split("service", 1)[1]


def test_generation_emits_no_warnings(fresh_generation: tuple[Path, str]) -> None:
    _, stderr = fresh_generation
    assert stderr.strip() == ""


def test_openapi_generator_itself_reports_no_problems_for_the_spec(tmp_path: Path) -> None:
    from openapi_python_client import generate
    from openapi_python_client.config import Config, ConfigFile, MetaType

    config = Config.from_sources(
        config_file=ConfigFile.load_from_path(REPO / "openapi" / "config.yaml"),
        meta_type=MetaType("none"),
        document_source=SPEC,
        file_encoding="utf-8",
        overwrite=False,
        output_path=tmp_path / "pkg",
    )
    problems = generate(config=config, custom_template_path=REPO / "openapi" / "templates")
    assert [f"{p.level}: {p.header} {p.detail}" for p in problems] == []


def test_generation_fails_loudly_when_the_spec_makes_the_generator_warn(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # A response schema that points nowhere: the generator skips the operation with a warning.
    get = spec["paths"]["/api/model_registry/v1alpha3/registered_models"]["get"]
    get["responses"]["200"] = {
        "description": "broken",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nowhere"}}},
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(spec), encoding="utf-8")

    proc = _run_generate("--out", str(tmp_path / "out"), "--spec", str(broken))

    assert proc.returncode != 0
    assert "openapi-python-client reported problems" in proc.stderr
    assert "GET /api/model_registry/v1alpha3/registered_models" in proc.stderr
    assert not (tmp_path / "out" / GENERATED / "openapi").exists()


def _operations(spec: dict[str, Any], base: str = BASE_PATH) -> dict[str, tuple[str, str, str]]:
    """operationId -> (method, path below ``base``, sorted query parameter names)."""

    def resolve(param: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in param:
            name = param["$ref"].split("/")[-1]
            resolved: dict[str, Any] = spec["components"]["parameters"][name]
            return resolved
        return param

    ops = {}
    for path, item in spec["paths"].items():
        shared = [resolve(p) for p in item.get("parameters", [])]
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = shared + [resolve(p) for p in op.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), op["operationId"]
            assert {p["in"] for p in params} <= {"path", "query"}, op["operationId"]
            query = " ".join(sorted(p["name"] for p in params if p["in"] == "query"))
            assert path.startswith(base + "/"), path
            ops[op["operationId"]] = (method, path[len(base) :], query)
    return ops


def _expected_operations() -> dict[str, tuple[str, str, str]]:
    return {
        op_id: (method, path, " ".join(sorted(query.split())))
        for op_id, (method, path, query) in REFERENCE_OPERATIONS.items()
    }


def test_spec_has_every_reference_operation_with_the_same_path_method_and_parameters() -> None:
    ours = _operations(yaml.safe_load(SPEC.read_text(encoding="utf-8")))

    assert len(REFERENCE_OPERATIONS) == 56
    assert ours == _expected_operations()


def test_spec_keeps_every_reference_schema_name_and_declares_custom_properties_once() -> None:
    ours = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]

    assert set(REFERENCE_SCHEMAS) <= set(ours)
    assert ours["CustomProperties"]["additionalProperties"] == {
        "$ref": "#/components/schemas/MetadataValue"
    }
    for name, schema in ours.items():
        props = schema.get("properties", {})
        if "customProperties" in props:
            assert props["customProperties"] == {"$ref": "#/components/schemas/CustomProperties"}, (
                name
            )


def _reference_part(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without our extensions: every node marked ``x-extension: true`` and the tag
    ``extensions`` removed (and a path left with no operation)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            ours = node.get("x-extension-values", [])
            return {
                key: [v for v in strip(value) if v not in ours] if key == "enum" else strip(value)
                for key, value in node.items()
                if key != "x-extension-values"
                and not (isinstance(value, dict) and value.get("x-extension") is True)
            }
        if isinstance(node, list):
            return [strip(value) for value in node]
        return node

    stripped: dict[str, Any] = strip(spec)
    stripped["tags"] = [tag for tag in stripped["tags"] if tag["name"] != "extensions"]
    stripped["paths"] = {
        path: item
        for path, item in stripped["paths"].items()
        if any(method in item for method in METHODS)
    }
    return stripped


def test_v1_spec_has_the_40_reference_v1_operations_with_snake_case_path_parameters() -> None:
    ours = _operations(
        _reference_part(yaml.safe_load(V1_SPEC.read_text(encoding="utf-8"))), V1_BASE_PATH
    )
    alpha = _expected_operations()

    assert len(REFERENCE_V1_PATHS) == 40
    assert ours == {
        op_id: (alpha[op_id][0], path, alpha[op_id][2])
        for op_id, path in REFERENCE_V1_PATHS.items()
    }


def test_v1_spec_schemas_are_the_reference_v1_ones_with_a_string_metric_step() -> None:
    spec = _reference_part(yaml.safe_load(V1_SPEC.read_text(encoding="utf-8")))
    schemas = spec["components"]["schemas"]

    assert set(schemas) == REFERENCE_V1_SCHEMAS | {"CustomProperties"}
    for name in ("Metric", "MetricCreate", "MetricUpdate"):
        assert schemas[name]["properties"]["step"]["type"] == "string", name
    for name, schema in schemas.items():
        props = schema.get("properties", {})
        assert "experimentId" not in props and "experimentRunId" not in props, name


@pytest.mark.parametrize(
    ("spec_path", "version"),
    [(SERVED_ALPHA_SPEC, "v1alpha3"), (V1_SPEC, "v1")],
    ids=["v1alpha3", "v1"],
)
def test_spec_operations_are_exactly_the_routes_the_server_serves(
    spec_path: Path, version: str
) -> None:
    from model_registry.server.rest import add_routes
    from model_registry.server.versions import API_VERSIONS

    base = API_VERSIONS[version].base_path

    def shape(path: str) -> str:
        return re.sub(r"{\w+}", "{}", path)

    app = web.Application()
    add_routes(app, [version])
    routed = {
        (route.method.lower(), shape(route.resource.canonical[len(base) :]))
        for route in app.router.routes()
        if route.resource is not None and route.method != "*"
    }
    specified = {
        (method, shape(path))
        for method, path, _ in _operations(
            yaml.safe_load(spec_path.read_text(encoding="utf-8")), base
        ).values()
    }

    assert routed == specified


def test_embedded_reference_tables_match_the_reference_spec_file() -> None:
    if not REFERENCE_SPEC.is_file():
        pytest.skip(f"reference spec not available at {REFERENCE_SPEC}")
    reference = yaml.safe_load(REFERENCE_SPEC.read_text(encoding="utf-8"))

    assert _operations(reference) == _expected_operations()
    assert set(reference["components"]["schemas"]) == REFERENCE_SCHEMAS


@pytest.mark.parametrize("spec_path", [SPEC, V1_SPEC], ids=["v1alpha3", "v1"])
def test_create_and_update_request_bodies_refuse_unknown_fields(spec_path: Path) -> None:
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]

    def leaves(name: str) -> list[str]:
        schema = schemas[name]
        if "oneOf" in schema:
            return [ref["$ref"].split("/")[-1] for ref in schema["oneOf"]]
        return [name]

    checked = set()
    for item in spec["paths"].values():
        for method in METHODS:
            body = item.get(method, {}).get("requestBody")
            if body is None or "application/json" not in body["content"]:
                continue  # none, or bytes (an artifact's content)
            name = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            for leaf in leaves(name):
                if leaf.endswith(("Create", "Update")):
                    assert schemas[leaf].get("additionalProperties") is False, leaf
                    checked.add(leaf)
    strict = {
        name
        for name in schemas
        if name.endswith(("Create", "Update"))
        and not name.startswith(("Base", "ArtifactCreate", "ArtifactUpdate"))
    }
    assert all(schemas[name].get("additionalProperties") is False for name in strict)
    # Neither version has a PATCH for serve records, so ServeModelUpdate is never a body.
    assert checked == strict - {"ServeModelUpdate"}


def _import_everything_script() -> str:
    return (
        "import importlib, json, pkgutil, sys\n"
        "import model_registry._generated as root\n"
        "names = [m.name for m in pkgutil.walk_packages(root.__path__, root.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'modules': names, 'httpx': sorted(\n"
        "    m for m in sys.modules if m == 'httpx' or m.startswith('httpx.'))}))\n"
    )


def test_importing_every_generated_module_does_not_import_httpx() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _import_everything_script()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=REPO,
    )
    result = json.loads(proc.stdout)

    assert result["httpx"] == []
    assert "model_registry._generated.openapi.client" in result["modules"]
    assert any(m.endswith("_pb2_grpc") for m in result["modules"])


def test_every_endpoint_module_is_async_only_and_goes_through_client_send() -> None:
    import importlib
    import importlib.util
    import inspect
    import pkgutil

    import model_registry._generated.openapi.api.model_registry_service as endpoints
    import model_registry._generated.openapi_v1.api.model_registry_service as v1_endpoints

    modules = [f"{endpoints.__name__}.{m.name}" for m in pkgutil.iter_modules(endpoints.__path__)]
    v1_modules = [
        f"{v1_endpoints.__name__}.{m.name}" for m in pkgutil.iter_modules(v1_endpoints.__path__)
    ]
    assert len(modules) == 56
    assert len(v1_modules) == 40
    if importlib.util.find_spec(f"{v1_endpoints.__name__.rsplit('.', 1)[0]}.extensions"):
        extensions = importlib.import_module("model_registry._generated.openapi_v1.api.extensions")
        v1_modules += [
            f"{extensions.__name__}.{m.name}" for m in pkgutil.iter_modules(extensions.__path__)
        ]
    for name in modules + v1_modules:
        module = importlib.import_module(name)
        assert inspect.iscoroutinefunction(module.asyncio_detailed), name
        assert inspect.iscoroutinefunction(module.asyncio), name
        assert not hasattr(module, "sync") and not hasattr(module, "sync_detailed"), name
        assert "client.send(" in inspect.getsource(module), name


async def test_client_send_carries_method_path_query_and_json_over_a_real_socket() -> None:
    from model_registry._generated.openapi import Client, RawResponse
    from model_registry._generated.openapi.api.model_registry_service import (
        create_registered_model,
        get_registered_models,
    )
    from model_registry._generated.openapi.models import (
        CustomProperties,
        MetadataIntValue,
        OrderByField,
        RegisteredModel,
        RegisteredModelCreate,
        RegisteredModelList,
    )

    seen: list[tuple[str, str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append((request.method, request.path_qs, body))
        if request.method == "POST":
            stored = {**json.loads(body), "id": "1", "createTimeSinceEpoch": "5"}
            return web.json_response(stored, status=201)
        page = {"items": [], "nextPageToken": "", "pageSize": 10, "size": 0}
        return web.json_response(page, headers={"X-Probe": "yes"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(f"http://127.0.0.1:{port}/", session)
            props = CustomProperties()
            props["runs"] = MetadataIntValue(int_value="3")

            created = await create_registered_model.asyncio_detailed(
                client=client, body=RegisteredModelCreate(name="m", custom_properties=props)
            )
            listed = await get_registered_models.asyncio_detailed(
                client=client, page_size="10", order_by=OrderByField.CREATE_TIME
            )
            raw = await client.send("GET", "/api/model_registry/v1alpha3/registered_models")
    finally:
        await runner.cleanup()

    assert created.status_code == 201
    assert isinstance(created.parsed, RegisteredModel)
    assert created.parsed.id == "1"
    assert created.parsed.custom_properties["runs"] == MetadataIntValue(int_value="3")
    assert isinstance(listed.parsed, RegisteredModelList)
    assert listed.headers["x-probe"] == "yes"
    assert isinstance(raw, RawResponse) and raw.json()["pageSize"] == 10
    assert seen[0] == (
        "POST",
        "/api/model_registry/v1alpha3/registered_models",
        json.dumps(
            {
                "name": "m",
                "customProperties": {
                    "runs": {"metadataType": "MetadataIntValue", "int_value": "3"}
                },
            }
        ),
    )
    assert seen[1][:2] == (
        "GET",
        "/api/model_registry/v1alpha3/registered_models?pageSize=10&orderBy=CREATE_TIME",
    )


def test_client_send_and_raw_response_keep_the_shapes_the_transport_relies_on() -> None:
    import inspect

    import attrs

    from model_registry._generated.openapi import Client, RawResponse, Response

    assert [f.name for f in attrs.fields(Client)][:2] == ["base_url", "session"]
    send = inspect.signature(Client.send)
    assert list(send.parameters) == ["self", "method", "url", "params", "json", "data", "headers"]
    assert all(
        send.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        for name in ("params", "json", "data", "headers")
    )
    assert inspect.iscoroutinefunction(Client.send)
    assert [f.name for f in attrs.fields(RawResponse)] == ["status_code", "headers", "content"]
    assert attrs.fields(RawResponse).content.type in (bytes, "bytes")
    assert [f.name for f in attrs.fields(Response)] == [
        "status_code",
        "content",
        "headers",
        "parsed",
    ]
    raw = RawResponse(status_code=200, headers={}, content=b"{}")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        raw.status_code = 500


def test_every_generated_file_says_it_is_generated_and_must_not_be_edited() -> None:
    root = REPO / GENERATED
    files = [p for p in _files(root).values() if p.suffix in (".py", ".pyi")]
    assert files
    for path in files:
        head = "\n".join(path.read_text(encoding="utf-8").splitlines()[:3]).lower()
        name = path.relative_to(root).as_posix()
        if name.startswith(("openapi/", "openapi_v1/")) or path.name == "__init__.py":
            # Our own header, written by the templates and by scripts/generate.py.
            assert head.startswith("# generated by `make generate`"), name
            assert "do not edit" in head, name
        else:
            # protoc and mypy-protobuf output keeps the tools' own "generated, do not edit" line.
            assert "generated" in head and "do not edit" in head, name


# -- the v1 extension overlay (openapi/extensions-v1.yaml, merge_extensions) ----------------

OVERLAY = REPO / "openapi" / "extensions-v1.yaml"


def _generate_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_script", REPO / "scripts" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_script = _generate_module()


def _derived_v1() -> dict[str, Any]:
    result: dict[str, Any] = generate_script.derive_v1_spec(
        yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    )
    return result


def _marked_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and op.get("x-extension") is True
    }


def test_v1_spec_without_its_extensions_is_exactly_the_v1_derived_from_v1alpha3() -> None:
    v1 = yaml.safe_load(V1_SPEC.read_text(encoding="utf-8"))
    reference = _reference_part(v1)

    assert reference == _derived_v1()
    assert len(_operations(reference, V1_BASE_PATH)) == 40


def test_every_overlay_operation_is_in_the_v1_spec_marked_and_tagged_as_ours() -> None:
    v1 = yaml.safe_load(V1_SPEC.read_text(encoding="utf-8"))
    overlay = yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))
    written = {
        (method, path)
        for path, item in (overlay.get("paths") or {}).items()
        for method in item
        if method in METHODS
    }
    marked = _marked_operations(v1)

    assert set(marked) == written
    for op in marked.values():
        assert op["tags"] == ["extensions"], op["operationId"]
    for section, entries in (overlay.get("components") or {}).items():
        for name in entries or {}:
            assert v1["components"][section][name]["x-extension"] is True, name
    for name, props in (overlay.get("x-schema-properties") or {}).items():
        for prop in props:
            assert v1["components"]["schemas"][name]["properties"][prop]["x-extension"] is True
    reference_ops = [
        op
        for path, item in v1["paths"].items()
        for method, op in item.items()
        if method in METHODS and (method, path) not in marked
    ]
    assert len(reference_ops) == 40
    assert all("extensions" not in op["tags"] for op in reference_ops)


def test_served_v1alpha3_spec_is_the_reference_one_plus_its_marked_overlay() -> None:
    served = yaml.safe_load(SERVED_ALPHA_SPEC.read_text(encoding="utf-8"))
    overlay = yaml.safe_load(ALPHA_OVERLAY.read_text(encoding="utf-8"))
    written = {
        (method, path)
        for path, item in overlay["paths"].items()
        for method in item
        if method in METHODS
    }
    marked = _marked_operations(served)

    assert _reference_part(served) == yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert (
        set(marked)
        == written
        == {
            ("delete", "/api/model_registry/v1alpha3/experiments/{experimentId}"),
            ("delete", "/api/model_registry/v1alpha3/experiment_runs/{experimentrunId}"),
        }
    )
    assert all(op["tags"] == ["extensions"] for op in marked.values())


_SAMPLE_OVERLAY: dict[str, Any] = {
    "paths": {
        f"{V1_BASE_PATH}/registered_models/{{registered_model_id}}": {
            "delete": {
                "operationId": "deleteRegisteredModel",
                "summary": "Delete a registered model",
                "parameters": [{"in": "query", "name": "cascade", "schema": {"type": "boolean"}}],
                "responses": {
                    "204": {"description": "Deleted."},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": {"$ref": "#/components/responses/Conflict"},
                },
            }
        },
        f"{V1_BASE_PATH}/widgets/{{widget_id}}": {
            "parameters": [
                {"in": "path", "name": "widget_id", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getWidget",
                "summary": "Get a widget",
                "responses": {
                    "200": {
                        "description": "The widget.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}
                        },
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
        },
    },
    "components": {
        "schemas": {
            "Widget": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "model": {"$ref": "#/components/schemas/RegisteredModel"},
                },
            }
        }
    },
    "x-schema-properties": {
        "ModelVersion": {
            "aliases": {"type": "array", "items": {"type": "string"}, "readOnly": True}
        }
    },
}


def test_merge_marks_every_extension_and_leaves_the_reference_part_untouched() -> None:
    derived = _derived_v1()

    merged = generate_script.merge_extensions(derived, _SAMPLE_OVERLAY)

    marked = _marked_operations(merged)
    assert set(marked) == {
        ("delete", f"{V1_BASE_PATH}/registered_models/{{registered_model_id}}"),
        ("get", f"{V1_BASE_PATH}/widgets/{{widget_id}}"),
    }
    assert all(op["tags"] == ["extensions"] for op in marked.values())
    assert merged["tags"][-1]["name"] == "extensions"
    assert merged["components"]["schemas"]["Widget"]["x-extension"] is True
    aliases = merged["components"]["schemas"]["ModelVersion"]["properties"]["aliases"]
    assert aliases["x-extension"] is True
    assert _reference_part(merged) == derived
    assert derived == _derived_v1()  # the merge copies; its input is unchanged


def _overlay_with(**changes: Any) -> dict[str, Any]:
    import copy

    overlay = copy.deepcopy(_SAMPLE_OVERLAY)
    overlay.update(changes)
    return overlay


@pytest.mark.parametrize(
    ("overlay", "complaint"),
    [
        (
            {"paths": {f"{V1_BASE_PATH}/registered_models": {"get": {"operationId": "x"}}}},
            "already exists",
        ),
        (
            {"paths": {f"{V1_BASE_PATH}/things": {"get": {"operationId": "getRegisteredModels"}}}},
            "taken",
        ),
        ({"paths": {"/api/model_registry/v1alpha3/things": {}}}, "is not below"),
        ({"components": {"schemas": {"ModelVersion": {"type": "object"}}}}, "already exists"),
        ({"components": {"securitySchemes": {"x": {}}}}, "cannot add"),
        ({"x-schema-properties": {"ModelVersion": {"name": {"type": "string"}}}}, "already"),
        ({"x-schema-properties": {"Nowhere": {"a": {"type": "string"}}}}, "not a reference"),
        ({"extras": {}}, "unknown keys"),
        (
            {
                "paths": {
                    f"{V1_BASE_PATH}/model_versions/{{model_version_id}}": {
                        "parameters": [],
                        "delete": {"operationId": "deleteModelVersion", "responses": {}},
                    }
                }
            },
            "parameters are the reference's",
        ),
        (
            {
                "paths": {
                    f"{V1_BASE_PATH}/things": {
                        "get": {
                            "operationId": "getThings",
                            "responses": {"200": {"$ref": "#/components/responses/Nowhere"}},
                        }
                    }
                }
            },
            "refers to #/components/responses/Nowhere",
        ),
    ],
    ids=[
        "reference-operation",
        "taken-operation-id",
        "path-outside-v1",
        "reference-schema",
        "other-section",
        "reference-property",
        "unknown-schema",
        "unknown-key",
        "reference-path-parameters",
        "dangling-ref",
    ],
)
def test_merge_refuses_an_overlay_that_would_change_the_reference(
    overlay: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(generate_script.GenerationError, match=re.escape(complaint)):
        generate_script.merge_extensions(_derived_v1(), overlay)


def test_extension_operations_generate_stubs_in_their_own_group_without_warnings(
    tmp_path: Path,
) -> None:
    spec_file = tmp_path / "v1.yaml"
    merged = generate_script.merge_extensions(_derived_v1(), _SAMPLE_OVERLAY)
    spec_file.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")

    generate_script.generate_openapi(tmp_path / "openapi_v1", spec_file)

    api = tmp_path / "openapi_v1" / "api"
    assert sorted(p.name for p in (api / "extensions").glob("[!_]*.py")) == [
        "delete_registered_model.py",
        "get_widget.py",
    ]
    assert not (api / "model_registry_service" / "delete_registered_model.py").exists()
    assert len(list((api / "model_registry_service").glob("[!_]*.py"))) == 40
