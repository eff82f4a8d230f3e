"""``--only auth``: what authentication costs a get (issue 18: tokens with roles per project).

Two servers on the same seeded models run side by side: one with auth off, one with
``--auth-token`` (the admin token). Our REST client gets models by id in interleaved rounds
three ways: on the open server without a token; on the guarded one with the admin token
(compared with the configured tokens); and with an issued token, a ``reader`` of the
``default`` project (looked up by its SHA-256 among the stored tokens, with its roles, through
the server's short cache). Interleaving gives the three the same machine noise, so their ratio
is the cost of authentication and project scoping on a get. Reported, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.scenarios import GetFn, connect, interleaved_gets, seed_models
from bench.server import ServerProcess
from bench.timing import Result

ADMIN_TOKEN = "bench-admin-token"
GOAL_RATIO = 0.9
"""Goal of a get with an issued token against a get with auth off (ours: within noise)."""


def issue_reader_token(server: ServerProcess) -> str:
    """Issue a ``reader`` token for the ``default`` project with the admin token."""
    body = json.dumps({"subject": "bench-reader", "roles": {"default": "reader"}}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/model_registry/v1/tokens",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        token: str = json.loads(resp.read())["token"]
    return token


async def _interleaved(
    open_server: ServerProcess,
    guarded: ServerProcess,
    ids: Sequence[str],
    issued: str,
    count: int,
    rounds: int,
    warmup: int,
) -> list[Result]:
    async with (
        connect(open_server, "rest") as plain,
        connect(guarded, "rest", ADMIN_TOKEN) as admin,
        connect(guarded, "rest", issued) as reader,
    ):
        runners: dict[str, GetFn] = {
            "a_get_rest_auth_off": plain.get_registered_model_by_id,
            "a_get_rest_auth_admin": admin.get_registered_model_by_id,
            "a_get_rest_auth_token": reader.get_registered_model_by_id,
        }
        recorders = await interleaved_gets(runners, ids, count, rounds, warmup, rotate=True)
    titles = {
        "a_get_rest_auth_off": "sequential get by id, auth off",
        "a_get_rest_auth_admin": "the same with auth on, the admin token",
        "a_get_rest_auth_token": "the same with auth on, an issued reader token of one project",
    }
    return [recorders[key].result(key, titles[key], "ours-rest", "get") for key in runners]


def auth_gets(scratch: Path, models: int, count: int, rounds: int, warmup: int) -> list[Result]:
    """The a_get_rest_auth_* results."""
    with (
        ServerProcess(scratch / "auth-off.db") as open_server,
        ServerProcess(scratch / "auth-on.db", extra_args=("--auth-token", ADMIN_TOKEN)) as guarded,
    ):
        ids = asyncio.run(seed_models(open_server, models))
        guarded_ids = asyncio.run(seed_models(guarded, models, ADMIN_TOKEN))
        if ids != guarded_ids:
            raise RuntimeError("the two servers gave the seeded models different ids")
        issued = issue_reader_token(guarded)
        return asyncio.run(_interleaved(open_server, guarded, ids, issued, count, rounds, warmup))
