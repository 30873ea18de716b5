"""Everything wenshu keeps in Redis, behind small named stores.

Redis is the only state the API and the workers share, so they can run on different hosts.
The key names are in :mod:`core.keys`.

Result bytes sit behind :class:`ResultStore` (put/get/delete with TTL) so that, at volume,
PDFs can move to an S3-compatible store while Redis keeps only the queue and job state.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import Redis

from .keys import Keys
from .payload import JobDocument, TemplateRef


def now_iso() -> str:
    """UTC timestamp with milliseconds, as job documents carry it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ResultStore(Protocol):
    """Where result files live. Redis here; an object store at scale."""

    def put(self, key: str, data: bytes, ttl: int) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def delete(self, *keys: str) -> None: ...


class RedisResultStore:
    """Result files as plain Redis strings with a TTL."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def put(self, key: str, data: bytes, ttl: int) -> None:
        self.redis.set(key, data, ex=ttl)

    def get(self, key: str) -> bytes | None:
        return self.redis.get(key)

    def delete(self, *keys: str) -> None:
        if keys:
            self.redis.delete(*keys)


ENDED_SIGNAL_TTL = 120
"""Seconds the "job ended" signal stays for late waiters (they then read the document itself)."""


class JobStore:
    """Job documents (the JSON ``GET /v1/renders/{id}`` returns), and the signal that one ended.

    Requests holding ``?wait=`` block on the signal (BLPOP) instead of polling the document:
    twenty waiting clients polling every 10 ms cost the API as much CPU as LibreOffice needs.
    """

    def __init__(self, redis: Redis, keys: Keys, ttl: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, ttl

    def create(self, doc: JobDocument) -> None:
        self.redis.set(self.keys.job(doc.id), json.dumps(doc.to_dict(), ensure_ascii=False), ex=self.ttl)

    def get(self, job_id: str) -> JobDocument | None:
        raw = self.redis.get(self.keys.job(job_id))
        return JobDocument.from_dict(json.loads(raw)) if raw else None

    def update(self, job_id: str, **changes: Any) -> JobDocument | None:
        """Apply ``changes`` to the document and restart its TTL; None if it expired or was deleted."""
        doc = self.get(job_id)
        if doc is None:
            return None
        doc = replace(doc, **changes)
        pipe = self.redis.pipeline()
        pipe.set(self.keys.job(job_id), json.dumps(doc.to_dict(), ensure_ascii=False), ex=self.ttl)
        if doc.ended:
            pipe.rpush(self.keys.job_ended(job_id), 1)
            pipe.expire(self.keys.job_ended(job_id), ENDED_SIGNAL_TTL)
        pipe.execute()
        return doc

    def wait_ended(self, job_id: str, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the job to end; True if it did."""
        key = self.keys.job_ended(job_id)
        if not self.redis.blpop([key], timeout=timeout):
            return False
        # Put the signal back for any other request waiting on the same job.
        pipe = self.redis.pipeline()
        pipe.rpush(key, 1)
        pipe.expire(key, ENDED_SIGNAL_TTL)
        pipe.execute()
        return True

    def delete(self, job_id: str) -> None:
        self.redis.delete(self.keys.job(job_id))


class TemplateStore:
    """Template versions: immutable, content-addressed blobs plus their contract files."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    def put_version(self, name: str, version: str, docx: bytes, schema: Any, rules: Any,
                    sample: Any, meta: dict[str, Any]) -> bool:
        """Store one version; False when that version already existed (a no-op)."""
        key = self.keys.template(name, version)
        if self.redis.exists(key):
            self.redis.hset(self.keys.templates, name, json.dumps(meta | {"version": version},
                                                                  ensure_ascii=False))
            return False
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"docx": docx, "schema": json.dumps(schema, ensure_ascii=False),
                                "rules": json.dumps(rules, ensure_ascii=False),
                                "sample": json.dumps(sample, ensure_ascii=False),
                                "meta": json.dumps(meta, ensure_ascii=False)})
        pipe.lrem(self.keys.versions(name), 0, version)
        pipe.rpush(self.keys.versions(name), version)
        pipe.hset(self.keys.templates, name, json.dumps(meta | {"version": version}, ensure_ascii=False))
        pipe.execute()
        return True

    def latest(self, name: str) -> dict[str, Any] | None:
        raw = self.redis.hget(self.keys.templates, name)
        return json.loads(raw) if raw else None

    def all_latest(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.redis.hgetall(self.keys.templates).items()}

    def versions(self, name: str) -> list[str]:
        return [v.decode() for v in self.redis.lrange(self.keys.versions(name), 0, -1)]

    def field(self, name: str, version: str, field: str) -> bytes | None:
        return self.redis.hget(self.keys.template(name, version), field)

    def json_field(self, name: str, version: str, field: str) -> Any:
        raw = self.field(name, version, field)
        return json.loads(raw) if raw is not None else None

    def delete(self, name: str) -> bool:
        versions = self.versions(name)
        if not versions and not self.redis.hexists(self.keys.templates, name):
            return False
        self.redis.delete(self.keys.versions(name), *(self.keys.template(name, v) for v in versions))
        self.redis.hdel(self.keys.templates, name)
        return True

    def put_adhoc(self, version: str, docx: bytes, ttl: int) -> None:
        self.redis.set(self.keys.adhoc(version), docx, ex=ttl)

    def get_docx(self, ref: TemplateRef) -> bytes | None:
        """The .docx for a job's template reference (registered or ad-hoc)."""
        if ref.adhoc:
            return self.redis.get(self.keys.adhoc(ref.version))
        return self.field(ref.name, ref.version, "docx")
