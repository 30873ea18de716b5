"""Everything wenshu keeps in Redis, behind small named stores.

Redis is the only state the API and the workers share, so they can run on different hosts.
The key names are in :mod:`core.keys`.

Result files are not here: :mod:`core.result_stores` keeps them (Redis, a directory or S3), so
that at volume Redis keeps only the queue, job documents and signals.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from .keys import Keys
from .payload import CANCELLED, JobDocument, TemplateRef


def now_iso() -> str:
    """UTC timestamp with milliseconds, as job documents carry it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


ENDED_SIGNAL_TTL = 120
"""Seconds the "job ended" signal stays for late waiters (they then read the document itself)."""
TOMBSTONE_LIFETIMES = 7
"""A job's tombstone outlives its document by this many WENSHU_RESULT_TTLs (7 days by default),
so a client coming back within a week learns "expired" (410) rather than "never existed" (404)."""
EXPIRED, DELETED = "expired", "deleted"


class JobStore:
    """Job documents (the JSON ``GET /v1/renders/{id}`` returns), their tombstones, and the signal
    that one ended.

    Every job gets a tombstone when it is created, kept ``TOMBSTONE_LIFETIMES`` × TTL longer than
    its document: when the document expires, the tombstone still says the job existed (→ 410).
    DELETE rewrites it to say "deleted". Requests holding ``?wait=`` block on the ended signal
    (BLPOP) instead of polling: twenty clients polling every 10 ms cost as much CPU as LibreOffice.
    """

    def __init__(self, redis: Redis, keys: Keys, ttl: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, ttl
        self.tombstone_ttl = ttl * (1 + TOMBSTONE_LIFETIMES)

    def create(self, doc: JobDocument) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self.keys.job(doc.id), json.dumps(doc.to_dict(), ensure_ascii=False), ex=self.ttl)
        pipe.set(self.keys.gone(doc.id), json.dumps({"reason": EXPIRED}), ex=self.tombstone_ttl)
        pipe.execute()

    def get(self, job_id: str) -> JobDocument | None:
        raw = self.redis.get(self.keys.job(job_id))
        return JobDocument.from_dict(json.loads(raw)) if raw else None

    def tombstone(self, job_id: str) -> dict[str, Any] | None:
        """Why a job whose document is gone is gone (``reason``: expired/deleted); None if unknown."""
        raw = self.redis.get(self.keys.gone(job_id))
        return json.loads(raw) if raw else None

    def update(self, job_id: str, **changes: Any) -> JobDocument | None:
        """Apply ``changes`` to the document and restart its TTL.

        None, and nothing written, if the document expired, was deleted, or was cancelled: a
        check-and-set under WATCH, so a worker can never revive a job that DELETE removed.
        """
        key = self.keys.job(job_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if not raw:
                        return None
                    doc = JobDocument.from_dict(json.loads(raw))
                    if doc.status == CANCELLED:
                        return None
                    doc = replace(doc, **changes)
                    pipe.multi()
                    self._write(pipe, doc)
                    pipe.execute()
                    return doc
                except WatchError:
                    continue  # another writer got in first: read again

    def _write(self, pipe: Pipeline, doc: JobDocument) -> None:
        pipe.set(self.keys.job(doc.id), json.dumps(doc.to_dict(), ensure_ascii=False), ex=self.ttl)
        pipe.expire(self.keys.gone(doc.id), self.tombstone_ttl)
        if doc.ended:
            pipe.rpush(self.keys.job_ended(doc.id), 1)
            pipe.expire(self.keys.job_ended(doc.id), ENDED_SIGNAL_TTL)

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

    def delete(self, job_id: str, status: str) -> None:
        """Remove the document, leaving a tombstone that says it was deleted (and in which status)."""
        tombstone = {"reason": DELETED, "status": status, "deleted_at": now_iso()}
        pipe = self.redis.pipeline()
        pipe.delete(self.keys.job(job_id))
        pipe.set(self.keys.gone(job_id), json.dumps(tombstone), ex=self.ttl * TOMBSTONE_LIFETIMES)
        pipe.execute()


PUT_VERSION = """
-- KEYS: version hash, versions list, latest-summary hash.
-- ARGV: name, version, docx, schema, rules, sample, meta, summary, policy.
-- Versions are immutable: an existing one is left alone, and so is the latest pointer.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'docx', ARGV[3], 'schema', ARGV[4], 'rules', ARGV[5],
           'sample', ARGV[6], 'meta', ARGV[7])
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[2])
local current = redis.call('HGET', KEYS[3], ARGV[1])
if ARGV[9] == 'always' or not current or cjson.decode(current)['bundled'] == true then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[8])
end
return 1
"""
"""One Lua script, so that API processes seeding and uploading at once cannot interleave."""


class TemplateStore:
    """Template versions: immutable, content-addressed blobs plus their contract files."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self._put_version = redis.register_script(PUT_VERSION)

    def put_version(self, name: str, version: str, docx: bytes, schema: Any, rules: Any,
                    sample: Any, meta: dict[str, Any]) -> bool:
        """Store one version atomically; False when it already existed (then nothing changes).

        A new upload becomes the latest. A new *bundled* version (``meta["bundled"]``) becomes the
        latest only when the name has none yet or its latest is bundled too (a release upgrading
        its own template): seeding never moves ``latest`` off a user's upload.
        """
        dump = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
        policy = "over-bundled" if meta.get("bundled") else "always"
        created = self._put_version(
            keys=[self.keys.template(name, version), self.keys.versions(name), self.keys.templates],
            args=[name, version, docx, dump(schema), dump(rules), dump(sample), dump(meta),
                  dump(meta | {"version": version}), policy])
        return bool(created)

    def exists(self, name: str, version: str) -> bool:
        return bool(self.redis.exists(self.keys.template(name, version)))

    def migrate_legacy_layout(self) -> int:
        """Move versions stored under the pre-``:v:`` key layout to the current one; how many moved.

        Three round trips whatever the number of templates (it runs at every API start).
        """
        names = list(self.all_latest())
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.lrange(self.keys.versions(name), 0, -1)
        pairs = [(name, v.decode()) for name, versions in zip(names, pipe.execute(), strict=True) for v in versions]
        for name, version in pairs:
            pipe.type(self.keys.legacy_template(name, version))
        legacy = [pair for pair, kind in zip(pairs, pipe.execute(), strict=True) if kind == b"hash"]
        for name, version in legacy:
            pipe.renamenx(self.keys.legacy_template(name, version), self.keys.template(name, version))
        return sum(int(moved) for moved in pipe.execute()) if legacy else 0

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
