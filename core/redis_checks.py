"""Start-up check of the Redis wenshu runs on: an eviction policy that could drop what has no TTL.

The queue (RQ's ``rq:*`` keys) and the template versions carry no TTL; job documents, tombstones
and result files do. Under ``allkeys-*`` a Redis at its ``maxmemory`` evicts any key — a queued job
or a template can vanish. Under ``volatile-*`` only keys with a TTL go, so the queue is safe, but a
job can read as expired before WENSHU_RESULT_TTL. ``noeviction`` refuses writes instead (the API
answers 503), which loses nothing. Both the API and the worker pool log the warning at start.
"""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def eviction_warning(redis: Redis) -> str | None:
    """A sentence for the log if Redis's eviction policy could lose wenshu's data; None if safe.

    None too when Redis cannot say (down at start, or CONFIG disabled as on some managed Redis).
    """
    try:
        found = {_text(k): _text(v) for k, v in redis.config_get("maxmemory*").items()}
    except RedisError:
        return None
    policy, limit = found.get("maxmemory-policy", "noeviction"), found.get("maxmemory", "0")
    at = f"once it reaches maxmemory ({limit} bytes)" if limit != "0" else "if a maxmemory is ever set"
    if policy.startswith("allkeys-"):
        return (f"Redis maxmemory-policy is {policy}: {at} it may evict keys without a TTL — queued jobs "
                "(rq:*) and template versions would be lost. Set maxmemory-policy noeviction.")
    if policy.startswith("volatile-"):
        return (f"Redis maxmemory-policy is {policy}: {at} it may evict job documents and tombstones "
                "before WENSHU_RESULT_TTL (jobs read as expired early). noeviction loses nothing.")
    return None
