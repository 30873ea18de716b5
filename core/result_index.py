"""When each result file may go: a Redis sorted set (``{file id}/{stored name}`` → due time), so a
sweep costs what has expired, not what is stored.

Listing a bucket (or scanning a directory) to find expired jobs costs one request per 1 000 objects
*kept*, on every sweep: at 6 documents a second and a 24 h TTL that is a million objects listed every
five minutes to find the few thousand that expired. Instead, the store notes each file here before
it writes it, due at ``now + WENSHU_RESULT_TTL + grace`` (the job's document expires WENSHU_RESULT_TTL
after its last change, which follows the write). The sweep reads only the entries that are due
(``ZRANGEBYSCORE``), asks once per job whether its document still exists, deletes the files of the
jobs whose document is gone — by name, so S3 needs no listing at all, one DeleteObjects per 1 000
files — and re-checks the others a grace period later (their document was changed after the files
were written). A member per file costs ~190 bytes of Redis (193 measured by bench/sweep_index.py over 20 000).

What the index misses — files written before it existed, or an index lost with Redis's data — is
found by the store's full scan, which the worker pool still runs, but once a day (``RECONCILE_SECONDS``)
instead of every few minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from redis import Redis

SWEEP_BATCH = 1000
"""Entries read from the index at once (S3's DeleteObjects takes 1 000 keys)."""
MAX_BATCHES_PER_SWEEP = 20
"""A sweep handles at most this many batches (20 000 files); what is left is due at the next one."""
RECONCILE_SECONDS = 24 * 3600
"""How often one pool runs the store's full scan as well (the index's fallback)."""


class ExpiryIndex:
    """Result files as ``{file id}/{stored name}`` (a job's or a batch's id) → when they may go."""

    def __init__(self, redis: Redis, key: str, keep_seconds: float, recheck_seconds: float) -> None:
        self.redis, self.key = redis, key
        self.keep, self.recheck = keep_seconds, recheck_seconds

    def note(self, file_id: str, stored: str) -> None:
        """A file is being written: due ``keep_seconds`` from now (writing it again moves that later)."""
        self.redis.zadd(self.key, {f"{file_id}/{stored}": time.time() + self.keep})

    def due(self, limit: int = SWEEP_BATCH) -> list[str]:
        """Up to ``limit`` entries whose time has come, earliest first."""
        found = self.redis.zrangebyscore(self.key, "-inf", time.time(), start=0, num=limit)
        return [m.decode() if isinstance(m, bytes) else m for m in found]

    def forget(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        if entries:
            self.redis.zrem(self.key, *entries)

    def postpone(self, entries: Iterable[str]) -> None:
        """Look at these entries again ``recheck_seconds`` from now (their document outlived them)."""
        later = time.time() + self.recheck
        mapping = {m: later for m in entries}
        if mapping:
            self.redis.zadd(self.key, mapping)

    def __len__(self) -> int:
        return int(self.redis.zcard(self.key))


def sweep_due(index: ExpiryIndex, has_document: Callable[[list[str]], list[bool]],
              remove: Callable[[list[str]], None]) -> int:
    """Remove (``remove`` gets ``{file id}/{stored name}`` entries) the due files of jobs whose document
    is gone; how many jobs that was. Entries leave the index only after their files are removed, so
    a sweep that dies half-way leaves them due for the next one."""
    removed = 0
    for _ in range(MAX_BATCHES_PER_SWEEP):
        due = index.due(SWEEP_BATCH)
        if not due:
            break
        ids = list(dict.fromkeys(entry.split("/", 1)[0] for entry in due))
        dead = {i for i, live in zip(ids, has_document(ids), strict=True) if not live}
        gone = [entry for entry in due if entry.split("/", 1)[0] in dead]
        remove(gone)
        index.forget(gone)
        index.postpone(entry for entry in due if entry.split("/", 1)[0] not in dead)
        removed += len(dead)
        if len(due) < SWEEP_BATCH:
            break
    return removed


def sweep_store(index: ExpiryIndex | None, has_document: Callable[[list[str]], list[bool]],
                remove: Callable[[list[str]], None], scan: Callable[[Callable], int], full: bool) -> int:
    """A store's sweep: the due entries of its index, and with ``full`` (or without an index) its own
    ``scan`` of everything it holds; how many jobs' files were removed."""
    removed = sweep_due(index, has_document, remove) if index is not None else 0
    if full or index is None:
        removed += scan(has_document)
    return removed
