"""``model-registry serve``: run the registry server until SIGINT/SIGTERM.

A click command, added to the ``model-registry`` group (:mod:`model_registry.cli`) when it is
asked for. To add an option: one ``@click.option`` on :func:`serve`. An option whose
parameter name is a keyword of :func:`~model_registry.server.app.run_server` goes to it as it
is (it lands in ``run_options``); any other needs a named parameter of :func:`serve` and a line
in :func:`_serve` saying what it does.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import signal
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from model_registry._eventloop import LOOP_CHOICES, resolve_loop, run_on_loop
from model_registry._memory import keep_freed_pieces
from model_registry.server.app import (
    MAX_BODY_BYTES,
    check_api_versions,
    open_store_of,
    run_server,
)
from model_registry.server.backfill import FILL_BATCH, fill_kept_answers
from model_registry.server.connections import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_GRPC_KEEPALIVE_TIME,
    DEFAULT_GRPC_MAX_CALLS_PER_ADDRESS,
    DEFAULT_GRPC_MAX_CONCURRENT_STREAMS,
    DEFAULT_GRPC_MAX_CONNECTION_AGE,
    DEFAULT_GRPC_MAX_WATCHES_PER_ADDRESS,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    ConnectionLimits,
)
from model_registry.server.events import parse_duration
from model_registry.server.observability import (
    ACCESS_LOG_FORMATS,
    ACCESS_LOGGER,
    LOG_FORMATS,
    JsonLogFormatter,
)
from model_registry.server.ratelimit import RateLimit
from model_registry.server.store import Store
from model_registry.server.store.engine import DEFAULT_STATEMENT_TIMEOUT, normalize_database_url
from model_registry.server.sweep import ContentSweeper, SweepResult
from model_registry.server.versions import (
    API_VERSIONS,
    DEFAULT_API_VERSIONS,
    parse_api_versions,
    parse_sunset_date,
)

__all__ = ["LOOP_ENV", "TOKEN_ENV", "serve", "sweep_artifacts"]

TOKEN_ENV = "MODEL_REGISTRY_AUTH_TOKEN"
"""Environment variable holding one accepted bearer token."""

LOOP_ENV = "MODEL_REGISTRY_LOOP"
"""Environment variable choosing the event loop (``auto``, ``asyncio`` or ``uvloop``) when
``--loop`` is not given."""

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _api_versions(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_api_versions(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _retention(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _duration_or_off(ctx: click.Context, param: click.Parameter, value: str) -> float:
    if value.strip() in ("0", "0s", "off"):
        return 0.0
    return _retention(ctx, param, value)


def _sunset_date(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    try:
        return None if value is None else parse_sunset_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=f"Any token option turns bearer tokens on for every call but the health checks; "
    f"${TOKEN_ENV} adds one token too.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=8080, show_default=True, help="REST port (0: any free port)."
)
@click.option(
    "--grpc-port", type=int, default=9090, show_default=True, help="gRPC port (0: any free port)."
)
@click.option("--no-grpc", is_flag=True, help="Serve REST only.")
@click.option(
    "--database-url",
    default="sqlite:///./registry.db",
    show_default=True,
    help="sqlite:///path/to/file.db or postgresql://user@host:port/db.",
)
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Logging level.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="json: every log line a JSON object (time, level, logger, message), with the "
    "access log (--access-log json) on.",
)
@click.option(
    "--auth-token-file",
    metavar="PATH",
    help="File of accepted tokens, one per line (# comments); re-read when it changes.",
)
@click.option(
    "--auth-token",
    metavar="TOKEN",
    multiple=True,
    help="An accepted token (repeatable; visible in the process list, prefer the file).",
)
@click.option("--tls-cert", metavar="PATH", help="PEM certificate chain: serve over TLS.")
@click.option("--tls-key", metavar="PATH", help="PEM private key of the certificate.")
@click.option(
    "--loop",
    type=click.Choice(LOOP_CHOICES),
    default=None,
    help=f"Event loop: uvloop when installed (auto, the default; or ${LOOP_ENV}), "
    "or asyncio's own.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body / gRPC message accepted.",
)
@click.option(
    "--statement-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_STATEMENT_TIMEOUT,
    show_default=True,
    help="Seconds a database statement may run: over it a filtered read is a 400 "
    "('too expensive'), anything else a 503.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    help="Seconds a client has to finish a request head (and a TLS or HTTP/2 handshake).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_BODY_TIMEOUT,
    show_default=True,
    help="Seconds a client has to finish a request body once its head is complete.",
)
@click.option(
    "--keepalive-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_KEEPALIVE_TIMEOUT,
    show_default=True,
    help="Seconds an idle connection stays open between requests (REST and gRPC).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    help="Most open REST connections (lowered to fit the open-file limit); more get 503.",
)
@click.option(
    "--max-connections-per-address",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    show_default=True,
    help="Most open REST connections from one client address; more get 503.",
)
@click.option(
    "--grpc-keepalive-time",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_GRPC_KEEPALIVE_TIME,
    show_default=True,
    help="Seconds between gRPC keepalive pings.",
)
@click.option(
    "--grpc-max-connection-age",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_GRPC_MAX_CONNECTION_AGE,
    show_default=True,
    help="Seconds after which a gRPC connection is asked to go away.",
)
@click.option(
    "--grpc-max-concurrent-streams",
    type=click.IntRange(min=1),
    default=DEFAULT_GRPC_MAX_CONCURRENT_STREAMS,
    show_default=True,
    help="Most calls in flight on one gRPC connection.",
)
@click.option(
    "--grpc-max-calls-per-address",
    type=click.IntRange(min=1),
    default=DEFAULT_GRPC_MAX_CALLS_PER_ADDRESS,
    show_default=True,
    help="Most gRPC calls handled at once for one client address; more get UNAVAILABLE.",
)
@click.option(
    "--grpc-max-watches-per-address",
    type=click.IntRange(min=1),
    default=DEFAULT_GRPC_MAX_WATCHES_PER_ADDRESS,
    show_default=True,
    help="Most gRPC event watches open at once for one client address (not counted among "
    "the calls); more get UNAVAILABLE.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="PER_SECOND",
    help="Requests a second per token (per client address with auth off); more get 429. "
    "Off by default.",
)
@click.option(
    "--rate-limit-burst",
    type=click.IntRange(min=1),
    default=None,
    help="Requests a caller may send at once under --rate-limit (default: the rate).",
)
@click.option(
    "--access-log",
    type=click.Choice(ACCESS_LOG_FORMATS),
    default="off",
    show_default=True,
    help="json: one JSON object per request on stderr (method, route, status, duration; "
    "never a token or a body).",
)
@click.option(
    "--metrics-public",
    is_flag=True,
    help="Serve /metrics without a token also with auth on.",
)
@click.option(
    "--api-versions",
    default=",".join(DEFAULT_API_VERSIONS),
    show_default=True,
    callback=_api_versions,
    help=f"API versions to serve, comma separated, out of {', '.join(API_VERSIONS)}: REST "
    "routes and gRPC service of each (another version's prefix answers 404, its gRPC service "
    "UNIMPLEMENTED).",
)
@click.option(
    "--alpha-sunset-date",
    metavar="YYYY-MM-DD",
    callback=_sunset_date,
    help="The day v1alpha3 goes away: its answers then carry Deprecation, Sunset and a "
    "successor Link to v1.",
)
@click.option(
    "--event-retention",
    default="30d",
    show_default=True,
    callback=_retention,
    help="How long change events are kept (e.g. 30d, 12h, 90m); a watcher resuming from an "
    "older cursor gets a clear error.",
)
@click.option(
    "--artifact-store",
    metavar="URI",
    default=None,
    help="Where uploaded artifact content goes: file:///path or s3://bucket/prefix "
    "(default: a folder 'artifacts' beside the SQLite file; with PostgreSQL ./artifacts).",
)
@click.option(
    "--s3-endpoint-url",
    metavar="URL",
    default=None,
    help="URL of the S3-compatible service of an s3:// artifact store (default: AWS); "
    "credentials come from the usual AWS sources (environment, shared files, roles).",
)
@click.option(
    "--max-artifact-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Largest artifact content an upload may send (default: no limit); more gets 413.",
)
@click.option(
    "--artifact-sweep-interval",
    default="1h",
    show_default=True,
    callback=_duration_or_off,
    help="How often content no artifact names any more is removed from the artifact store "
    "(e.g. 1h, 30m; 0: never; model-registry sweep-artifacts runs one sweep now).",
)
@click.option(
    "--artifact-sweep-grace",
    default="1h",
    show_default=True,
    callback=_duration_or_off,
    help="Content an upload stored this recently is kept by the sweep (0: none).",
)
@click.option(
    "--webhook-allow-http",
    is_flag=True,
    help="Accept http webhook URLs (by default only https).",
)
@click.option(
    "--webhook-allow-private",
    is_flag=True,
    help="Deliver webhooks to loopback, link-local and private addresses too.",
)
def serve(
    *,
    grpc_port: int,
    no_grpc: bool,
    log_level: str,
    log_format: str,
    auth_token: tuple[str, ...],
    loop: str | None,
    header_timeout: float,
    body_timeout: float,
    keepalive_timeout: float,
    max_connections: int,
    max_connections_per_address: int,
    grpc_keepalive_time: float,
    grpc_max_connection_age: float,
    grpc_max_concurrent_streams: int,
    grpc_max_calls_per_address: int,
    grpc_max_watches_per_address: int,
    rate_limit: float | None,
    rate_limit_burst: int | None,
    **run_options: Any,
) -> None:
    """Run the model registry server (REST API v1 and v1alpha3, optional gRPC)."""
    if (run_options["tls_cert"] is None) != (run_options["tls_key"] is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if rate_limit_burst is not None and rate_limit is None:
        raise click.UsageError("--rate-limit-burst needs --rate-limit")
    run_options["connection_limits"] = ConnectionLimits(
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        keepalive_timeout=keepalive_timeout,
        max_connections=max_connections,
        max_connections_per_address=max_connections_per_address,
        grpc_keepalive_time=grpc_keepalive_time,
        grpc_max_connection_age=grpc_max_connection_age,
        grpc_max_concurrent_streams=grpc_max_concurrent_streams,
        grpc_max_calls_per_address=grpc_max_calls_per_address,
        grpc_max_watches_per_address=grpc_max_watches_per_address,
    )
    if rate_limit is not None:
        run_options["rate_limit"] = RateLimit(rate_limit, rate_limit_burst)
    try:
        check_api_versions(run_options["api_versions"], run_options["alpha_sunset_date"])
    except ValueError as exc:
        raise click.UsageError(f"--alpha-sunset-date: {exc}") from None
    try:
        kind = resolve_loop(loop or os.environ.get(LOOP_ENV, "").strip().lower() or "auto")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    tokens = list(auth_token)
    if os.environ.get(TOKEN_ENV, "").strip():
        tokens.append(os.environ[TOKEN_ENV])
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())
        run_options["access_log"] = "json"  # structured logs say what each request did
    # aiosqlite logs two debug lines for every call it hands to its thread (a migration makes
    # thousands): they say nothing about the registry and would drown its own debug lines.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    if run_options["access_log"] == "json":
        # Each line is the JSON object alone, whatever the log level of the rest.
        access = logging.getLogger(ACCESS_LOGGER)
        access_handler = logging.StreamHandler()
        access_handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(access_handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    # Content moves in 1 MiB pieces: reusing freed ones spares the kernel's page faults.
    keep_freed_pieces()
    try:
        run_on_loop(
            _serve(grpc_port=None if no_grpc else grpc_port, auth_tokens=tokens, **run_options),
            kind,
        )
    except SQLAlchemyError as exc:
        raise click.ClickException(_database_error(run_options["database_url"], exc)) from None
    except (OSError, ValueError) as exc:
        # An address in use, a file that cannot be read, a database URL of the wrong kind.
        token_file = run_options["auth_token_file"]
        if isinstance(exc, OSError) and token_file and exc.filename == str(token_file):
            message = f"cannot read the token file {token_file}: {exc.strerror}"
        else:
            message = re.sub(r"\[Errno \d+\] ", "", str(exc))
        raise click.ClickException(" ".join(message.split())) from None


def _database_error(database_url: str, exc: SQLAlchemyError) -> str:
    """One line naming the database that could not be opened (a SQLite file by its path)."""
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split("(Background on")[0].split())
    try:
        url = normalize_database_url(database_url)
    except ValueError:
        return f"cannot open the database: {reason}"
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        where = path if path.is_absolute() else f"{path} (in {Path.cwd()})"
        return f"cannot open the SQLite database {where}: {reason}"
    return f"cannot open the database {url.render_as_string(hide_password=True)}: {reason}"


async def _serve(**run_options: Any) -> None:
    """Serve until SIGINT/SIGTERM: ``run_options`` are :func:`run_server`'s keywords."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_server(**run_options) as srv:
        grpc = f", gRPC on {srv.host}:{srv.grpc_port}" if srv.grpc_port is not None else ""
        authenticated = run_options["auth_tokens"] or run_options["auth_token_file"]
        auth = ", bearer tokens required" if authenticated else ""
        # Named from the running loop itself, so the line tells what really serves.
        kind = "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
        # Everything alive now (modules, the app, compiled statements) lives as long as the
        # process: kept out of the collector's full passes, which otherwise walk it again and
        # again while a page of 1,000 items is built (about a quarter of a page's CPU).
        gc.collect()
        gc.freeze()
        apis = " and ".join(srv.api_versions)
        print(
            f"model-registry serving on {srv.url}{grpc}{auth}, REST API {apis}, event loop {kind}",
            flush=True,
        )
        print(f"model-registry web UI at {srv.url}/ui", flush=True)
        print(f"model-registry artifact store at {srv.artifact_store}", flush=True)
        await stop.wait()
        print("model-registry stopping", flush=True)


