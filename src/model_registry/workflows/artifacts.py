"""Upload a model's files with its registration, and download them back (async).

``upload_artifact_and_register_model`` has the reference client's signature and return value.
Where the files go:

* ``upload_params`` omitted: the registry's own artifact store, streamed through the registry
  (no storage credentials on the client). A file goes as it is; a directory as one
  uncompressed tar archive of its tree (relative paths kept; entries sorted, times and owners
  zeroed, so the same tree makes the same archive and is stored once). The artifact records
  how (custom properties ``registry.layout``, ``"file"`` or ``"tar"``, and
  ``registry.filename``, the file's or directory's name), and ``download_model_artifact``
  gives the file, or the directory unpacked, back.
* :class:`S3Params`: straight from the client to the user's bucket with boto3 (the ``s3``
  extra), as the reference does: a file to ``<s3_prefix>/<file name>``, a directory's files to
  ``<s3_prefix>/<relative path>``; the ``s3://`` URI of the key (of the prefix for a directory)
  is registered.
* :class:`OCIParams`: an OCI registry through skopeo or oras in the reference: out of scope
  here, :class:`~model_registry.exceptions.Unsupported`.

Name and version conflicts are checked before a byte moves: a version that exists raises
:class:`~model_registry.exceptions.Conflict` with nothing uploaded or written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from model_registry._content import Progress, content_digest
from model_registry.exceptions import Conflict, NotFound, Unsupported
from model_registry.types import ModelArtifact
from model_registry.utils import OCIParams, S3Params, s3_uri_from
from model_registry.workflows.registration import RegisteredParts, register_model

if TYPE_CHECKING:
    from model_registry.core import ModelRegistryAPIClient

__all__ = [
    "FILENAME_PROPERTY",
    "LAYOUT_PROPERTY",
    "PENDING_URI",
    "OCIParams",
    "S3Params",
    "download_model_artifact",
    "upload_artifact_and_register_model",
]

_log = logging.getLogger("model_registry.workflows")

LAYOUT_PROPERTY = "registry.layout"
"""Custom property of an uploaded model artifact: ``"file"`` or ``"tar"`` (a directory)."""

FILENAME_PROPERTY = "registry.filename"
"""Custom property of an uploaded model artifact: the uploaded file's or directory's name."""

PENDING_URI = "model-registry://artifacts/pending"
"""The ``uri`` of an artifact between its registration and the end of its upload (the
registry replaces it with ``model-registry://artifacts/<id>``)."""


def _s3_client(params: S3Params) -> Any:
    try:
        import boto3
    except ImportError:
        raise Unsupported(
            "uploading to S3 needs boto3: pip install 'aio-model-registry[s3]'"
        ) from None
    return boto3.client(
        "s3",
        endpoint_url=params.endpoint_url,
        aws_access_key_id=params.access_key_id,
        aws_secret_access_key=params.secret_access_key,
        region_name=params.region,
    )


def _tree(root: Path) -> Iterator[tuple[Path, PurePosixPath]]:
    """The files of a directory, sorted, with their paths relative to it (symlinks and other
    non-regular files are left out: only what a model's reader can open travels)."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path, PurePosixPath(path.relative_to(root).as_posix())


def _upload_to_s3(path: Path, params: S3Params, progress: Progress | None) -> str:
    client = _s3_client(params)
    prefix = params.s3_prefix.strip("/") or path.name
    files = [(path, PurePosixPath(path.name))] if path.is_file() else list(_tree(path))
    total = sum(f.stat().st_size for f, _ in files)
    done = 0

    def moved(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    for file, relative in files:
        client.upload_file(str(file), params.bucket_name, f"{prefix}/{relative}", Callback=moved)
    where = f"{prefix}/{path.name}" if path.is_file() else prefix
    return s3_uri_from(
        where, params.bucket_name, endpoint=params.endpoint_url, region=params.region
    )


def _archive(root: Path, out: Path) -> Path:
    """A tar of ``root``'s tree that depends only on paths, contents and modes."""

    def normal(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for file, relative in _tree(root):
            tar.add(file, arcname=str(relative), recursive=False, filter=normal)
    return out


async def _check_free(api: ModelRegistryAPIClient, name: str, version: str) -> None:
    model = await api.get_registered_model_by_params(name=name)
    if model is not None and model.id is not None:
        existing = await api.get_model_version_by_params(
            registered_model_id=model.id, version=version
        )
        if existing is not None:
            raise Conflict(f"version {version!r} of model {name!r} already exists")


async def upload_artifact_and_register_model(
    api: ModelRegistryAPIClient,
    name: str,
    model_files_path: str | os.PathLike[str],
    *,
    upload_params: S3Params | OCIParams | None = None,
    version: str,
    model_format_name: str,
    model_format_version: str,
    author: str,
    owner: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    storage_path: str | None = None,
    storage_key: str | None = None,
    service_account_name: str | None = None,
    progress: Progress | None = None,
) -> RegisteredParts:
    """Upload a model's files and register the model, a version and its model artifact.

    Args:
        api: The async client.
        name: The model's name (also its artifact's).
        model_files_path: A file, or a directory (uploaded with its tree).
        upload_params: None: the registry's artifact store; :class:`S3Params`: the user's
            bucket, from the client; :class:`OCIParams`: refused.
        version: The version's name; it must not exist.
        model_format_name: E.g. ``"onnx"``.
        model_format_version: E.g. ``"1"``.
        author: The version's author.
        owner: The owner of a model created here (``author`` by default).
        description: The version's description.
        metadata: Custom properties of the version.
        storage_path: The artifact's storage path.
        storage_key: The artifact's storage key.
        service_account_name: The service account to read the artifact with.
        progress: ``progress(bytes_done, bytes_total)`` while the files move.

    Returns:
        The model, version and artifact as stored (the artifact with its digest and URI).

    Raises:
        Conflict: The version exists already (nothing was uploaded or written).
        Unsupported: ``OCIParams``, or S3 without boto3.
        FileNotFoundError: ``model_files_path`` does not exist.
    """
    if isinstance(upload_params, OCIParams):
        raise Unsupported(
            "uploading to an OCI registry (OCIParams) is not supported: upload to the "
            "registry's store (no upload_params) or to S3 (S3Params)"
        )
    path = Path(model_files_path)
    if not await asyncio.to_thread(path.exists):
        raise FileNotFoundError(f"model files {str(path)!r} do not exist")
    await _check_free(api, name, version)
    registration: dict[str, Any] = {
        "version": version,
        "author": author,
        "owner": owner,
        "description": description,
        "metadata": metadata,
        "model_format_name": model_format_name,
        "model_format_version": model_format_version,
        "storage_path": storage_path,
        "storage_key": storage_key,
        "service_account_name": service_account_name,
    }
    if isinstance(upload_params, S3Params):
        uri = await asyncio.to_thread(_upload_to_s3, path, upload_params, progress)
        return await register_model(api, name, uri, **registration)
    layout = "tar" if await asyncio.to_thread(path.is_dir) else "file"
    with tempfile.TemporaryDirectory(prefix="model-registry-upload-") as tmp:
        source = path
        if layout == "tar":
            source = await asyncio.to_thread(_archive, path, Path(tmp) / "content.tar")
        parts = await register_model(
            api,
            name,
            PENDING_URI,
            artifact_properties={LAYOUT_PROPERTY: layout, FILENAME_PROPERTY: path.name},
            **registration,
        )
        assert parts.artifact.id is not None
        try:
            artifact = await api.upload_artifact_content(
                parts.artifact.id, source, progress=progress
            )
        except Exception:
            _log.warning(
                "version %r of model %r is registered but its files are not: upload them "
                "with upload_artifact_content(%r, ...)",
                version,
                name,
                parts.artifact.id,
            )
            raise
    assert isinstance(artifact, ModelArtifact)
    return RegisteredParts(parts.model, parts.version, artifact)


async def _model_artifact(api: ModelRegistryAPIClient, name: str, version: str) -> ModelArtifact:
    model = await api.get_registered_model_by_params(name=name)
    if model is None or model.id is None:
        raise NotFound(f"model {name!r} not found")
    mv = await api.get_model_version_by_params(registered_model_id=model.id, version=version)
    if mv is None or mv.id is None:
        raise NotFound(f"model {name!r} has no version {version!r}")
    found: list[ModelArtifact] = [
        a for a in await api.get_model_version_artifacts(mv.id) if isinstance(a, ModelArtifact)
    ]
    if not found:
        raise NotFound(f"version {version!r} of model {name!r} has no model artifact")
    named = [a for a in found if a.name == name]
    return (named or found)[0]


def _safe_name(value: object, fallback: str) -> str:
    """A file name from an artifact's (client-written) property: its last segment only."""
    text = str(value or "").replace("\\", "/").rsplit("/", 1)[-1]
    return fallback if text in ("", ".", "..") else text


async def download_model_artifact(
    api: ModelRegistryAPIClient,
    name: str,
    version: str,
    dest: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    s3_params: S3Params | None = None,
) -> Path:
    """Download the files of a model version, streamed to disk with flat memory.

    Content in the registry's store is checked against its recorded SHA-256 before it lands:
    a file goes to ``dest`` (or into it, under its uploaded name, when ``dest`` is an existing
    directory); a directory uploaded as a tree is unpacked into ``dest`` (created), its
    archive checked by :func:`tarfile.data_filter` (no absolute paths, no ``..``, no links
    out of ``dest``). An ``s3://`` URI (registered with :class:`S3Params`) is fetched with
    boto3: a key to ``dest`` as a file, a prefix to ``dest`` as a directory.

    Args:
        api: The async client.
        name: The model.
        version: The version.
        dest: Where the files go.
        progress: ``progress(bytes_done, bytes_total)`` while they move.
        s3_params: Endpoint and credentials for an ``s3://`` URI (its ``endpoint`` query
            parameter and boto3's usual credential sources otherwise).

    Returns:
        The file written, or the directory the files were unpacked into.

    Raises:
        NotFound: No such model, version or model artifact.
        Unsupported: The artifact's URI is neither the registry's nor ``s3://``.
        InvalidResponse: The bytes do not match the recorded digest (nothing is written).
    """
    artifact = await _model_artifact(api, name, version)
    target = Path(dest)
    if content_digest(artifact) is None:
        uri = artifact.uri or ""
        if uri.startswith("s3://"):
            return await asyncio.to_thread(_download_from_s3, uri, target, s3_params, progress)
        raise Unsupported(
            f"the files of version {version!r} of model {name!r} are at {uri!r}, not in the "
            "registry or S3: fetch them from there"
        )
    assert artifact.id is not None
    props = artifact.custom_properties or {}
    filename = _safe_name(props.get(FILENAME_PROPERTY), f"artifact-{artifact.id}")
    if props.get(LAYOUT_PROPERTY) != "tar":
        if await asyncio.to_thread(target.is_dir):
            target = target / filename
        return await api.download_artifact_content(artifact.id, target, progress=progress)
    await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="model-registry-download-") as tmp:
        archive = await api.download_artifact_content(
            artifact.id, Path(tmp) / "content.tar", progress=progress
        )
        await asyncio.to_thread(_extract, archive, target)
    return target


def _extract(archive: Path, target: Path) -> None:
    data_filter: Callable[..., Any] | None = getattr(tarfile, "data_filter", None)
    if data_filter is None:  # Python before 3.10.12 / 3.11.4: no safe extraction filter
        raise Unsupported("unpacking a downloaded tree needs Python's tarfile.data_filter")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter=data_filter)


