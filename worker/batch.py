"""The worker side of batches: one record as an ordinary render, and the assembly once all ended.

Each record is a render job like any other (its own job document, files and retries), wrapped so
that its outcome is counted on the batch (:class:`core.batch_doc.BatchStore`). The worker that
ends the last record enqueues the assembly job under a fixed id, so it runs once whichever worker
finishes last. Assembly builds the ZIP and the merged PDF (pypdf, one outline entry per record),
writes the final batch document and calls the batch's webhook once.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from typing import Any
from urllib.parse import quote

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.job import Job

from core.batch_doc import BatchDocument, BatchPlan, BatchStore
from core.formats import MIME_TYPES
from core.keys import Keys
from core.payload import FINISHED, JobDocument
from core.settings import Settings
from core.stores import JobStore, now_iso
from core.webhooks import deliver_in_background

from .jobs import Engine, render_job

log = logging.getLogger("wenshu.worker")
ZIP_NAME, MERGED_NAME = "{base}.zip", "{base}.pdf"
ABANDONED = {"type": "https://wenshu.dev/problems/conversion-failed", "title": "Conversion failed", "status": 502,
             "detail": "the worker process died twice while rendering this record (killed, or out of memory)"}
INTERNAL_ERROR = {"type": "https://wenshu.dev/problems/internal", "title": "Internal error", "status": 500,
                  "detail": "the record's render ended without a result; it has been logged"}


def record_job(raw: dict[str, Any], batch_id: str, index: int) -> None:
    """RQ entry point for one batch record: render it, then count it on the batch."""
    engine = Engine.current()
    try:
        render_job(raw)
    except Exception:
        job = get_current_job()
        if job is None or not job.retries_left:  # the last attempt: the record failed for good
            _count(engine.jobs.redis, engine.settings, batch_id, index, raw["id"])
        raise
    _count(engine.jobs.redis, engine.settings, batch_id, index, raw["id"])


def record_abandoned(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback (``on_failure``), also run when RQ finds a record whose worker died.

    A record RQ will run again is left alone; one that will not is failed and counted, so a batch
    whose record killed its worker twice still ends instead of waiting for it for ever.
    """
    if job.retries_left:
        return
    raw, batch_id, index = job.args
    settings = Settings.from_env()
    jobs = JobStore(connection, Keys(settings.key_prefix), settings.result_ttl)
    doc = jobs.get(raw["id"])
    if doc is not None and not doc.ended:
        jobs.update(raw["id"], status="failed", error=ABANDONED, finished_at=now_iso())
    _count(connection, settings, batch_id, index, raw["id"])


def _store(engine: Engine) -> BatchStore:
    return BatchStore(engine.jobs.redis, engine.keys, engine.settings.result_ttl)


def _count(redis: Redis, settings: Settings, batch_id: str, index: int, record_id: str) -> None:
    keys = Keys(settings.key_prefix)
    doc = JobStore(redis, keys, settings.result_ttl).get(record_id)
    problem = None if doc is not None and doc.status == FINISHED else ((doc and doc.error) or INTERNAL_ERROR)
    if BatchStore(redis, keys, settings.result_ttl).record_ended(batch_id, index, problem):
        Queue(settings.queue, connection=redis).enqueue(
            "worker.batch.assemble_job", batch_id, job_id=f"{batch_id}-assembly", job_timeout=settings.job_timeout,
            result_ttl=0, failure_ttl=settings.result_ttl, retry=Retry(max=1))


def assemble_job(batch_id: str) -> None:
    """RQ entry point: build the batch's outputs from its records and end the batch."""
    engine = Engine.current()
    store = _store(engine)
    doc, plan = store.get(batch_id), store.plan(batch_id)
    if doc is None or plan is None or doc.ended:
        log.info("batch %s is gone or already assembled", batch_id)
        return
    try:
        files = Assembly(engine, doc, plan).files()
    except Exception:
        job = get_current_job()
        if job is not None and job.retries_left:
            raise
        log.exception("assembly of batch %s failed", batch_id)
        files = []
    final = store.finish(batch_id, files, now_iso())
    if final is not None and plan.callback_url:
        deliver_in_background(plan.callback_url, final.to_dict(), engine.settings, event="batch")
    log.info("batch assembled", extra={"job_id": batch_id})


class Assembly:
    """The files a finished batch offers: each record's, a ZIP of them, one merged PDF."""

    def __init__(self, engine: Engine, doc: BatchDocument, plan: BatchPlan) -> None:
        self.engine, self.doc, self.plan = engine, doc, plan
        self.records = engine.jobs.redis.mget([engine.keys.job(rid) for rid in plan.record_ids])

    def _finished(self) -> list[tuple[int, JobDocument]]:
        docs = [(i, JobDocument.from_dict(json.loads(raw))) for i, raw in enumerate(self.records) if raw]
        return [(i, d) for i, d in docs if d.status == FINISHED]

    def _bytes(self, index: int, name: str) -> bytes | None:
        stored = self.engine.results.open(self.plan.record_ids[index], name)
        return None if stored is None else stored.read()

    def files(self) -> list[dict[str, Any]]:
        records = self._finished()
        out: list[dict[str, Any]] = []
        if "files" in self.doc.outputs:
            out += [self._entry(f["name"], f["format"], f["size"], f["sha256"], record=i)
                    for i, d in records for f in d.files]
        if "zip" in self.doc.outputs and records:
            out.append(self._put(ZIP_NAME.format(base=self.plan.basename), "zip", self._zip(records)))
        if "merged_pdf" in self.doc.outputs and records:
            out.append(self._put(MERGED_NAME.format(base=self.plan.basename), "pdf", self._merged(records)))
        return out

    def _zip(self, records: list[tuple[int, JobDocument]]) -> bytes:
        buffer = io.BytesIO()
        # Stored, not deflated: PDF and DOCX are compressed already; deflating again costs CPU for ~nothing.
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for index, doc in records:
                for f in doc.files:
                    data = self._bytes(index, f["name"])
                    if data is not None:
                        archive.writestr(f["name"], data)
        return buffer.getvalue()

    def _merged(self, records: list[tuple[int, JobDocument]]) -> bytes:
        writer = PdfWriter()
        for index, _doc in records:
            data = self._bytes(index, f"{self.plan.basenames[index]}.pdf")
            if data is None:
                continue
            try:
                writer.append(PdfReader(io.BytesIO(data)), outline_item=self.plan.titles[index], import_outline=False)
            except PyPdfError:
                log.exception("record %d of batch %s could not be merged", index, self.doc.id)
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()

    def _put(self, name: str, fmt: str, data: bytes) -> dict[str, Any]:
        self.engine.results.put(self.doc.id, name, data)  # filed under the batch id, expiring like record files
        return self._entry(name, fmt, len(data), hashlib.sha256(data).hexdigest())

    def _entry(self, name: str, fmt: str, size: int, sha256: str, record: int | None = None) -> dict[str, Any]:
        entry = {"name": name, "format": fmt, "content_type": MIME_TYPES[fmt], "size": size,
                 "sha256": sha256, "url": f"/v1/batches/{self.doc.id}/files/{quote(name)}"}
        if record is not None:
            entry["record"] = record
        return entry
