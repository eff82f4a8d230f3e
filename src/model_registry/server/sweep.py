"""The artifact content sweep: stored content that no artifact names any more is removed.

Content becomes unreferenced when the artifacts naming it are deleted, or when an upload
stored it but its artifact could not take it (the artifact was deleted meanwhile, or another
upload set other content first). The store is shared by every project and replica, and the
same bytes may be uploaded again at any moment, so removing content must never take what an
upload is about to name. The table ``artifact_contents`` (one row per stored digest) makes that
a matter of database transactions:

1. **Pin.** An upload, once its bytes are complete and hashed and before they get their
   digest's name (or are found there), pins the digest: it inserts the row, or refreshes its
   ``pinned`` time, unless a sweep has marked the row; then it waits for that sweep to finish
   (:data:`PIN_WAIT_SECONDS`; past it the upload is a 503 to retry).
2. **Claim.** The write transaction that records the digest on the artifact first refreshes
   the row where no sweep has marked it (on PostgreSQL this holds the row's lock until
   commit). When a sweep has taken it meanwhile the upload fails with a 503 and the artifact
   stays without content: an artifact never names content that may be gone.
3. **Sweep.** A write transaction marks, with the sweep's id, the rows that no artifact
   (of any project) names and that nobody pinned within the grace period; on PostgreSQL
   ``FOR UPDATE SKIP LOCKED`` and a fresh read of the references once the rows are locked.
   Only then is the content deleted from the store, and its rows after that. Content whose
   removal fails is unmarked and left to a later sweep.

The grace period (``serve --artifact-sweep-grace``, default an hour) is not what makes this
safe (the mark, the pin and the claim are, through the row): it keeps a sweep from marking
content an upload has just placed and is about to claim, which would fail that upload. A
sweep that stops after marking (a crash) leaves its rows marked: uploads of that content wait
and then answer 503, and the first sweep after the grace period takes the rows over.

A delete releases at once (a sweep of those digests after its commit, before it answers) the
content of the artifacts it removed, when no upload pinned it within the grace period; the
periodic sweep
(``serve --artifact-sweep-interval``) finds the rest, and ``model-registry sweep-artifacts``
runs one now. Each sweep also removes what interrupted uploads left behind (temporary files,
unfinished multipart uploads) older than a day.

Content stored before the table existed (migration 0007 gave rows only to the digests
artifacts named then) has no row for a sweep to mark. So a sweep first lists the store and
gives a row, pinned at the time the content was written, to every object written before the
grace period that has none; the steps above then apply to it like any other: kept while an
artifact names it, removed otherwise. An upload of the same bytes meanwhile only refreshes
that row (or created it first: the listing's row is then dropped), as for content it finds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from model_registry._eventloop import cancel_and_wait
from model_registry.server.artifacts import ArtifactStore
from model_registry.server.errors import ServiceError, Unavailable
from model_registry.server.store import Store, Tx
from model_registry.server.store.contents import (
    adopt_contents,
    claim_content,
    forget_contents,
    mark_unreferenced,
    pin_content,
    unmark_contents,
)
from model_registry.server.store.queries import now_ms

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_INTERVAL_SECONDS",
    "ContentSweeper",
    "ContentSwept",
    "SweepResult",
]

log = logging.getLogger("model_registry.server.sweep")

DEFAULT_GRACE_SECONDS = 3600.0
"""Content an upload pinned this recently is never marked (``--artifact-sweep-grace``)."""

DEFAULT_INTERVAL_SECONDS = 3600.0
"""How often ``serve`` sweeps (``--artifact-sweep-interval``; 0: never)."""

PIN_WAIT_SECONDS = 10.0
"""How long an upload waits for a sweep removing the same content to finish."""

BATCH = 500
"""Digests one marking transaction takes at most (a sweep repeats until none is left)."""


class ContentSwept(Unavailable):
    """An upload whose content a sweep is removing, or removed before the upload could record
    it: nothing was recorded; the same upload again succeeds (503, ``UNAVAILABLE``)."""


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did.

    Attributes:
        removed: Digests whose content was removed from the store.
        freed_bytes: Bytes those held.
        failed: Digests marked but not removed (the store failed; kept for a later sweep).
        stale_uploads: Interrupted uploads' leftovers removed.
        unknown: Stored objects found without a row (stored before the table existed), given
            one; those no artifact names are among ``removed``.
    """

    removed: tuple[str, ...] = ()
    freed_bytes: int = 0
    failed: tuple[str, ...] = ()
    stale_uploads: int = 0
    unknown: int = 0


