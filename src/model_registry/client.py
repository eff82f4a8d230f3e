"""``ModelRegistry``: the sync facade for scripts, notebooks and tools.

Every call is a coroutine of the async client (``model_registry.core.ModelRegistryAPIClient``)
submitted to an event loop that the facade owns and runs on a private daemon thread. The
caller's thread only waits for the result, so the facade never patches, nests or even looks at
the caller's event loop: it works from plain scripts, inside a running asyncio loop (Jupyter,
an async service), under uvloop, and from several threads at once (the private loop serialises
nothing but the socket I/O; calls from different threads run concurrently on it).

The loop thread starts on the first call and stops in :meth:`ModelRegistry.close` (or when the
facade is garbage collected). ``__init__`` makes no network call.

Called from a coroutine, a facade method blocks that coroutine's loop until the answer comes (it
is a sync API): async code should prefer the async client, which :meth:`ModelRegistry.run`
also reaches. A server running on that same blocked loop could never answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import uuid
import weakref
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from model_registry._content import Progress
from model_registry._eventloop import LoopThread
from model_registry.exceptions import ClientClosed, ModelRegistryError, NotFound
from model_registry.transport.policy import call_options, check_project
from model_registry.types import (
    Artifact,
    CreatedToken,
    DataSet,
    Event,
    ListOptions,
    ModelArtifact,
    ModelVersion,
    ModelVersionState,
    Page,
    Pager,
    Project,
    RegisteredModel,
    RegisteredModelState,
    Token,
    Webhook,
    WebhookDelivery,
)
from model_registry.utils import OCIParams, S3Params
from model_registry.workflows import artifacts as wf_artifacts
from model_registry.workflows import registration as wf
from model_registry.workflows.data_config import data_source
from model_registry.workflows.params import decode_params

if TYPE_CHECKING:
    from types import TracebackType

    from model_registry.core import ModelRegistryAPIClient

__all__ = ["ModelRegistry", "ProjectClient"]

T = TypeVar("T")
E = TypeVar("E", RegisteredModel, ModelVersion, Artifact)


@dataclasses.dataclass(frozen=True)
class _Connection:
    """How to reach the registry: everything needed to build the async client."""

    server_address: str
    port: int
    is_secure: bool
    user_token: Any
    custom_ca: str | None
    transport: Literal["rest", "grpc"]
    timeout: float | None
    api_version: Literal["auto", "v1", "v1alpha3"] = "auto"
    project: str | None = None

    def connect(self) -> ModelRegistryAPIClient:
        """Build the async client (no I/O: it connects on its first call)."""
        from model_registry.core import ModelRegistryAPIClient

        extra: dict[str, Any] = {
            "transport": self.transport,
            "api_version": self.api_version,
            "project": self.project,
        }
        if self.timeout is not None:
            extra["timeout"] = self.timeout
        if self.is_secure:
            return ModelRegistryAPIClient.secure_connection(
                self.server_address,
                self.port,
                user_token=self.user_token,
                custom_ca=self.custom_ca,
                **extra,
            )
        return ModelRegistryAPIClient.insecure_connection(
            self.server_address, self.port, self.user_token, **extra
        )


class _ClientHolder:
    """The async client, built lazily on the private loop; shared with the finalizer."""

    def __init__(self, factory: Callable[[], ModelRegistryAPIClient]) -> None:
        self._factory = factory
        self.api: ModelRegistryAPIClient | None = None

    async def get(self) -> ModelRegistryAPIClient:
        # Runs on the private loop, so every asyncio object the client makes belongs to it;
        # the loop is one thread, so two first calls cannot both build one.
        if self.api is None:
            self.api = self._factory()
        return self.api

    async def aclose(self) -> None:
        if self.api is not None:
            await self.api.aclose()


#: Environment variable naming the token file, read when no token is given (as the reference
#: client does).
DEFAULT_TOKEN_ENVVAR = "KF_PIPELINES_SA_TOKEN_PATH"
#: The Kubernetes service-account token, used when nothing else names a token.
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def _token_file_from_environment(envvar: str | None) -> Path | None:
    """The token file named by ``envvar`` (required), the default variable, or Kubernetes."""
    if envvar:
        try:
            return Path(os.environ[envvar])
        except KeyError:
            raise ValueError(f"user_token_envvar is {envvar!r} but it is not set") from None
    if os.environ.get(DEFAULT_TOKEN_ENVVAR):
        return Path(os.environ[DEFAULT_TOKEN_ENVVAR])
    default = Path(DEFAULT_K8S_TOKEN_PATH)
    return default if default.is_file() else None


class ModelRegistry:
    """Sync client of a model registry, built as the reference client is.

    Args:
        server_address: ``"https://registry.example"``, ``"http://localhost"`` (the scheme is
            kept and passed on) or a bare host name.
        port: Server port (443 by default).
        author: Default author of versions registered through this client, and default owner
            of the models it creates.
        is_secure: Use TLS (the default) and a token; ``False`` for plain HTTP (or gRPC).
        user_token: Bearer token: a string, bytes, a path to a token file, or a callable.
        custom_ca: Path to a PEM bundle of CA certificates for TLS.
        transport: ``"rest"`` (default) or ``"grpc"``.
        api_version: The API version, over REST or gRPC: ``"auto"`` (the default: the
            server's stable v1 when it serves it, else v1alpha3; found out once), ``"v1"`` or
            ``"v1alpha3"``. Experiment methods need v1alpha3 (v1 has no experiments).
        timeout: Default timeout of each call in seconds (the async client's default if None).
        user_token_envvar: When ``user_token`` is None: the environment variable holding the
            path of a token file (it must be set). Without it, ``$KF_PIPELINES_SA_TOKEN_PATH``
            or else the Kubernetes service-account token file is used when present. The file
            is re-read when it changes.
        custom_ca_envvar: When ``custom_ca`` is None: the environment variable holding it.
        log_level: Level of the ``model_registry`` logger (left alone when None).
        project: The project (name or id) every call works in; ``None`` lets the server
            choose (the token's first project, else ``default``). :meth:`project` and
            :meth:`create_project` give an object working in another one.

    Example:
        >>> registry = ModelRegistry("http://localhost", 8080, author="me", is_secure=False)
        >>> model = registry.register_model(
        ...     "HAL", "s3://bucket/hal.onnx", version="9000",
        ...     model_format_name="onnx", model_format_version="1")
    """

    def __init__(
        self,
        server_address: str,
        port: int = 443,
        *,
        author: str,
        is_secure: bool = True,
        user_token: Any = None,
        custom_ca: str | None = None,
        transport: Literal["rest", "grpc"] = "rest",
        api_version: Literal["auto", "v1", "v1alpha3"] = "auto",
        timeout: float | None = None,
        user_token_envvar: str | None = None,
        custom_ca_envvar: str | None = None,
        log_level: int | None = None,
        project: str | None = None,
    ) -> None:
        check_project(project)
        if transport not in ("rest", "grpc"):
            raise ValueError(f"transport must be 'rest' or 'grpc', not {transport!r}")
        if api_version not in ("auto", "v1", "v1alpha3"):
            raise ValueError(f"api_version must be 'auto', 'v1' or 'v1alpha3', not {api_version!r}")
        if transport == "grpc" and api_version != "auto":
            raise ValueError("api_version chooses a REST API version; leave it 'auto' for gRPC")
        if log_level is not None:
            # Only our own logger, and only when asked: the caller's logging setup is theirs.
            logging.getLogger("model_registry").setLevel(log_level)
        if user_token is None:
            user_token = _token_file_from_environment(user_token_envvar)
        if custom_ca is None and custom_ca_envvar:
            custom_ca = os.environ.get(custom_ca_envvar) or None
        self._author = author
        self._project = project
        connection = _Connection(
            server_address,
            port,
            is_secure,
            user_token,
            custom_ca,
            transport,
            timeout,
            api_version,
            project,
        )
        self._holder = _ClientHolder(connection.connect)
        self._runner = LoopThread(
            f"model-registry-{server_address}:{port}",
            owner="the ModelRegistry client",
            closed=ClientClosed,
        )
        # close() runs this; so does garbage collection of a facade never closed. It must not
        # reference self (or self would never be collected): the runner and holder suffice.
        self._finalizer = weakref.finalize(self, self._runner.stop, self._holder.aclose)

    # -- plumbing ------------------------------------------------------------------------

    @property
    def author(self) -> str:
        """The default author (and owner) of what this client registers."""
        return self._author

    @property
    def project(self) -> str | None:
        """The project (name or id) this client works in; ``None``: the server's choice (the
        token's first project, else ``default``)."""
        return self._project

    def _call(
        self,
        fn: Callable[[ModelRegistryAPIClient], Coroutine[Any, Any, T]],
        project: str | None = None,
    ) -> T:
        async def step() -> T:
            api = await self._holder.get()
            if project is None:
                return await fn(api)
            # Set on the private loop, inside the call's own task: only this call sees it.
            with call_options(project=project):
                return await fn(api)

        return self._runner.run(step())

    def run(self, fn: Callable[[ModelRegistryAPIClient], Coroutine[Any, Any, T]]) -> T:
        """Run ``fn(async_client)`` on the private loop and return its result.

        The escape hatch to every method of the async client:
        ``registry.run(lambda api: api.get_artifact_by_id("3"))``.
        """
        return self._call(fn)

    def close(self) -> None:
        """Close the connection pool and stop the private loop (idempotent).

        Calls still running in other threads end with :class:`ClientClosed`.
        """
        self._finalizer()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _pager(
        self,
        page: Callable[[ModelRegistryAPIClient, ListOptions], Coroutine[Any, Any, Page[T]]],
    ) -> Pager[T]:
        def page_fn(options: ListOptions) -> Page[T]:
            return self._call(lambda api: page(api, options))

        return Pager(page_fn)

    # -- change events -------------------------------------------------------------------

    def watch(
        self,
        kinds: str | Iterable[str] | None = None,
        actions: str | Iterable[str] | None = None,
        since: int | str | None = None,
        project: str | None = None,
    ) -> Iterator[Event]:
        """The registry's changes as they commit: ``for event in registry.watch():``.

        The same stream as :meth:`ModelRegistryAPIClient.watch` (commit order, reconnection
        without loss or repeat, ``since`` a cursor to resume after), iterated from this
        thread; each ``next`` waits for the next change. Break out of the loop to stop (the
        stream is closed when the iterator is).
        """
        stream: AsyncIterator[Event] | None = None

        async def start() -> AsyncIterator[Event]:
            return (await self._holder.get()).watch(kinds, actions, since, project)

        async def step() -> Event:
            assert stream is not None
            return await anext(stream)

        stream = self._runner.run(start())
        try:
            while True:
                try:
                    event = self._runner.run(step())
                except StopAsyncIteration:
                    return
                yield event
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(ModelRegistryError, RuntimeError):
                    self._runner.run(aclose())

    # -- projects ------------------------------------------------------------------------

    def create_project(
        self,
        name: str,
        description: str | None = None,
        model_task: str | None = None,
        *,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ProjectClient:
        """Create a project and return it, ready to register into (the seed's
        ``client.create_project(name=..., description=..., model_task=...)``).

        Args:
            name: The project's name, unique in the registry.
            description: Free text.
            model_task: What its models do, e.g. ``"MODEL_TASK_BINARY_CLASSIFICATION"`` (one
                of :data:`~model_registry.types.MODEL_TASKS`).
            external_id: An id from the caller's system.
            metadata: Custom properties of the project.

        Raises:
            Conflict: A project with this name exists.
            BadRequest: ``model_task`` is not a known task (the message lists them).
            Unsupported: The server serves only the REST API v1alpha3 (projects are on v1 and
                gRPC).
        """
        project = Project(
            name,
            description=description,
            model_task=model_task,
            external_id=external_id,
            custom_properties=dict(metadata or {}),
        )
        return ProjectClient(self, self._call(lambda api: api.upsert_project(project)))

    def get_project(self, project_id: str) -> ProjectClient:
        """Return the project with this id (the seed's ``client.get_project(project_id=...)``).

        Raises:
            NotFound: No project has this id, or the token has no role in it.
        """
        found = self._call(lambda api: api.get_project_by_id(project_id))
        if found is None:
            hint = "" if _looks_like_uuid(project_id) else " (get_project_by_name takes a name)"
            raise NotFound(f"project {project_id!r} not found{hint}")
        return ProjectClient(self, found)

    def get_project_by_name(self, name: str) -> ProjectClient:
        """Return the project called ``name``.

        Raises:
            NotFound: No project has this name, or the token has no role in it.
        """
        found = self._call(lambda api: api.get_project_by_params(name=name))
        if found is None:
            raise NotFound(f"project {name!r} not found")
        return ProjectClient(self, found)

    def list_projects(self) -> Pager[ProjectClient]:
        """Return a pager over the projects the token has a role in (all of them with the
        admin token or without authentication); each item is a :class:`ProjectClient`, its
        stored fields in ``.info``."""

        async def page(api: ModelRegistryAPIClient, options: ListOptions) -> Page[ProjectClient]:
            found = await api.get_projects(options)
            items = [ProjectClient(self, project) for project in found]
            return Page(items, next_page_token=found.next_page_token)

        return self._pager(page)

    def delete_project(self, project_id: str, cascade: bool = False) -> None:
        """Delete the project with this id (the server's admin token only); ``cascade``: with
        everything in it, else one holding anything raises ``Conflict`` naming what it holds."""
        self._call(lambda api: api.delete_project(project_id, cascade=cascade))

    # -- tokens --------------------------------------------------------------------------

    def create_token(
        self,
        subject: str,
        roles: Mapping[str, str],
        *,
        expires_time_since_epoch: int | None = None,
    ) -> CreatedToken:
        """Issue a token for ``subject`` with a role per project (``{"fraud": "editor"}``);
        its ``secret`` is seen only here (see
        :meth:`ModelRegistryAPIClient.create_token`)."""
        return self._call(lambda api: api.create_token(subject, roles, expires_time_since_epoch))

    def list_tokens(self) -> Pager[Token]:
        """Return a pager over the tokens (never their secrets)."""
        return self._pager(lambda api, options: api.get_tokens(options))

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token by its id.

        Raises:
            NotFound: There is no such token.
        """
        self._call(lambda api: api.revoke_token(token_id))

    # -- webhooks (the server's admin token only) ----------------------------------------

    def create_webhook(
        self, url: str, secret: str, events: Sequence[str], *, description: str | None = None
    ) -> Webhook:
        """Register a webhook: matching events are POSTed to ``url``, signed with ``secret``
        (see :meth:`ModelRegistryAPIClient.create_webhook`)."""
        return self._call(lambda api: api.create_webhook(url, secret, events, description))

    def get_webhook(self, webhook_id: str) -> Webhook | None:
        """The webhook with this id (with its last delivery's status), or ``None``."""
        return self._call(lambda api: api.get_webhook(webhook_id))

    def list_webhooks(self) -> Pager[Webhook]:
        """Return a pager over the webhooks (never their secrets)."""
        return self._pager(lambda api, options: api.get_webhooks(options))

    def delete_webhook(self, webhook_id: str) -> None:
        """Remove a webhook and its delivery log (NotFound when there is none)."""
        self._call(lambda api: api.delete_webhook(webhook_id))

    def list_webhook_deliveries(self, webhook_id: str) -> Pager[WebhookDelivery]:
        """Return a pager over a webhook's delivery log, newest first."""
        return self._pager(lambda api, options: api.get_webhook_deliveries(webhook_id, options))

    # -- models --------------------------------------------------------------------------

    def register_model(
        self,
        name: str,
        uri: str,
        *,
        version: str,
        model_format_name: str,
        model_format_version: str,
        author: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        storage_key: str | None = None,
        storage_path: str | None = None,
        service_account_name: str | None = None,
        version_description: str | None = None,
        model_source_kind: str | None = None,
        model_source_class: str | None = None,
        model_source_group: str | None = None,
        model_source_id: str | None = None,
        model_source_name: str | None = None,
    ) -> RegisteredModel:
        """Register a model version and its artifact, creating the model when needed.

        Args:
            name: Model name (also the artifact's name).
            uri: Where the model files are (see ``model_registry.utils.s3_uri_from``).
            version: Version name; must not exist yet.
            model_format_name: E.g. ``"onnx"``.
            model_format_version: E.g. ``"1"``.
            author: Version author; the client's author by default.
            owner: Owner of a newly created model; the client's author by default.
            description: Version description.
            metadata: Custom properties of the version.
            storage_key: Storage credentials key.
            storage_path: Storage path.
            service_account_name: Service account to read the model with.
            version_description: Version description (the reference client's newer name;
                wins over ``description``).
            model_source_kind: Artifact source kind (e.g. ``"kfp"``).
            model_source_class: Artifact source class (e.g. ``"pipelinerun"``).
            model_source_group: Artifact source group (e.g. a namespace).
            model_source_id: Artifact source id (e.g. a run id).
            model_source_name: Artifact source's human-readable name.

        Returns:
            The registered model.

        Raises:
            Conflict: The version exists already; nothing was written.
        """
        parts = self._call(
            lambda api: wf.register_model(
                api,
                name,
                uri,
                version=version,
                author=author or self._author,
                owner=owner or self._author,
                description=version_description or description,
                metadata=metadata,
                model_format_name=model_format_name,
                model_format_version=model_format_version,
                storage_key=storage_key,
                storage_path=storage_path,
                service_account_name=service_account_name,
                model_source={
                    "kind": model_source_kind,
                    "class": model_source_class,
                    "group": model_source_group,
                    "id": model_source_id,
                    "name": model_source_name,
                },
            )
        )
        return parts.model

    def upload_artifact_and_register_model(
        self,
        name: str,
        model_files_path: str | os.PathLike[str],
        *,
        upload_params: S3Params | OCIParams | None = None,
        version: str,
        model_format_name: str,
        model_format_version: str,
        storage_path: str | None = None,
        storage_key: str | None = None,
        service_account_name: str | None = None,
        author: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> RegisteredModel:
        """Upload a model's files and register it, as the reference client's method does.

        Name and version conflicts are checked before a byte moves. Without
        ``upload_params`` the files go to the registry's own artifact store (a directory as
        one tar of its tree), streamed with flat memory; with :class:`~model_registry.utils.
        S3Params` straight to your bucket with boto3, registering the ``s3://`` URI;
        :class:`~model_registry.utils.OCIParams` is not supported. The async twin is
        :func:`model_registry.workflows.artifacts.upload_artifact_and_register_model`.

        Args:
            name: Model name (also the artifact's name).
            model_files_path: A file or a directory.
            upload_params: Where the files go (see above).
            version: Version name; must not exist yet.
            model_format_name: E.g. ``"onnx"``.
            model_format_version: E.g. ``"1"``.
            storage_path: Storage path of the artifact.
            storage_key: Storage credentials key of the artifact.
            service_account_name: Service account to read the model with.
            author: Version author; the client's author by default.
            owner: Owner of a newly created model; the client's author by default.
            description: Version description.
            metadata: Custom properties of the version.
            progress: ``progress(bytes_done, bytes_total)`` while the files move.

        Returns:
            The registered model.

        Raises:
            Conflict: The version exists already; nothing was uploaded or written.
            Unsupported: ``OCIParams``, or ``S3Params`` without boto3 (the ``s3`` extra).
        """
        parts = self._call(
            lambda api: wf_artifacts.upload_artifact_and_register_model(
                api,
                name,
                model_files_path,
                upload_params=upload_params,
                version=version,
                model_format_name=model_format_name,
                model_format_version=model_format_version,
                author=author or self._author,
                owner=owner or self._author,
                description=description,
                metadata=metadata,
                storage_path=storage_path,
                storage_key=storage_key,
                service_account_name=service_account_name,
                progress=progress,
            )
        )
        return parts.model

    def download_model_artifact(
        self,
        name: str,
        version: str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        s3_params: S3Params | None = None,
    ) -> Path:
        """Download the files of a model version to ``dest``, streamed with flat memory.

        Content in the registry's store is checked against its recorded SHA-256 before it
        lands; a directory uploaded as a tree is unpacked into ``dest``. See
        :func:`model_registry.workflows.artifacts.download_model_artifact` (the async twin).

        Returns:
            The file written, or the directory the files were unpacked into.

        Raises:
            NotFound: No such model, version or model artifact.
            Unsupported: The files are neither in the registry nor in S3.
            InvalidResponse: The bytes do not match the recorded digest (nothing written).
        """
        return self._call(
            lambda api: wf_artifacts.download_model_artifact(
                api, name, version, dest, progress=progress, s3_params=s3_params
            )
        )

    def get_registered_model(self, name: str) -> RegisteredModel | None:
        """Return the model called ``name``, or None."""
        return self._call(lambda api: api.get_registered_model_by_params(name=name))

    def get_registered_model_by_id(self, model_id: str) -> RegisteredModel | None:
        """Return the model with id ``model_id``, or None."""
        return self._call(lambda api: api.get_registered_model_by_id(model_id))

    def _require_model(self, name: str) -> RegisteredModel:
        model = self.get_registered_model(name)
        if model is None or model.id is None:
            raise NotFound(f"model {name!r} does not exist")
        return model

    def get_model_version(self, name: str, version: str) -> ModelVersion | None:
        """Return version ``version`` of model ``name``, or None when the version is absent.

        Raises:
            NotFound: The model does not exist.
        """
        model_id = self._require_model(name).id
        return self._call(
            lambda api: api.get_model_version_by_params(
                registered_model_id=model_id, version=version
            )
        )

    def get_model_version_by_id(self, version_id: str) -> ModelVersion | None:
        """Return the model version with id ``version_id``, or None."""
        return self._call(lambda api: api.get_model_version_by_id(version_id))

    def get_model_artifact(self, name: str, version: str) -> ModelArtifact | None:
        """Return the model artifact of version ``version`` of model ``name``, or None.

        Raises:
            NotFound: The model or the version does not exist.
        """
        mv = self.get_model_version(name, version)
        if mv is None or mv.id is None:
            raise NotFound(f"model {name!r} has no version {version!r}")
        version_id = mv.id
        return self._call(
            lambda api: api.get_model_artifact_by_params(name=name, model_version_id=version_id)
        )

    def latest_version(self, name: str) -> ModelVersion | None:
        """Return the most recently created version of model ``name`` (None if it has none).

        Raises:
            NotFound: The model does not exist.
        """
        return self._call(lambda api: wf.latest_version(api, name))

    def update(self, entity: E) -> E:
        """Store the changes made to a fetched model, version or artifact.

        Args:
            entity: A ``RegisteredModel``, ``ModelVersion`` or artifact with an ``id``.

        Returns:
            The entity as stored.
        """
        if entity.id is None:
            raise ValueError(f"{type(entity).__name__} has no id: register it first")
        return self._call(lambda api: _upsert(api, entity))

    def archive(self, entity: E) -> E:
        """Mark a registered model or a model version ``ARCHIVED`` and store it.

        Returns:
            The entity as stored (the argument is not changed).
        """
        if isinstance(entity, RegisteredModel):
            state: Any = RegisteredModelState.ARCHIVED
        elif isinstance(entity, ModelVersion):
            state = ModelVersionState.ARCHIVED
        else:
            raise TypeError(f"only models and versions can be archived, not {type(entity)}")
        return self.update(dataclasses.replace(entity, state=state))

    # -- aliases and delete (our extensions: Unsupported against a server without them) --

    def _require_version(self, name: str, version: str) -> tuple[str, str]:
        """The ids of model ``name`` and its version ``version``.

        Raises:
            NotFound: The model or the version does not exist.
        """
        model_id = self._require_model(name).id
        assert model_id is not None
        found = self._call(
            lambda api: api.get_model_version_by_params(
                registered_model_id=model_id, version=version
            )
        )
        if found is None or found.id is None:
            raise NotFound(f"model {name!r} has no version {version!r}")
        return model_id, found.id

    def set_alias(self, name: str, alias: str, version: str) -> ModelVersion:
        """Point ``alias`` of model ``name`` at its version ``version`` (create or move it).

        Aliases name a version for deployments (``champion``, ``staging``): unique within a
        model, several per version; 1 to 255 characters out of ``A-Z a-z 0-9 _ -``, ``latest``
        and ``v`` followed by digits reserved.

        Returns:
            The version, with its ``aliases``.

        Raises:
            NotFound: The model or the version does not exist.
        """
        model_id, version_id = self._require_version(name, version)
        return self._call(lambda api: api.set_model_version_alias(model_id, alias, version_id))

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` of model ``name`` (the version stays).

        Raises:
            NotFound: The model does not exist or has no such alias.
        """
        model_id = self._require_model(name).id
        assert model_id is not None
        self._call(lambda api: api.delete_model_version_alias(model_id, alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """Return the version ``alias`` of model ``name`` points at, or None when unset.

        Raises:
            NotFound: The model does not exist.
        """
        model_id = self._require_model(name).id
        return self._call(lambda api: api.get_model_version_by_alias(model_id, alias))

    def delete_registered_model(self, name: str, cascade: bool = False) -> None:
        """Delete model ``name``; ``cascade``: with its versions, their artifacts and aliases.

        Raises:
            NotFound: The model does not exist.
            Conflict: It has versions (without ``cascade``), or something outside it refers to
                it (an inference service): the message names them.
        """
        model_id = self._require_model(name).id
        assert model_id is not None
        self._call(lambda api: api.delete_registered_model(model_id, cascade=cascade))

    def delete_model_version(self, name: str, version: str, cascade: bool = False) -> None:
        """Delete version ``version`` of model ``name``; ``cascade``: with its artifacts and
        the aliases pointing at it.

        Raises:
            NotFound: The model or the version does not exist.
            Conflict: It has artifacts or aliases (without ``cascade``), or something outside
                it refers to it (an inference service, a serve model): the message names them.
        """
        _, version_id = self._require_version(name, version)
        self._call(lambda api: api.delete_model_version(version_id, cascade=cascade))

    def get_registered_models(self) -> Pager[RegisteredModel]:
        """Return a pager over every registered model."""
        return self._pager(lambda api, options: api.get_registered_models(options))

    def get_model_versions(self, name: str) -> Pager[ModelVersion]:
        """Return a pager over the versions of model ``name``.

        Raises:
            NotFound: The model does not exist.
        """
        model_id = self._require_model(name).id
        assert model_id is not None
        return self._pager(lambda api, options: api.get_model_versions(model_id, options))

    def get_model_artifacts(self, name: str, version: str | None = None) -> Pager[Artifact]:
        """Return a pager over the artifacts of one version (or of the latest version).

        Raises:
            NotFound: The model or the version does not exist.
        """
        mv = self.get_model_version(name, version) if version else self.latest_version(name)
        if mv is None or mv.id is None:
            raise NotFound(f"model {name!r} has no version {version!r}")
        version_id = mv.id
        return self._pager(
            lambda api, options: api.get_model_version_artifacts(version_id, options)
        )

    # -- workflows -----------------------------------------------------------------------

    def register_model_from_config(
        self,
        name: str,
        model_config: Mapping[str, Any],
        *,
        version: str = "1",
        author: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skip_validation: bool = False,
    ) -> str:
        """Register a model from a configuration (``hugging_face`` or ``model_path``).

        See :mod:`model_registry.workflows.model_config` for the accepted forms.

        Returns:
            The registered model's id (find it again with :meth:`get_registered_model` or
            :meth:`get_registered_model_by_id`, its configuration with
            :meth:`get_model_config`).
        """
        parts = self._call(
            lambda api: wf.register_model_from_config(
                api,
                name,
                model_config,
                version=version,
                author=author or self._author,
                owner=owner or self._author,
                description=description,
                metadata=metadata,
                skip_validation=skip_validation,
            )
        )
        assert parts.model.id is not None
        return parts.model.id

    def register_model_from_path(
        self,
        name: str,
        remote_path: str,
        *,
        version: str = "1",
        author: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skip_validation: bool = False,
    ) -> str:
        """Register a model file by its path (``{"model_path": {"path": remote_path}}``).

        A local path must be a readable file unless ``skip_validation``; remote URIs are not
        checked.

        Returns:
            The registered model's id.
        """
        return self.register_model_from_config(
            name,
            {"model_path": {"path": remote_path}},
            version=version,
            author=author,
            owner=owner,
            description=description,
            metadata=metadata,
            skip_validation=skip_validation,
        )

    def get_model_config(self, name: str, version: str | None = None) -> dict[str, Any] | None:
        """Return the configuration a version (the latest by default) was registered with."""
        return self._call(lambda api: wf.get_model_config(api, name, version))

    def register_dataset(
        self,
        name: str,
        uri: str,
        *,
        data_params: Mapping[str, Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skip_validation: bool = False,
    ) -> str:
        """Register a dataset and its parameters; a local file is validated first.

        Args:
            name: Dataset name, unique among datasets.
            uri: Where the data is (csv, parquet, jsonl, jsonl.gz, json.gz when local).
            data_params: ``{"label_col", "timestamp_col", "text_features", "class_names"}``.
            description: Free text.
            metadata: Extra custom properties.
            skip_validation: Do not open a local file.

        Returns:
            The dataset's id.
        """
        stored = self._call(
            lambda api: wf.register_dataset(
                api,
                name,
                uri,
                data_params=data_params,
                description=description,
                metadata=metadata,
                skip_validation=skip_validation,
            )
        )
        assert stored.id is not None
        return stored.id

    def get_dataset(self, name: str) -> DataSet | None:
        """Return the dataset called ``name``, or None."""
        return self._call(lambda api: wf.find_dataset(api, name))

    def get_dataset_by_id(self, dataset_id: str) -> DataSet | None:
        """Return the dataset with id ``dataset_id``, or None."""
        return self._call(lambda api: wf.get_dataset_by_id(api, dataset_id))

    @staticmethod
    def get_params(artifact: DataSet) -> dict[str, Any]:
        """Return the parameters stored on a dataset or predictions artifact."""
        return decode_params(artifact.custom_properties)

    def get_datasets(self) -> Pager[DataSet]:
        """Return a pager over the registered datasets."""
        return self._pager(wf.list_datasets)

    def register_predictions(
        self,
        dataset: DataSet | str,
        model_version: ModelVersion | str,
        uri: str,
        *,
        pred_col: str,
        description: str | None = None,
        skip_validation: bool = False,
    ) -> str:
        """Register predictions of a model version on a dataset (objects or their ids).

        The predictions are a ``DataSet`` artifact of the model version whose custom properties
        ``dataset_id`` and ``model_version_id`` link it to both.

        Returns:
            The predictions' id.
        """
        stored = self._call(
            lambda api: wf.register_predictions(
                api,
                dataset,
                model_version,
                uri,
                pred_col=pred_col,
                description=description,
                skip_validation=skip_validation,
            )
        )
        assert stored.id is not None
        return stored.id

    def get_predictions(
        self, dataset: DataSet | str, model_version: ModelVersion | str
    ) -> DataSet | None:
        """Return the predictions of a model version on a dataset, or None."""
        return self._call(lambda api: wf.find_predictions(api, dataset, model_version))

    def get_predictions_by_id(self, predictions_id: str) -> DataSet | None:
        """Return the predictions with id ``predictions_id``, or None."""
        return self._call(lambda api: wf.get_predictions_by_id(api, predictions_id))


async def _upsert(api: ModelRegistryAPIClient, entity: E) -> E:
    result: Any
    if isinstance(entity, RegisteredModel):
        result = await api.upsert_registered_model(entity)
    elif isinstance(entity, ModelVersion):
        result = await api.upsert_model_version(entity, entity.registered_model_id)
    elif isinstance(entity, ModelArtifact):
        result = await api.upsert_model_artifact(entity)
    else:
        result = await api.upsert_artifact(entity)
    return result  # type: ignore[no-any-return]


def _looks_like_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class ProjectClient:
    """One project of a registry, with the seed's registration workflow.

    Returned by :meth:`ModelRegistry.create_project`, :meth:`ModelRegistry.get_project`,
    :meth:`ModelRegistry.get_project_by_name` and :meth:`ModelRegistry.list_projects`. Every
    call it makes works in this project (its id travels with each request), whatever project
    the :class:`ModelRegistry` it came from works in; it shares that client's connection.

    Names are unique as in the seed: registering a model or a dataset under a name the project
    already holds is a :class:`~model_registry.exceptions.Conflict`, and nothing is written.
    Local files are validated as the facade's workflows validate them (a model path must be a
    readable file; a data file must be readable and hold the columns its parameters name);
    ``skip_validation=True`` skips that (not recommended).

    Attributes:
        info: The project as stored (a :class:`~model_registry.types.Project`).
    """

    def __init__(self, registry: ModelRegistry, info: Project) -> None:
        if info.id is None:
            raise ValueError("a ProjectClient needs a stored project (with an id)")
        self._registry = registry
        self.info = info

    @property
    def project_id(self) -> str:
        """The project's id (a UUID string), as the seed's ``project.project_id``."""
        assert self.info.id is not None
        return self.info.id

    @property
    def name(self) -> str:
        """The project's name."""
        return self.info.name

    @property
    def description(self) -> str | None:
        """The project's description."""
        return self.info.description

    @property
    def model_task(self) -> str | None:
        """The project's model task (``MODEL_TASK_...``)."""
        return self.info.model_task

    def __repr__(self) -> str:
        return f"ProjectClient(name={self.name!r}, project_id={self.project_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectClient):
            return NotImplemented
        return self.info == other.info and self._registry is other._registry

    __hash__ = None  # type: ignore[assignment]  # mutable info, as the domain types

    def _call(self, fn: Callable[[ModelRegistryAPIClient], Coroutine[Any, Any, T]]) -> T:
        return self._registry._call(fn, project=self.project_id)

    # -- models --------------------------------------------------------------------------

    def register_model(
        self,
        name: str,
        model_config: Mapping[str, Any],
        model_endpoint_integration_id: str | None = None,
        skip_validation: bool = False,
        *,
        version: str = "1",
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a model described by a configuration; return the registered model's id.

        Args:
            name: The model's name, new in this project.
            model_config: ``{"hugging_face": {"model_uri": ..., "kwargs": {...}}}`` or
                ``{"model_path": {"path": ...}}`` (see
                :mod:`model_registry.workflows.model_config`).
            model_endpoint_integration_id: The integration whose secrets the model needs at
                run time; recorded as the version's custom property
                ``model_endpoint_integration_id``.
            skip_validation: Do not check that a local model path is a readable file.
            version: The name of the version created (``"1"``).
            description: The version's description.
            metadata: Custom properties of the version.

        Raises:
            Conflict: The project holds a model called ``name`` already.
            DataValidationError: A local model path is missing or unreadable.
            ValueError: The configuration is malformed.
        """
        properties = dict(metadata or {})
        if model_endpoint_integration_id is not None:
            properties["model_endpoint_integration_id"] = model_endpoint_integration_id
        author = self._registry.author
        parts = self._call(
            lambda api: wf.register_model_from_config(
                api,
                name,
                model_config,
                version=version,
                author=author,
                owner=author,
                description=description,
                metadata=properties,
                skip_validation=skip_validation,
                new_model=True,
            )
        )
        assert parts.model.id is not None
        return parts.model.id

    def register_model_from_path(
        self,
        name: str,
        remote_path: str,
        skip_validation: bool = False,
        *,
        version: str = "1",
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a model file by its path (``{"model_path": {"path": remote_path}}``);
        return the registered model's id.

        A local path must be a readable file unless ``skip_validation``; remote URIs
        (``s3://...``) are not opened.

        Raises:
            Conflict: The project holds a model called ``name`` already.
        """
        return self.register_model(
            name,
            {"model_path": {"path": remote_path}},
            skip_validation=skip_validation,
            version=version,
            description=description,
            metadata=metadata,
        )

    # -- datasets and predictions --------------------------------------------------------

    def register_dataset(
        self,
        name: str,
        data_config: Mapping[str, Any] | None = None,
        integration_id: str | None = None,
        skip_validation: bool = False,
        *,
        data_params: Mapping[str, Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a dataset described by a data configuration; return its id.

        Args:
            name: The dataset's name, new in this project.
            data_config: ``{"connection_info": {"data_file": {"path": ...}}, "data_params":
                {"label_col": ..., "timestamp_col": ...}}`` (a ``hugging_face`` connection
                with ``dataset_uri`` is recorded, not opened); see
                :mod:`model_registry.workflows.data_config`.
            integration_id: The integration holding the credentials to read the data;
                recorded as the custom property ``integration_id``.
            skip_validation: Do not open a local file to check its columns.
            data_params: The older spelling of ``data_config`` (the whole configuration,
                as seed 001 writes it).
            description: Free text.
            metadata: Extra custom properties.

        Raises:
            Conflict: The project holds a dataset called ``name`` already.
            DataValidationError: The local file is unreadable or lacks a named column.
            ValueError: The configuration is malformed.
        """
        if data_config is not None and data_params is not None:
            raise ValueError("give data_config or data_params (its older name), not both")
        config = data_config if data_config is not None else data_params
        if config is None:
            raise ValueError("register_dataset needs data_config")
        source = data_source(config)
        properties = {**source.properties, **(metadata or {})}
        if integration_id is not None:
            properties["integration_id"] = integration_id
        stored = self._call(
            lambda api: wf.register_dataset(
                api,
                name,
                source.uri,
                data_params=source.params,
                description=description,
                metadata=properties,
                skip_validation=skip_validation or not source.openable,
            )
        )
        assert stored.id is not None
        return stored.id

    def register_predictions(
        self,
        dataset_id: str,
        model_id: str,
        pred_config: Mapping[str, Any],
        skip_validation: bool = False,
        *,
        model_version_id: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a model's predictions on a dataset; return their id.

        The predictions belong to the newest version of the registered model ``model_id``
        (or to ``model_version_id``, a version of that model) and record the dataset's, the
        version's and the model's ids (custom properties ``dataset_id``,
        ``model_version_id``, ``registered_model_id``).

        Args:
            dataset_id: A dataset of this project (from :meth:`register_dataset`).
            model_id: A registered model of this project (from :meth:`register_model`).
            pred_config: ``{"connection_info": {"data_file": {"path": ...}}, "pred_params":
                {"pred_col": ...}}``.
            skip_validation: Do not open a local file to check its columns.
            model_version_id: The version that made the predictions (default: the newest).
            description: Free text.
            metadata: Extra custom properties.

        Raises:
            NotFound: The dataset, the model or the version is not in this project, or the
                model has no version.
            Conflict: These predictions are registered already.
            DataValidationError: The local file is unreadable or lacks ``pred_col``.
            ValueError: The configuration is malformed or has no ``pred_col``.
        """
        source = data_source(pred_config, params_key="pred_params")
        params = dict(source.params)
        pred_col = params.pop("pred_col", None)
        if not isinstance(pred_col, str) or not pred_col:
            raise ValueError("pred_config needs pred_params.pred_col (the prediction column)")
        properties = {**source.properties, **(metadata or {})}

        async def register(api: ModelRegistryAPIClient) -> DataSet:
            if model_version_id is None:
                version = await wf.newest_version(api, model_id)
                if version is None:
                    raise NotFound(f"model {model_id!r} has no version in this project")
            else:
                version = await api.get_model_version_by_id(model_version_id)
                if version is None or version.registered_model_id != str(model_id):
                    raise NotFound(f"model {model_id!r} has no version {model_version_id!r}")
            return await wf.register_predictions(
                api,
                dataset_id,
                version,
                source.uri,
                pred_col=pred_col,
                params=params,
                description=description,
                metadata=properties,
                skip_validation=skip_validation or not source.openable,
            )

        stored = self._call(register)
        assert stored.id is not None
        return stored.id