@click.command(
    "sweep-artifacts",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--database-url",
    default="sqlite:///./registry.db",
    show_default=True,
    help="The registry's database (the one serve uses).",
)
@click.option(
    "--artifact-store",
    metavar="URI",
    default=None,
    help="The artifact store serve uses (default: serve's default for this database).",
)
@click.option(
    "--s3-endpoint-url", metavar="URL", default=None, help="As for serve, with s3:// stores."
)
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    callback=_duration_or_off,
    help="Keep content an upload stored this recently (as serve's --artifact-sweep-grace).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sweep_artifacts(
    database_url: str,
    artifact_store: str | None,
    s3_endpoint_url: str | None,
    grace: float,
    as_json: bool,
) -> None:
    """Remove from the artifact store the content no artifact names any more, now.

    Safe while servers run on the same database and store: an upload of the same content
    either keeps it or waits for the sweep and stores it again (docs/server.md).
    """
    try:
        result = asyncio.run(_sweep_once(database_url, artifact_store, s3_endpoint_url, grace))
    except SQLAlchemyError as exc:
        raise click.ClickException(_database_error(database_url, exc)) from None
    except (OSError, ValueError) as exc:
        message = re.sub(r"\[Errno \d+\] ", "", str(exc))
        raise click.ClickException(" ".join(message.split())) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "removed": list(result.removed),
                    "freedBytes": result.freed_bytes,
                    "failed": list(result.failed),
                    "staleUploads": result.stale_uploads,
                    "unknownFound": result.unknown,
                }
            )
        )
        return
    click.echo(
        f"removed {len(result.removed)} unreferenced content objects ({result.freed_bytes} "
        f"bytes), {len(result.failed)} kept after a store failure, {result.stale_uploads} "
        f"interrupted uploads, {result.unknown} stored objects found without a row"
    )
    if result.failed:
        raise click.exceptions.Exit(1)