class ContentSweeper:
    """Pins, claims and sweeps the content of one artifact store over one database.

    Args:
        store: The registry's database.
        artifacts: The artifact content store.
        grace: Seconds a pin keeps content from being marked.
    """

    def __init__(
        self, store: Store, artifacts: ArtifactStore, *, grace: float = DEFAULT_GRACE_SECONDS
    ) -> None:
        if grace < 0:
            raise ValueError("the sweep's grace period must not be negative")
        self._store = store
        self._artifacts = artifacts
        self.grace = grace
        self._task: asyncio.Task[None] | None = None

    async def pin(self, sha256: str) -> None:
        """Step 1 (see the module): hold ``sha256`` before an upload places it.

        Raises:
            ContentSwept: A sweep has held it for longer than :data:`PIN_WAIT_SECONDS`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PIN_WAIT_SECONDS
        pause = 0.02
        while not await self._store.write(lambda tx: pin_content(tx.executor, sha256, now_ms())):
            if loop.time() >= deadline:
                raise ContentSwept(
                    f"content {sha256} is being removed from the artifact store; upload again"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    @staticmethod
    async def claim(tx: Tx, sha256: str) -> None:
        """Step 2 (see the module), in the write transaction that records ``sha256`` on an
        artifact.

        Raises:
            ContentSwept: A sweep took the content before this transaction could.
        """
        if not await claim_content(tx.executor, sha256, now_ms()):
            raise ContentSwept(
                f"content {sha256} was removed from the artifact store while it was being "
                "uploaded; upload again"
            )

    async def sweep(self, only: Sequence[str] | None = None) -> SweepResult:
        """Step 3 (see the module): remove the unreferenced content, ``only`` these digests
        when given (a delete's release; then interrupted uploads are left alone).

        Raises:
            Unavailable: The database cannot be reached.
        """
        sweep_id = uuid.uuid4().hex
        removed: list[str] = []
        failed: list[str] = []
        freed = 0
        stale = 0
        adopted = 0 if only is not None else await self._adopt_unknown()
        while True:
            now = now_ms()
            grace_ms = int(self.grace * 1000)

            async def mark(tx: Tx, now: int = now, grace_ms: int = grace_ms) -> list[str]:
                return await mark_unreferenced(
                    tx.executor,
                    sweep_id,
                    now=now,
                    pinned_before=now - grace_ms,
                    marked_before=now - max(grace_ms, int(DEFAULT_GRACE_SECONDS * 1000)),
                    only=only,
                    limit=BATCH,
                )

            taken = await self._store.write(mark)
            if not taken:
                break
            gone: list[str] = []
            kept: list[str] = []
            for digest in taken:
                try:
                    size = await self._artifacts.delete(digest)
                except Exception as exc:  # the store's own failure: keep it for later
                    log.warning("cannot remove content %s from the artifact store: %s", digest, exc)
                    kept.append(digest)
                    continue
                gone.append(digest)
                freed += size or 0

            async def settle(tx: Tx, gone: list[str] = gone, kept: list[str] = kept) -> None:
                await forget_contents(tx.executor, sweep_id, gone)
                await unmark_contents(tx.executor, sweep_id, kept)

            await self._store.write(settle)
            removed += gone
            failed += kept
            if kept or len(taken) < BATCH:
                break  # a store that fails now would fail the next batch too
        if only is None:
            try:
                stale = await self._artifacts.remove_stale_uploads()
            except Exception as exc:
                log.warning("cannot remove interrupted uploads from the artifact store: %s", exc)
        if removed or failed or stale or adopted:
            log.info(
                "artifact store sweep: %d removed (%d bytes), %d kept after a failure, "
                "%d interrupted uploads removed, %d stored objects without a row found",
                len(removed),
                freed,
                len(failed),
                stale,
                adopted,
            )
        return SweepResult(tuple(removed), freed, tuple(failed), stale, adopted)

    async def _adopt_unknown(self) -> int:
        """Give a row to the content stored before the grace period that has none (see the
        module); how many. A store that cannot be listed is logged and skipped."""
        adopted = 0
        before = time.time() - self.grace
        try:
            async for batch in self._artifacts.stored(before):
                found = [(digest, int(written * 1000)) for digest, written in batch]
                for start in range(0, len(found), BATCH):
                    part = found[start : start + BATCH]

                    async def adopt(tx: Tx, part: list[tuple[str, int]] = part) -> int:
                        return await adopt_contents(tx.executor, part)

                    adopted += await self._store.write(adopt)
        except ServiceError:
            raise
        except Exception as exc:  # the store's own failure: the marking still runs
            log.warning("cannot list the artifact store for content without a row: %s", exc)
        return adopted

    async def release(self, digests: Sequence[str]) -> None:
        """Sweep ``digests`` now that a delete left no artifact naming them (before the
        delete answers); a failure is logged and left to the periodic sweep, the delete
        itself having committed."""
        if not digests:
            return
        try:
            await self.sweep(digests)
        except Exception as exc:
            log.warning("releasing the content of deleted artifacts failed: %s", exc)

    def start(self, interval: float) -> None:
        """Sweep every ``interval`` seconds (the first a little after start) until
        :meth:`close`; 0 never."""
        if interval > 0 and self._task is None:
            self._task = asyncio.ensure_future(self._forever(interval))

    async def _forever(self, interval: float) -> None:
        await asyncio.sleep(min(interval, 60.0))
        while True:
            try:
                await self.sweep()
            except ServiceError as exc:
                log.warning("sweeping the artifact store failed, trying again later: %s", exc)
            except Exception:
                log.exception("sweeping the artifact store failed, trying again later")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop the periodic sweep."""
        await cancel_and_wait(self._task)
        self._task = None
