"""Change events: the wire form of the event log, and the feed watchers read it through.

The service appends an event for each change in the change's own transaction (the outbox,
``store/events.py``); this module reads them back. :class:`EventFeed` serves every watcher of
one server: after each commit the service calls :meth:`EventFeed.notify` (an in-process
wake-up, no query; on PostgreSQL it first has the new events given their cursors, one
assigner at a time, see ``store/events.py``), and, for changes committed by another process on
the same database (a second replica), one poller per server reads the log's newest cursor
every :data:`POLL_SECONDS` while someone watches (and assigns what a killed process left
pending). Each watcher then reads the events past its own
cursor, so a watcher resuming from a cursor neither misses nor repeats one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from model_registry.server.entities import KINDS, METRIC_HISTORY, EntityKind
from model_registry.server.errors import BadRequest, ServiceError
from model_registry.server.store import Store, Tx
from model_registry.server.store.events import log_bounds, prune_events, read_events
from model_registry.server.store.queries import now_ms

log = logging.getLogger("model_registry.server")

__all__ = [
    "ACTIONS",
    "DEFAULT_RETENTION_SECONDS",
    "EVENT_KINDS",
    "POLL_SECONDS",
    "CursorExpired",
    "EventFeed",
    "EventWatch",
    "WatchRequest",
    "event_kind",
    "event_to_wire",
    "parse_duration",
]

POLL_SECONDS = 0.25
"""How often a server that has watchers looks for changes committed by other processes."""

HEARTBEAT_SECONDS = 15.0
"""A watch with nothing to say sends a heartbeat this often (keeps proxies from closing it)."""

DEFAULT_RETENTION_SECONDS = 30 * 86400.0
"""Events are kept 30 days unless ``serve --event-retention`` says otherwise."""

ASSIGN_COALESCE_SECONDS = 0.010
"""On PostgreSQL, how long the assigner lets commits gather before a round: under a stream
of writes, even one at a time (a few ms each), a round (one short transaction, which costs
the server more than a write's event) then numbers the events of several commits at once,
for at most this much more watcher latency (the goal is 50 ms; 5 ms left one round per
sequential write on a loaded machine, bench/README.md)."""

READ_BATCH = 500
"""Most events one read of a watcher takes from the log."""

ACTIONS = ("created", "updated", "state_changed", "deleted", "uploaded")
"""What happened to the entity. Aliases are their own kind (``model_version_alias``) with
``created`` and ``deleted``, as MLflow names them."""


def event_kind(kind: EntityKind) -> str:
    """The event kind of an entity kind: its name in MLflow's style (``model_version``)."""
    return kind.kind.replace("-", "_")


EXTRA_EVENT_KINDS: tuple[str, ...] = ("model_version_alias",)
"""Event kinds that are not entity kinds (the changes that are not an entity's own)."""


def event_kinds() -> tuple[str, ...]:
    """Every event kind, in a stable order (the entity kinds known now, then the others)."""
    kinds = [event_kind(k) for k in KINDS.values() if k is not METRIC_HISTORY]
    return (*kinds, *(k for k in EXTRA_EVENT_KINDS if k not in kinds))


EVENT_KINDS = event_kinds()
"""The kinds a watch may filter on."""


class CursorExpired(ServiceError):
    """The cursor asked to resume from is older than the events kept (410 Gone)."""

    http_status = 410
    grpc_code = "OUT_OF_RANGE"


_DURATION_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)?\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``30d``, ``12h``, ``90m``, ``45s``, ``500ms`` (bare: s).

    Raises:
        ValueError: Not a positive duration.
    """
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 90m, 45s)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {text!r}")
    return seconds


def event_to_wire(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``events`` row as its wire form (REST JSON, camelCase, int64 as strings)."""
    out: dict[str, Any] = {
        "cursor": str(row["cursor"]),
        "type": f"{row['kind']}.{row['action']}",
        "kind": row["kind"],
        "action": row["action"],
        "entityId": row["entity_id"],
        "timeSinceEpoch": str(row["time"]),
    }
    if row.get("project") is not None:
        out["project"] = row["project"]
    if row.get("subject") is not None:
        out["subject"] = row["subject"]
    out["entity"] = orjson.loads(row["entity"])
    return out


