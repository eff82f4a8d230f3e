"""Regenerate every generated package of the project (run by ``make generate``).

Two generators, three outputs under ``src/model_registry/_generated/``, and one derived spec
(plus ``_generated/specs/``: both specs as the server serves them, YAML and JSON):

* ``openapi/``: the REST API v1alpha3 stubs, built by openapi-python-client from
  ``openapi/model-registry.yaml`` with our few v1alpha3 extensions merged in (the overlay
  ``openapi/extensions-v1alpha3.yaml``: deletes of experiments and runs, which v1 lacks; marked
  and tagged as the v1 ones) with the templates in ``openapi/templates/`` and the settings in
  ``openapi/config.yaml``, then tidied by ruff with fixed settings (so the result does not depend
  on any local ruff config).
* ``openapi/model-registry-v1.yaml``, the REST API v1 spec, is derived from the v1alpha3 one by
  :func:`derive_v1_spec` (the differences are the tables ``V1_*`` below, from COMPAT.md "API v1"),
  so the 40 operations both versions share are written once. Our extensions of v1 (projects,
  tokens, aliases, delete, ...) are written once in the overlay ``openapi/extensions-v1.yaml`` and
  merged in by :func:`merge_extensions`, each operation marked ``x-extension: true`` and tagged
  ``extensions`` (DESIGN.md, "Our extensions are marked"). ``openapi_v1/`` is generated from the
  result with the same templates and settings; the stubs of extension operations land in
  ``api/extensions/``.
* ``proto/model_registry/v1/model_registry.proto``, the stable gRPC service, is derived from the
  v1alpha3 proto by :func:`derive_v1_proto` (the same RPCs but experiments', over the same
  messages), so the RPCs both services share are written once.
* ``grpc/``: the protobuf and gRPC stubs (with mypy stubs) of every ``proto/**/*.proto``, built by
  ``grpc_tools.protoc``. The proto root is mapped to the virtual path
  ``model_registry/_generated/grpc`` so the generated imports are already absolute
  (``model_registry._generated.grpc.model_registry.v1alpha3...``) and need no patching. A proto
  importing another of ours names it by that virtual path
  (``import "model_registry/_generated/grpc/model_registry/v1alpha3/other.proto";``); the
  well-known ``google/protobuf/*.proto`` files resolve as usual.

Both are built in a scratch directory first and swap the old output only when everything
succeeded. Any generator warning is an error: the script exits non-zero and says why.

Usage::

    python scripts/generate.py [--out DIR] [--spec FILE]

``--out DIR`` writes under ``DIR/src/model_registry/_generated/`` instead of the repository,
which lets a test compare a fresh generation with the committed one; ``--spec FILE`` reads
another OpenAPI document (tests use it to check that warnings fail the run).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.resources
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "openapi" / "model-registry.yaml"
TEMPLATES = REPO / "openapi" / "templates"
CONFIG = REPO / "openapi" / "config.yaml"
V1_SPEC_NAME = "model-registry-v1.yaml"
V1_SPEC = REPO / "openapi" / V1_SPEC_NAME

# The REST API v1 (the reference's stable API) as differences from v1alpha3 (COMPAT.md "API v1").
V1ALPHA3_BASE = "/api/model_registry/v1alpha3"
V1_BASE = "/api/model_registry/v1"
V1_PATH_PARAMETERS = {
    "registeredmodelId": "registered_model_id",
    "modelversionId": "model_version_id",
    "modelartifactId": "model_artifact_id",
    "servingenvironmentId": "serving_environment_id",
    "inferenceserviceId": "inference_service_id",
}
"""v1alpha3 path parameter -> its snake_case v1 name (``id`` of /artifacts/{id} stays)."""
V1_DROPPED_PATH_SEGMENTS = ("experiment", "experiments", "experiment_run", "experiment_runs")
"""First path segments below the base path whose operations v1 does not have."""
V1_DROPPED_SCHEMAS = ("MetricList",)
"""Schemas v1 does not have besides every ``Experiment*`` one."""
V1_DROPPED_PROPERTIES = ("experimentId", "experimentRunId")
"""Artifact properties v1 does not have."""
V1_STRING_STEP = {
    "type": "string",
    "pattern": "^-?[0-9]{1,19}$",
    "description": "Training step the value belongs to: a decimal integer within 64 bits, "
    "as a string.",
}
"""``step`` of ``Metric``, ``MetricCreate`` and ``MetricUpdate`` on v1 (an integer on v1alpha3)."""
V1_INFO = {
    "title": "Model Registry REST API",
    "version": "v1",
    "description": "Records machine-learning models, their versions and artifacts, and where "
    "they are served. Wire-compatible with the Kubeflow Model Registry REST API v1, the stable "
    "successor of v1alpha3 (which this server may serve beside it).",
}
V1_HEADER = (
    "# Model Registry REST API v1. DERIVED by `make generate` (scripts/generate.py,\n"
    "# derive_v1_spec and merge_extensions) from openapi/model-registry.yaml and the overlay\n"
    "# openapi/extensions-v1.yaml: do not edit this file. Change the v1alpha3 spec, the V1_*\n"
    "# tables of differences in scripts/generate.py or the overlay, and run `make generate`.\n"
)
EXTENSIONS_V1 = REPO / "openapi" / "extensions-v1.yaml"
EXTENSIONS_V1ALPHA3 = REPO / "openapi" / "extensions-v1alpha3.yaml"
"""Our few v1alpha3 extensions (deletes of experiments and runs, which v1 lacks): merged into
the served v1alpha3 spec and its stubs; ``openapi/model-registry.yaml`` stays the reference's."""
ALPHA_HEADER = (
    "# Model Registry REST API v1alpha3 as served: openapi/model-registry.yaml (the reference's)\n"
    "# with the overlay openapi/extensions-v1alpha3.yaml merged in by `make generate`.\n"
)
EXTENSION_MARK = "x-extension"
"""Marks an operation, schema, parameter, response or added property as ours, not the
reference's: the reference's subset of the v1 spec is what remains without them."""
EXTENSION_TAG = {
    "name": "extensions",
    "description": "Operations of this registry that the Kubeflow Model Registry API does not "
    "have (each also marked `x-extension: true`); a reference client never calls them.",
}
EXTENSION_SECTIONS = ("schemas", "parameters", "responses")
"""Component sections the overlay may add to."""
OVERLAY_KEYS = frozenset({"paths", "components", "x-schema-properties", "x-enum-values"})
EXTENSION_VALUES_MARK = "x-extension-values"
"""On a reference enum schema: the values of its ``enum`` that are ours (``x-enum-values``)."""
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROTO_ROOT = REPO / "proto"
ALPHA_PROTO = Path("model_registry") / "v1alpha3" / "model_registry.proto"
"""The gRPC API's source, below ``proto/``: every message and the v1alpha3 service."""
V1_PROTO = Path("model_registry") / "v1" / "model_registry.proto"
"""The stable gRPC service, below ``proto/``: derived from :data:`ALPHA_PROTO` by
:func:`derive_v1_proto` (its messages, its RPCs but those of experiments, runs and metric
history, as REST v1), committed, and never edited by hand."""
V1_PROTO_HEADER = (
    "// Generated by `make generate` (scripts/generate.py, derive_v1_proto) from\n"
    "// proto/model_registry/v1alpha3/model_registry.proto. Do not edit this file: change that\n"
    "// one and run `make generate` again.\n"
    "//\n"
    "// The stable gRPC service: the RPCs of model_registry.v1alpha3.ModelRegistryService but\n"
    "// those of experiments, experiment runs and metric history (as the REST API v1 has none),\n"
    "// over the same messages, so a call means the same under either service name.\n"
)
_RPC = re.compile(
    r"rpc\s+(\w+)\s*\(\s*(stream\s+)?([\w.]+)\s*\)\s*returns\s*\(\s*(stream\s+)?([\w.]+)\s*\)",
)

