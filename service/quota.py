"""What one client may hold: jobs in flight per API key, and request threads held by ``?wait=``.

Both limits exist so that one client cannot make the service unavailable to the others: a key that
queues a hundred CPU-heavy renders would occupy every worker for minutes (``WENSHU_MAX_JOBS_PER_KEY``),
and requests blocked in ``?wait=`` would occupy every API thread (``WENSHU_MAX_HELD_WAITS``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, request
from redis import Redis

from core.errors import TooManyJobs
from core.keys import Keys
from core.payload import FINAL_STATUSES

RESERVATION_GRACE_SECONDS = 60
"""A reserved job id whose document was never confirmed is kept this long (the API creates the
document right after reserving); after that, a missing document means the request died."""
CONFIRMED = 0
"""Score of a job id whose document was created: from then on a missing document means gone."""
RETRY_AFTER_SECONDS = 5


def client_id() -> str:
    """Who is asking, as a hash: of the bearer key (set by ``_authenticate``), never the key itself.

    An open API (no WENSHU_API_KEYS, development only) has no keys to tell clients apart; each
    remote address then counts as one client (behind a proxy, all clients share the proxy's).
    """
    known = g.get("client_id")
    if known:
        return known
    return "addr-" + hashlib.sha256((request.remote_addr or "").encode()).hexdigest()[:16]


class JobQuota:
    """Jobs in flight per client, counted from the job documents themselves so nothing can drift.

    Each client has a sorted set of its job ids (score: when reserved, then 0 once the document
    exists). Before a new job is admitted, ids whose document has ended, or is gone (deleted,
    expired), are pruned. No decrement is ever needed, so none can be lost when a worker dies or
    a job is deleted.
    """

    def __init__(self, redis: Redis, keys: Keys, limit: int, ttl: int) -> None:
        self.redis, self.keys, self.limit, self.ttl = redis, keys, limit, ttl

    def key(self, client: str) -> str:
        return self.keys.owner_jobs(client)

    def admit(self, client: str, job_id: str) -> None:
        """Reserve a place for ``job_id``, or raise :class:`TooManyJobs` (nothing reserved then)."""
        key = self.key(client)
        self._prune(key)
        pipe = self.redis.pipeline()
        pipe.zadd(key, {job_id: time.time()})
        pipe.zcard(key)
        pipe.expire(key, self.ttl + RESERVATION_GRACE_SECONDS)
        _, count, _ = pipe.execute()
        if count > self.limit:
            # Add-then-count: two racing requests may both be refused, neither can get past the limit.
            self.redis.zrem(key, job_id)
            raise TooManyJobs(f"this API key has {count - 1} jobs queued or running (limit "
                              f"WENSHU_MAX_JOBS_PER_KEY={self.limit}); retry when one has ended",
                              retry_after=RETRY_AFTER_SECONDS)

    def confirm(self, client: str, job_id: str) -> None:
        """The job's document now exists: if it disappears, the job is gone (deleted or expired)."""
        self.redis.zadd(self.key(client), {job_id: CONFIRMED}, xx=True)

    def in_flight(self, client: str) -> int:
        """Jobs of ``client`` that are queued or running (after pruning)."""
        key = self.key(client)
        self._prune(key)
        return self.redis.zcard(key)

    def _document(self, member: str) -> str:
        """The key of a member's document: a job's, or a batch's (``batch:{id}``, one job until it ends)."""
        kind, _, batch_id = member.partition("batch:")
        return self.keys.batch(batch_id) if not kind and batch_id else self.keys.job(member)

    def _prune(self, key: str) -> None:
        members = self.redis.zrange(key, 0, -1, withscores=True)
        if not members:
            return
        docs = self.redis.mget([self._document(m.decode()) for m, _ in members])
        cutoff = time.time() - RESERVATION_GRACE_SECONDS
        done = [member for (member, reserved), raw in zip(members, docs, strict=True)
                if (raw is None and (reserved == CONFIRMED or reserved < cutoff))
                or (raw is not None and json.loads(raw).get("status") in FINAL_STATUSES)]
        if done:
            self.redis.zrem(key, *done)


class HeldWaits:
    """How many requests of this API process may block in ``?wait=`` at once.

    Past the limit a request does not wait: it answers at once with the job as it is. Threads
    are then always left for everything else (``/healthz`` included), whatever clients wait on.
    """

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yield True with a slot held for the duration, or False at once when none is free."""
        acquired = self._slots.acquire(blocking=False) if self._slots else False
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()


def held_waits() -> HeldWaits:
    """The running app's held-wait limiter (one per process, made on first use)."""
    extensions = current_app.extensions
    if "wenshu.held_waits" not in extensions:
        extensions["wenshu.held_waits"] = HeldWaits(extensions["wenshu"].settings.max_held_waits)
    return extensions["wenshu.held_waits"]