def _names(params: Mapping[str, str], key: str, allowed: Collection[str]) -> frozenset[str]:
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        return frozenset()
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - set(allowed))
    if unknown:
        raise BadRequest(f"unknown {key} {', '.join(unknown)}: must be among {', '.join(allowed)}")
    return names


@dataclass(frozen=True)
class WatchRequest:
    """What a watcher asked for.

    Attributes:
        since: Send the events after this cursor; None: from now.
        kinds: Only these event kinds (empty: every kind).
        actions: Only these actions (empty: every action).
        projects: Only events of these projects (None: any).
    """

    since: int | None = None
    kinds: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    projects: frozenset[str] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> WatchRequest:
        """Read ``since``, ``kinds`` and ``actions`` (comma-separated lists) from a query.

        Raises:
            BadRequest: A cursor that is not a non-negative integer, an unknown kind or action.
        """
        since: int | None = None
        raw = params.get("since")
        if raw is not None and raw.strip() != "":
            text = raw.strip()
            if not text.isdigit() or len(text) > 18:
                raise BadRequest(
                    f"since must be an event cursor (a non-negative integer), got {raw!r}"
                )
            since = int(text)
        return cls(
            since=since,
            kinds=_names(params, "kinds", event_kinds()),
            actions=_names(params, "actions", ACTIONS),
        )


class EventWatch:
    """One watcher's stream: iterate for wire events; ``None`` items are heartbeats.

    Attributes:
        start: The cursor the stream starts after (the log's newest when ``since`` was None).
    """

    def __init__(self, feed: EventFeed, request: WatchRequest, start: int) -> None:
        self.start = start
        self._feed = feed
        self._request = request

    def __aiter__(self) -> AsyncIterator[dict[str, Any] | None]:
        return self._feed._follow(self._request, self.start)