GENERATED = Path("src") / "model_registry" / "_generated"
# Where the proto root appears to protoc; equal to the generated package path below src/.
PROTO_VIRTUAL = "model_registry/_generated/grpc"

HEADER = (
    "# Generated by `make generate` (scripts/generate.py). Do not edit this file:\n"
    "# change the sources (openapi/, proto/) and run `make generate` again.\n"
)

# Ruff settings for the generated REST package, spelled out so that no pyproject.toml or
# ruff.toml on the machine changes the output.
RUFF_SETTINGS = ("--isolated", "--line-length", "100", "--target-version", "py310")


class GenerationError(Exception):
    """A generator failed or warned; the message says which and why."""


def _package_init(doc: str) -> str:
    return f'{HEADER}"""{doc}"""\n'


def _run(cmd: Sequence[str], *, what: str, cwd: Path | None = None) -> str:
    """Run ``cmd``; raise GenerationError on failure, else return what it wrote to stderr."""
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GenerationError(
            f"{what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}".rstrip()
        )
    return proc.stderr


def _dropped_path(path: str) -> bool:
    segment = path[len(V1ALPHA3_BASE) :].lstrip("/").split("/", 1)[0]
    return segment in V1_DROPPED_PATH_SEGMENTS


def _v1_path(path: str) -> str:
    path = V1_BASE + path[len(V1ALPHA3_BASE) :]
    for old, new in V1_PATH_PARAMETERS.items():
        path = path.replace(f"{{{old}}}", f"{{{new}}}")
    return path