def _download_from_s3(
    uri: str, target: Path, params: S3Params | None, progress: Progress | None
) -> Path:
    parts = urlsplit(uri)
    bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
    query = parse_qs(parts.query)
    endpoint = (params.endpoint_url if params else None) or query.get("endpoint", [None])[0]
    region = (params.region if params else None) or query.get("defaultRegion", [None])[0]
    client = _s3_client(
        S3Params(
            bucket,
            key,
            endpoint_url=endpoint,
            access_key_id=params.access_key_id if params else None,
            secret_access_key=params.secret_access_key if params else None,
            region=region,
        )
    )
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=key.rstrip("/") + "/"
    )
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    if not keys:  # one object
        if target.is_dir():
            target = target / _safe_name(PurePosixPath(key).name, "artifact")
        client.download_file(bucket, key, str(target), Callback=_counter(progress))
        return target
    target.mkdir(parents=True, exist_ok=True)
    count = _counter(progress)
    root = target.resolve()
    for item in keys:
        relative = PurePosixPath(item[len(key.rstrip("/")) + 1 :])
        local = (target / relative).resolve()
        if ".." in relative.parts or relative.is_absolute() or root not in local.parents:
            continue  # a key that would land outside dest
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, item, str(local), Callback=count)
    return target


def _counter(progress: Progress | None) -> Callable[[int], None]:
    done = 0

    def moved(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, None)

    return moved