class EventFeed:
    """Wakes the watchers of one server and reads the log for them.

    Args:
        store: The store (or a deferred one) of the server.
        poll_seconds: How often changes made by another process are looked for.
    """

    def __init__(self, store: Store, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._store = store
        self._poll_seconds = poll_seconds
        self._changed = asyncio.Event()
        self._closed = False
        self._watchers = 0
        self._head = -1
        self._poller: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._assigning: bool | None = None  # known once the store is open
        self._assign_wanted = False
        self._assigner: asyncio.Task[None] | None = None

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next :meth:`notify` (take it before looking at the log)."""
        return self._changed

    def notify(self) -> None:
        """A write of this process committed: wake every watcher (on PostgreSQL once the
        write's events have their cursors, see :meth:`settle`)."""
        if not self._assigns():
            self._wake()
            return
        # One assigner at a time: the commits that arrive while it runs are its next round.
        self._assign_wanted = True
        if self._assigner is None or self._assigner.done():
            self._assigner = asyncio.ensure_future(self._assign_while_wanted())

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _assigns(self) -> bool:
        """Whether the store leaves events pending (PostgreSQL) for :meth:`settle`."""
        if self._assigning is None:
            try:
                self._assigning = bool(self._store.assigns_event_cursors)
            except ServiceError:  # a deferred store not open yet: nothing committed either
                return False
        return self._assigning

    async def settle(self) -> None:
        """Give the committed pending events their cursors now (PostgreSQL; nothing to do
        on SQLite), so that the log's head covers every write committed before the call.

        Raises:
            Unavailable: The database cannot be reached.
        """
        if self._assigns():
            await self._store.assign_event_cursors()

    async def assigned(self) -> None:
        """Wait until the background assigner is done with the commits notified so far."""
        while self._assigner is not None and not self._assigner.done():
            await asyncio.shield(self._assigner)

    async def _assign_while_wanted(self) -> None:
        while self._assign_wanted and not self._closed:
            # Let more commits join this round (one barrier and one assignment for all of
            # them), well within the watchers' 50 ms: a round costs more than an append.
            await asyncio.sleep(ASSIGN_COALESCE_SECONDS)
            self._assign_wanted = False
            try:
                await self._store.assign_event_cursors(pending=True)
            except ServiceError as exc:  # the next commit, or the poller, tries again
                log.warning("assigning event cursors failed, trying again later: %s", exc)
            self._wake()

    async def open(self, request: WatchRequest) -> EventWatch:
        """Check the request against the log and fix where the stream starts.

        Raises:
            CursorExpired: ``since`` is older than the oldest event kept.
            BadRequest: ``since`` is beyond the newest event (a cursor of another database).
            Unavailable: The database cannot be reached.
        """
        await self.settle()  # "from now" covers every write committed before the watch
        head, pruned = await self._store.read(lambda tx: log_bounds(tx.executor))
        if request.since is None:
            return EventWatch(self, request, head)
        if request.since < pruned:
            raise CursorExpired(_expired(request.since, pruned))
        if request.since > head:
            raise BadRequest(
                f"cursor {request.since} is beyond the newest event ({head}): it is not a "
                "cursor of this registry"
            )
        return EventWatch(self, request, request.since)

    async def _follow(
        self, request: WatchRequest, after: int
    ) -> AsyncIterator[dict[str, Any] | None]:
        self._watchers += 1
        self._ensure_poller()
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        try:
            while not self._closed:
                changed = self._changed  # taken before the read: a later notify sets it
                rows, pruned = await self._store.read(
                    functools.partial(self._read, request=request, after=after)
                )
                if after < pruned:
                    raise CursorExpired(_expired(after, pruned))
                for row in rows:
                    after = int(row["cursor"])
                    yield event_to_wire(row)
                if rows:
                    quiet_since = loop.time()
                if len(rows) == READ_BATCH:
                    continue
                wait = HEARTBEAT_SECONDS - (loop.time() - quiet_since)
                if wait <= 0:
                    quiet_since = loop.time()
                    yield None
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), wait)
        finally:
            self._watchers -= 1

    @staticmethod
    async def _read(
        tx: Tx, *, request: WatchRequest, after: int
    ) -> tuple[list[dict[str, Any]], int]:
        conn = tx.executor
        _head, pruned = await log_bounds(conn)
        rows = await read_events(
            conn,
            after,
            kinds=request.kinds,
            actions=request.actions,
            projects=request.projects,
            limit=READ_BATCH,
        )
        return rows, pruned

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        """While someone watches, look for commits of other processes (one cheap read)."""
        while not self._closed and self._watchers > 0:
            await asyncio.sleep(self._poll_seconds)
            try:
                # Events another process committed and could not assign (it was killed):
                # one cheap query when none is pending.
                await self.settle()
                head, _pruned = await self._store.read(lambda tx: log_bounds(tx.executor))
            except ServiceError:  # the database is away: the watchers' own reads say so
                continue
            if head != self._head:
                self._head = head
                self._wake()

    def start_pruning(self, retention_seconds: float) -> None:
        """Delete events older than ``retention_seconds``, now and then, until :meth:`close`."""
        if self._pruner is None:
            self._pruner = asyncio.ensure_future(self._prune_forever(retention_seconds))

    async def prune(self, retention_seconds: float) -> int:
        """Delete the events older than ``retention_seconds`` now; return the pruned-through
        cursor."""
        cutoff = now_ms() - int(retention_seconds * 1000)
        await self.settle()  # a pending event is kept until it has its cursor
        return await self._store.write(lambda tx: prune_events(tx.executor, cutoff))

    async def _prune_forever(self, retention_seconds: float) -> None:
        every = min(max(retention_seconds / 10, 1.0), 3600.0)
        while not self._closed:
            try:
                await self.prune(retention_seconds)
            except ServiceError as exc:
                log.warning("pruning the event log failed, trying again later: %s", exc)
            await asyncio.sleep(every)

    async def close(self) -> None:
        """End every watch (their streams finish) and stop the background tasks."""
        self._closed = True
        self._wake()
        for task in (self._poller, self._pruner, self._assigner):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _expired(cursor: int, pruned: int) -> str:
    return (
        f"cursor {cursor} is older than the events kept (events up to {pruned} were pruned by "
        "the retention): start again with since unset and re-read the state you need"
    )
