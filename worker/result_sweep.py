"""The worker pool's sweep of result files whose job has expired (directory and S3 stores).

Redis expires its own keys; a directory or a bucket does not. Every pool sweeps now and then, and a
short Redis lock makes one pool per interval do it, however many hosts run pools. A job's files go
once its document is gone (expired, or deleted and not yet removed); its tombstone stays in Redis,
so its URLs keep answering 410. A sweep looks only at the jobs the expiry index says are due
(core/result_index.py); a day-long lock makes one pool a day scan the whole store as well.
"""

from __future__ import annotations

import logging
import os
import time

from redis import Redis

from core.keys import Keys
from core.result_index import RECONCILE_SECONDS
from core.result_stores import SWEEP_GRACE_SECONDS, ResultStore
from core.settings import Settings

log = logging.getLogger("wenshu.worker")

MIN_INTERVAL_SECONDS = 2
"""Shortest time between two sweeps (tests run with a TTL of seconds)."""


def interval(settings: Settings) -> float:
    """Seconds between sweeps: a quarter of the TTL, at most 5 min — files outlive their job's
    document by at most the store's grace (≤ 5 min) plus this."""
    return max(MIN_INTERVAL_SECONDS, min(SWEEP_GRACE_SECONDS, settings.result_ttl / 4))


def documents_exist(redis: Redis, keys: Keys, ids: list[str]) -> list[bool]:
    """Whether each id still has its document — a job's, or a batch's (batch files are filed under
    the batch id) — in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for file_id in ids:
        pipe.exists(keys.job(file_id), keys.batch(file_id))
    return [bool(n) for n in pipe.execute()]


class ResultSweeper:
    """Called by the pool's loop; sweeps when its interval has passed and no other pool holds the lock."""

    def __init__(self, redis: Redis, settings: Settings, store: ResultStore) -> None:
        self.redis, self.store, self.keys = redis, store, Keys(settings.key_prefix)
        self.every = interval(settings)
        self.next = 0.0

    def maybe_sweep(self) -> int | None:
        """Files of how many expired jobs were removed; None when it was not this pool's turn."""
        if self.store.kind == "redis" or time.monotonic() < self.next:
            return None
        self.next = time.monotonic() + self.every
        if not self.redis.set(self.keys.result_sweep(), os.getpid(), nx=True, ex=max(1, int(self.every) - 1)):
            return None  # another pool swept within the interval
        # The expiry index names what is due; once a day one pool also scans the whole store for
        # what the index does not know (files from before it, or an index lost with Redis's data).
        full = bool(self.redis.set(self.keys.result_sweep(full=True), os.getpid(), nx=True,
                                   ex=RECONCILE_SECONDS))
        removed = self.store.sweep(lambda ids: documents_exist(self.redis, self.keys, ids), full=full)
        if removed:
            log.info("removed the result files of %d expired jobs", removed)
        return removed