def _refs(node: Any) -> set[str]:
    """Every ``$ref`` target under ``node``."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node)) if node else set()
    return set()


def derive_v1_spec(alpha: dict[str, Any]) -> dict[str, Any]:
    """The REST API v1 spec: the v1alpha3 spec with the ``V1_*`` differences applied.

    Raises:
        GenerationError: The result refers to something it no longer has.
    """
    spec = copy.deepcopy(alpha)
    spec["info"] = {**spec["info"], **V1_INFO}
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        if not path.startswith(V1ALPHA3_BASE + "/"):
            raise GenerationError(f"path {path} is not below {V1ALPHA3_BASE}")
        if _dropped_path(path):
            continue
        for method_or_shared in item.values():
            params = method_or_shared if isinstance(method_or_shared, list) else []
            if isinstance(method_or_shared, dict):
                params = method_or_shared.get("parameters", [])
            for param in params:
                if param.get("in") == "path":
                    param["name"] = V1_PATH_PARAMETERS.get(param["name"], param["name"])
        paths[_v1_path(path)] = item
    spec["paths"] = paths
    operations = {
        op["operationId"]
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    components = spec["components"]
    schemas = components["schemas"]
    for name in list(schemas):
        if name.startswith("Experiment") or name in V1_DROPPED_SCHEMAS:
            del schemas[name]
    for schema in schemas.values():
        if "description" in schema:
            schema["description"] = schema["description"].replace(" of an experiment run", "")
        props = schema.get("properties", {})
        for prop in V1_DROPPED_PROPERTIES:
            props.pop(prop, None)
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r not in V1_DROPPED_PROPERTIES]
    for name in ("Metric", "MetricCreate", "MetricUpdate"):
        schemas[name]["properties"]["step"] = dict(V1_STRING_STEP)
    for response in components.get("responses", {}).values():
        links = response.get("links", {})
        for link_name, link in list(links.items()):
            if link["operationId"] not in operations:
                del links[link_name]
                continue
            link["parameters"] = {
                V1_PATH_PARAMETERS.get(key, key): value for key, value in link["parameters"].items()
            }
        if "links" in response and not links:
            del response["links"]
    # Responses and parameters only the dropped operations used go too (schemas stay: the
    # Base* ones are kept for readers although no operation names them).
    for section in ("responses", "parameters"):
        while True:
            used = _refs({"paths": spec["paths"], "components": components})
            unused = [
                name
                for name in components.get(section, {})
                if f"#/components/{section}/{name}" not in used
            ]
            if not unused:
                break
            for name in unused:
                del components[section][name]
    for ref in sorted(_refs(spec)):
        section, _, name = ref.removeprefix("#/components/").partition("/")
        if name not in components.get(section, {}):
            raise GenerationError(f"the derived v1 spec refers to {ref}, which it no longer has")
    return spec


def merge_extensions(
    spec: dict[str, Any], overlay: dict[str, Any], base: str = V1_BASE
) -> dict[str, Any]:
    """The ``spec`` (of the API version at ``base``) with the overlay's extensions added,
    every one marked as ours.

    The overlay is a YAML mapping with:

    * ``paths``: full paths below ``base`` (``/api/model_registry/v1/...``) -> path items.
      Every operation gets ``x-extension: true`` and the tag ``extensions`` (only that tag, so
      its stubs land in ``api/extensions/``). A path the reference already has may gain
      methods it lacks (``delete`` on ``/registered_models/{registered_model_id}``); the
      path's shared parameters are the reference's then (the overlay must not restate them).
    * ``components``: new ``schemas``, ``parameters`` and ``responses``, each marked
      ``x-extension: true``. They may refer to the reference's components.
    * ``x-schema-properties``: reference schema name -> properties to add to it (read-only
      fields of answers, such as ``ModelVersion.aliases``), each marked ``x-extension: true``.
    * ``x-enum-values``: reference enum schema name -> values to add to its ``enum`` (such as
      ``OrderByField``'s ``NAME``), listed in the schema's ``x-extension-values``.

    Raises:
        GenerationError: An operation or component that is already there (by name, operationId
            or path and method), an unknown key, a path outside v1, or a ``$ref`` to nothing.
    """
    spec = copy.deepcopy(spec)
    overlay = copy.deepcopy(overlay)
    unknown = set(overlay) - OVERLAY_KEYS
    if unknown:
        raise GenerationError(f"the overlay has unknown keys: {', '.join(sorted(unknown))}")
    known_ids = {
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in HTTP_METHODS
    }
    added = 0
    for path, item in (overlay.get("paths") or {}).items():
        if not path.startswith(base + "/"):
            raise GenerationError(f"overlay path {path} is not below {base}")
        target = spec["paths"].get(path)
        if target is not None and "parameters" in item:
            raise GenerationError(
                f"overlay path {path} is a reference path: its parameters are the reference's"
            )
        target = spec["paths"].setdefault(path, {})
        for key, value in item.items():
            if key not in HTTP_METHODS:
                target[key] = value
                continue
            if key in target:
                raise GenerationError(f"overlay operation {key.upper()} {path} already exists")
            op_id = value.get("operationId")
            if not op_id or op_id in known_ids:
                raise GenerationError(f"overlay {key.upper()} {path}: operationId {op_id!r} taken")
            known_ids.add(op_id)
            target[key] = {**value, "tags": [EXTENSION_TAG["name"]], EXTENSION_MARK: True}
            added += 1
    components = spec["components"]
    for section, entries in (overlay.get("components") or {}).items():
        if section not in EXTENSION_SECTIONS:
            raise GenerationError(f"the overlay cannot add components/{section}")
        for name, value in (entries or {}).items():
            if name in components.setdefault(section, {}):
                raise GenerationError(f"overlay components/{section}/{name} already exists")
            components[section][name] = {**value, EXTENSION_MARK: True}
    for name, props in (overlay.get("x-schema-properties") or {}).items():
        schema = components["schemas"].get(name)
        if schema is None or schema.get(EXTENSION_MARK):
            raise GenerationError(f"x-schema-properties: {name} is not a reference schema")
        properties = schema.setdefault("properties", {})
        for prop, value in props.items():
            if prop in properties:
                raise GenerationError(f"x-schema-properties: {name}.{prop} already exists")
            properties[prop] = {**value, EXTENSION_MARK: True}
    for name, values in (overlay.get("x-enum-values") or {}).items():
        schema = components["schemas"].get(name)
        if schema is None or schema.get(EXTENSION_MARK) or "enum" not in schema:
            raise GenerationError(f"x-enum-values: {name} is not a reference enum")
        taken = [value for value in values if value in schema["enum"]]
        if taken:
            raise GenerationError(f"x-enum-values: {name} already has {', '.join(taken)}")
        schema["enum"] = [*schema["enum"], *values]
        schema[EXTENSION_VALUES_MARK] = list(values)
    if added:
        spec["tags"] = [*spec.get("tags", []), dict(EXTENSION_TAG)]
    for ref in sorted(_refs(overlay)):  # the reference's own refs are its generator's to check
        section, _, name = ref.removeprefix("#/components/").partition("/")
        if name not in components.get(section, {}):
            raise GenerationError(f"the overlay refers to {ref}, which the spec does not have")
    return spec


def write_v1_spec(alpha_spec: Path, target: Path, overlay: Path = EXTENSIONS_V1) -> None:
    """Derive the v1 spec from ``alpha_spec``, merge ``overlay`` into it and write the result
    (with its header) to ``target``."""
    import yaml  # type: ignore[import-untyped]  # the dev extra; here so --help needs none

    alpha = yaml.safe_load(alpha_spec.read_text(encoding="utf-8"))
    extensions = yaml.safe_load(overlay.read_text(encoding="utf-8")) or {}
    spec = merge_extensions(derive_v1_spec(alpha), extensions)
    text = yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(V1_HEADER + text, encoding="utf-8")


def write_alpha_spec(alpha_spec: Path, target: Path, overlay: Path = EXTENSIONS_V1ALPHA3) -> None:
    """Merge ``overlay`` into the v1alpha3 spec ``alpha_spec`` and write the result to
    ``target``: the v1alpha3 spec as served and generated (the reference's part unchanged)."""
    import yaml  # the dev extra, as in write_v1_spec

    alpha = yaml.safe_load(alpha_spec.read_text(encoding="utf-8"))
    extensions = yaml.safe_load(overlay.read_text(encoding="utf-8")) or {}
    spec = merge_extensions(alpha, extensions, V1ALPHA3_BASE)
    text = yaml.safe_dump(spec, sort_keys=False, width=100, allow_unicode=True)
    target.write_text(ALPHA_HEADER + text, encoding="utf-8")


def generate_openapi(target: Path, spec: Path = SPEC) -> None:
    """Build a REST stubs package into ``target`` (a directory that must not exist yet).

    The package is named after ``target`` (``model_registry._generated.<target name>``).
    """
    # Imported here so that `--help` works without the dev extra installed.
    from openapi_python_client import generate
    from openapi_python_client.config import Config, ConfigFile, MetaType

    config_file = ConfigFile.load_from_path(CONFIG)
    config_file.package_name_override = f"model_registry._generated.{target.name}"
    config = Config.from_sources(
        config_file=config_file,
        meta_type=MetaType("none"),
        document_source=spec,
        file_encoding="utf-8",
        overwrite=False,
        output_path=target,
    )
    stdout = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout):
        warnings.simplefilter("always")
        problems = generate(config=config, custom_template_path=TEMPLATES)
    messages = [
        f"[{problem.level.value}] {problem.header}\n{problem.detail or ''}".rstrip()
        for problem in problems
    ]
    messages += [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning)
    ]
    if messages:
        raise GenerationError(
            f"openapi-python-client reported problems with {spec}:\n\n" + "\n\n".join(messages)
        )
    if not (target / "client.py").is_file():
        raise GenerationError(f"openapi-python-client wrote nothing to {target}")

    ruff = (sys.executable, "-m", "ruff")
    steps = {
        "ruff check --fix-only": ("check", "--fix-only", "--select", "I,F401"),
        "ruff format": ("format",),
    }
    for what, args in steps.items():
        # Only sort imports, drop unused ones and format: the code itself comes from templates.
        stderr = _run((*ruff, *args, *RUFF_SETTINGS, str(target)), what=what, cwd=target.parent)
        if stderr.strip():
            raise GenerationError(f"{what} warned on the REST stubs:\n{stderr.rstrip()}")