@click.command(
    "fill-answers",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--database-url",
    default="sqlite:///./registry.db",
    show_default=True,
    help="The registry's database (the one serve uses).",
)
@click.option(
    "--batch",
    default=FILL_BATCH,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Rows read, rendered and written per batch.",
)
def fill_answers(database_url: str, batch: int) -> None:
    """Keep the list answer of every row that has none (written before migration 0010, or
    under another rendering), now; serve also does it in the background at start-up.

    Safe while servers run on the same database: a row updated meanwhile keeps the answer
    its update made (docs/server.md).
    """
    try:
        count = asyncio.run(_fill_once(database_url, batch))
    except SQLAlchemyError as exc:
        raise click.ClickException(_database_error(database_url, exc)) from None
    click.echo(f"kept the answers of {count} rows")


async def _fill_once(database_url: str, batch: int) -> int:
    store = await Store.open(database_url)
    try:
        return await fill_kept_answers(store, batch=batch)
    finally:
        await store.close()


async def _sweep_once(
    database_url: str, artifact_store: str | None, s3_endpoint_url: str | None, grace: float
) -> SweepResult:
    store = await Store.open(database_url)
    try:
        artifacts = open_store_of(database_url, artifact_store, s3_endpoint_url)
        try:
            return await ContentSweeper(store, artifacts, grace=grace).sweep()
        finally:
            await artifacts.close()
    finally:
        await store.close()
