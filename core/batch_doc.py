"""Batches: many records of one template, as one document the API serves and the workers advance.

A batch is ``total`` ordinary render jobs (one per record, on their own RQ queue) plus one assembly
step. Progress is counted in a Redis hash by a Lua script that also remembers *which* records
ended, so a record RQ retries after a crash is never counted twice, and exactly one caller — the
one that ends the last record — learns that the batch is ready to assemble. Nothing polls.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Self

from redis import Redis

from .keys import Keys
from .payload import FAILED, FINAL_STATUSES, FINISHED

RUNNING = "running"
OUTPUTS = ("files", "zip", "merged_pdf")

RECORD_ENDED = """
-- KEYS: progress hash, ended set. ARGV: record index, 'done' or 'failed', ttl.
-- 0: this record was already counted; 1: counted; 2: counted and it was the last one.
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
local p = redis.call('HMGET', KEYS[1], 'done', 'failed', 'total')
if (tonumber(p[1]) or 0) + (tonumber(p[2]) or 0) == tonumber(p[3]) then return 2 end
return 1
"""


class _Plain:
    """Dataclasses that cross Redis as JSON; unknown keys (a newer release's) are ignored."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass
class BatchDocument(_Plain):
    """What ``GET /v1/batches/{id}`` returns (progress overlaid from the live counters)."""

    id: str
    template: dict[str, str]
    formats: list[str]
    outputs: list[str]
    total: int
    created_at: str
    status: str = RUNNING
    done: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    finished_at: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class BatchPlan(_Plain):
    """What the assembly step needs and clients never see: record ids, titles, where to call back."""

    record_ids: list[str]
    basenames: list[str]
    titles: list[str]
    basename: str
    callback_url: str | None = None
    owner: str | None = None


class BatchStore:
    """Batch documents, plans and progress counters, all expiring with the results (``ttl``)."""

    def __init__(self, redis: Redis, keys: Keys, ttl: int) -> None:
        self.redis, self.keys, self.ttl = redis, keys, ttl
        self._record_ended = redis.register_script(RECORD_ENDED)

    def create(self, doc: BatchDocument, plan: BatchPlan) -> None:
        k = self.keys.batch
        pipe = self.redis.pipeline()
        pipe.set(k(doc.id), json.dumps(doc.to_dict(), ensure_ascii=False), ex=self.ttl)
        pipe.set(k(doc.id, "plan"), json.dumps(plan.to_dict(), ensure_ascii=False), ex=self.ttl)
        pipe.hset(k(doc.id, "progress"), mapping={"done": 0, "failed": 0, "total": doc.total})
        pipe.expire(k(doc.id, "progress"), self.ttl)
        pipe.execute()

    def get(self, batch_id: str) -> BatchDocument | None:
        """The document with its live progress and failures."""
        k = self.keys.batch
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(k(batch_id))
        pipe.hgetall(k(batch_id, "progress"))
        pipe.hgetall(k(batch_id, "failures"))
        raw, progress, failures = pipe.execute()
        if not raw:
            return None
        doc = BatchDocument.from_dict(json.loads(raw))
        doc.done = int(progress.get(b"done", doc.done))
        doc.failed = int(progress.get(b"failed", doc.failed))
        doc.failures = sorted((json.loads(v) for v in failures.values()), key=lambda f: f["index"])
        return doc

    def plan(self, batch_id: str) -> BatchPlan | None:
        raw = self.redis.get(self.keys.batch(batch_id, "plan"))
        return BatchPlan.from_dict(json.loads(raw)) if raw else None

    def record_ended(self, batch_id: str, index: int, problem: dict[str, Any] | None) -> bool:
        """Count one record as done (``problem`` None) or failed; True for the caller that ended the batch."""
        if problem is not None:
            entry = {"index": index, "pointer": f"/records/{index}", "error": _under_record(problem, index)}
            key = self.keys.batch(batch_id, "failures")
            self.redis.hset(key, str(index), json.dumps(entry, ensure_ascii=False))
            self.redis.expire(key, self.ttl)
        outcome = "done" if problem is None else "failed"
        ended = self._record_ended(keys=[self.keys.batch(batch_id, "progress"), self.keys.batch(batch_id, "ended")],
                                   args=[index, outcome, self.ttl])
        return ended == 2

    def finish(self, batch_id: str, files: list[dict[str, Any]], finished_at: str) -> BatchDocument | None:
        """Write the final document (``finished``, or ``failed`` when no record succeeded)."""
        doc = self.get(batch_id)
        if doc is None:
            return None
        final = replace(doc, files=files, finished_at=finished_at, status=FINISHED if doc.done else FAILED)
        stored = replace(final, failures=[])  # failures stay in their hash, read live
        self.redis.set(self.keys.batch(batch_id), json.dumps(stored.to_dict(), ensure_ascii=False), ex=self.ttl)
        return final


def _under_record(problem: dict[str, Any], index: int) -> dict[str, Any]:
    """A record job's problem with its ``/data`` pointers moved under ``/records/{index}``."""
    errors = [dict(e, path=f"/records/{index}{e['path']}") if str(e.get("path", "")).startswith("/data") else e
              for e in problem.get("errors", [])]
    return dict(problem, errors=errors) if errors else dict(problem)


def batch_queue_name(queue: str) -> str:
    """The RQ queue batch records wait on. Workers take from the render queue first, so a single
    render is never stuck behind a thousand-record batch of another client."""
    return f"{queue}-batch"