def _protoc_plugin(name: str) -> Path:
    """Find a protoc plugin installed beside the running interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise GenerationError(f"protoc plugin {name!r} not found; install mypy-protobuf")
    return Path(found)


def v1_rpc(name: str) -> bool:
    """Whether the stable gRPC service has the RPC ``name`` (it has none about experiments,
    runs or their metric history, as REST v1)."""
    return "Experiment" not in name


def derive_v1_proto(alpha: str) -> str:
    """The text of the stable service's proto file from the v1alpha3 proto's text.

    Raises:
        GenerationError: The v1alpha3 proto has no ``ModelRegistryService``.
    """
    package = re.search(r"^package\s+([\w.]+)\s*;", alpha, re.MULTILINE)
    service = re.search(r"^service\s+ModelRegistryService\s*\{(.*?)^\}", alpha, re.S | re.M)
    if package is None or service is None:
        raise GenerationError(f"proto/{ALPHA_PROTO.as_posix()} has no package or service")
    alpha_package = package.group(1)

    def qualified(name: str) -> str:
        return name if "." in name else f"{alpha_package}.{name}"

    lines = []
    for rpc in _RPC.finditer(service.group(1)):
        name, in_stream, request, out_stream, response = rpc.groups()
        if not v1_rpc(name):
            continue
        lines.append(
            f"  rpc {name}({'stream ' if in_stream else ''}{qualified(request)})\n"
            f"      returns ({'stream ' if out_stream else ''}{qualified(response)});"
        )
    return (
        V1_PROTO_HEADER
        + 'syntax = "proto3";\n\n'
        + "package model_registry.v1;\n\n"
        + f'import "{PROTO_VIRTUAL}/{ALPHA_PROTO.as_posix()}";\n\n'
        + "service ModelRegistryService {\n"
        + "\n".join(lines)
        + "\n}\n"
    )


def generate_grpc(src_root: Path) -> list[Path]:
    """Compile every proto file into ``src_root/model_registry/_generated/grpc``.

    Returns:
        The proto files compiled (relative to ``proto/``); empty when there are none.
    """
    grpc_dir = src_root / PROTO_VIRTUAL
    grpc_dir.mkdir(parents=True)
    # The sources and the derived stable service, staged beside the stubs' scratch tree so
    # protoc never reads the committed (possibly stale) derived file.
    proto_root = src_root.parent / "proto"
    for source in PROTO_ROOT.rglob("*.proto"):
        relative = source.relative_to(PROTO_ROOT)
        if relative != V1_PROTO:
            (proto_root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, proto_root / relative)
    alpha = proto_root / ALPHA_PROTO
    if alpha.is_file():
        (proto_root / V1_PROTO).parent.mkdir(parents=True, exist_ok=True)
        (proto_root / V1_PROTO).write_text(
            derive_v1_proto(alpha.read_text(encoding="utf-8")), encoding="utf-8"
        )
    protos = sorted(p.relative_to(proto_root) for p in proto_root.rglob("*.proto"))
    (grpc_dir / "__init__.py").write_text(
        _package_init("Protobuf and gRPC stubs compiled from proto/."), encoding="utf-8"
    )
    if not protos:
        return []

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_VIRTUAL}={proto_root}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_protoc_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_protoc_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={src_root}",
        f"--grpc_python_out={src_root}",
        f"--mypy_out={src_root}",
        f"--mypy_grpc_out={src_root}",
        *(f"{PROTO_VIRTUAL}/{p.as_posix()}" for p in protos),
    ]
    stderr = _run(cmd, what="protoc")
    # mypy-protobuf reports each file it writes on stderr; anything else is a warning.
    complaints = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("Writing mypy to ")
    ]
    if complaints:
        raise GenerationError("protoc warned:\n" + "\n".join(complaints))

    # protoc writes modules but no packages: give every directory on the way an __init__.py.
    for directory in sorted({grpc_dir / p.parent for p in protos}):
        while directory != grpc_dir:
            init = directory / "__init__.py"
            if not init.exists():
                init.write_text(_package_init("Generated stubs."), encoding="utf-8")
            directory = directory.parent
    return protos


def write_served_specs(target: Path, alpha_spec: Path, v1_spec: Path) -> None:
    """The OpenAPI documents the server serves (``/api/model_registry/<version>/openapi.yaml``
    and ``.json``), as package data: the YAML as it is, and its JSON form."""
    import yaml  # the dev extra, as in write_v1_spec

    target.mkdir(parents=True, exist_ok=True)
    for version, source in (("v1alpha3", alpha_spec), ("v1", v1_spec)):
        text = source.read_text(encoding="utf-8")
        (target / f"{version}.yaml").write_text(text, encoding="utf-8")
        as_json = json.dumps(yaml.safe_load(text), indent=2, sort_keys=False) + "\n"
        (target / f"{version}.json").write_text(as_json, encoding="utf-8")


def generate_all(out_root: Path, spec: Path = SPEC) -> None:
    """Regenerate the v1 spec (``out_root/openapi/``) and every stub package under
    ``out_root/src/model_registry/_generated``."""
    final = out_root / GENERATED
    with tempfile.TemporaryDirectory(prefix="mr-generate-") as scratch_name:
        scratch = Path(scratch_name)
        src_root = scratch / "src"
        staged = src_root / "model_registry" / "_generated"
        staged.mkdir(parents=True)
        alpha_spec = scratch / "model-registry-v1alpha3.yaml"
        write_alpha_spec(spec, alpha_spec)
        generate_openapi(staged / "openapi", alpha_spec)
        v1_spec = scratch / V1_SPEC_NAME
        write_v1_spec(spec, v1_spec)
        generate_openapi(staged / "openapi_v1", v1_spec)
        protos = generate_grpc(src_root)

        final.mkdir(parents=True, exist_ok=True)
        (final / "__init__.py").write_text(
            _package_init("Generated code only: produced by `make generate`, never edited."),
            encoding="utf-8",
        )
        write_served_specs(staged / "specs", alpha_spec, v1_spec)
        for name in ("openapi", "openapi_v1", "grpc", "specs"):
            shutil.rmtree(final / name, ignore_errors=True)
            shutil.copytree(staged / name, final / name)
        (out_root / "openapi").mkdir(exist_ok=True)
        shutil.copyfile(v1_spec, out_root / "openapi" / V1_SPEC_NAME)
        v1_proto = scratch / "proto" / V1_PROTO
        if v1_proto.is_file():
            (out_root / "proto" / V1_PROTO).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(v1_proto, out_root / "proto" / V1_PROTO)
    shown = ", ".join(p.as_posix() for p in protos) or "no proto files"
    print(f"generated openapi/{V1_SPEC_NAME}, {final / 'openapi'}, {final / 'openapi_v1'}")
    print(f"and {final / 'grpc'} ({shown})")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO,
        help="root standing in for the repository root (default: the repository)",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        default=SPEC,
        help="OpenAPI document to generate from (default: openapi/model-registry.yaml)",
    )
    args = parser.parse_args(argv)
    try:
        generate_all(args.out.resolve(), args.spec.resolve())
    except GenerationError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
