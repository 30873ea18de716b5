"""``/v1/batches``: one template, many records — a file per record, a ZIP, one merged PDF.

Every record is checked before anything is queued. Each then becomes an ordinary render job on
the batch queue (workers serve the render queue first, so single renders never wait behind a
batch); the worker that ends the last record enqueues the assembly (worker/batch.py).

Limits: ``WENSHU_MAX_BATCH_RECORDS`` records per batch, and as many batch records queued at once
(a batch that would pass that gets 429 with Retry-After). A batch counts as **one** job against
``WENSHU_MAX_JOBS_PER_KEY`` until it ends: its records already wait behind every single render.
"""

from __future__ import annotations

import json
import uuid

from flask import Blueprint, Response, request
from rq import Callback, Queue, Retry

from core.batch_doc import BatchDocument, BatchPlan, BatchStore, batch_queue_name
from core.errors import Gone, NotFound, QueueFull, UnsupportedMediaType
from core.finish_options import check_signing_available
from core.payload import JobDocument, RenderPayload, TemplateRef
from core.stores import now_iso
from core.webhooks import check_callback_url

from . import downloads, idempotency
from .batch_request import check_batch_shape, check_records, outline_titles
from .quota import JobQuota, client_id
from .state import ServiceState, state
from .validation import parse_json

bp = Blueprint("batches", __name__)
QUOTA_PREFIX = "batch:"
"""A batch's member in its owner's job quota (core/keys.py ``owner_jobs``); its document is the batch's."""


def _store(st: ServiceState) -> BatchStore:
    return BatchStore(st.redis, st.keys, st.settings.result_ttl)


def _record_names(body: dict, base: str) -> list[str]:
    """Each record's file base name: its own ``filename``, or ``{base}-001``…; never two alike."""
    width = max(3, len(str(len(body["records"]))))
    seen, names = {base}, []
    for i, record in enumerate(body["records"]):
        numbered = f"{base}-{i + 1:0{width}d}"
        name = downloads.basename(record.get("filename"), numbered)
        name = numbered if name in seen else name
        while name in seen:  # a custom name took this number already
            name = f"{name}-{i + 1}"
        seen.add(name)
        names.append(name)
    return names


@bp.post("/v1/batches")
def create_batch():
    st = state()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("POST /v1/batches takes application/json",
                                   errors=[{"path": "Content-Type", "message": f"got {request.mimetype or 'none'}"}])
    body = check_batch_shape(parse_json(request.get_data(), "the request body", st.settings.json_max_depth),
                             st.settings.max_batch_records)
    check_signing_available(body.get("options"), st.settings.sign_p12)
    tv = st.registry.resolve(body["template"], body.get("template_version"))
    warnings = check_records(body, tv, st.settings.rule_timeout)
    if body.get("callback_url"):
        check_callback_url(body["callback_url"], st.settings)
    owner, batch_id = client_id(), uuid.uuid4().hex
    replay = idempotency.claim("batch", owner, idempotency.fingerprint(body), batch_id,
                               exists=lambda i: st.redis.exists(st.keys.batch(i)) > 0)
    if replay:
        return idempotency.mark_replayed(_respond(_batch(replay), 200))
    queue = Queue(batch_queue_name(st.settings.queue), connection=st.redis)
    queued, total = queue.count, len(body["records"])
    if queued and queued + total > st.settings.max_batch_records:
        raise QueueFull(f"{queued} batch records are queued; this batch's {total} would pass "
                        f"WENSHU_MAX_BATCH_RECORDS={st.settings.max_batch_records}; retry later", retry_after=30)
    quota = JobQuota(st.redis, st.keys, st.settings.max_jobs_per_key, st.settings.result_ttl)
    quota.admit(owner, QUOTA_PREFIX + batch_id)
    doc = _enqueue(st, body, tv.name, tv.version, warnings, owner, batch_id, queue)
    quota.confirm(owner, QUOTA_PREFIX + batch_id)
    return _respond(doc, 202)


def _enqueue(st: ServiceState, body: dict, name: str, version: str, warnings: list, owner: str, batch_id: str,
             queue: Queue) -> BatchDocument:
    base = downloads.basename(body.get("filename"), name)
    names = _record_names(body, base)
    ids = [uuid.uuid4().hex for _ in body["records"]]
    now, ref = now_iso(), TemplateRef(name, version)
    doc = BatchDocument(id=batch_id, template={"name": name, "version": version}, formats=body["formats"],
                        outputs=body["outputs"], total=len(ids), created_at=now)
    plan = BatchPlan(record_ids=ids, basenames=names, titles=outline_titles(body["records"], body.get("outline_title")),
                     basename=base, callback_url=body.get("callback_url"), owner=owner)
    _store(st).create(doc, plan)
    for record_id, record_warnings in zip(ids, warnings, strict=True):
        st.jobs.create(JobDocument(id=record_id, template=doc.template, formats=body["formats"],
                                   warnings=record_warnings, created_at=now))
    jobs = [Queue.prepare_data(
        "worker.batch.record_job", job_id=record_id, timeout=st.settings.job_timeout, result_ttl=0,
        failure_ttl=st.settings.result_ttl, retry=Retry(max=1), on_failure=Callback("worker.batch.record_abandoned"),
        args=(RenderPayload(id=record_id, template=ref, data=record["data"], formats=tuple(body["formats"]),
                            options=body["options"], basename=names[i], owner=owner).to_dict(), batch_id, i))
        for i, (record_id, record) in enumerate(zip(ids, body["records"], strict=True))]
    with st.redis.pipeline() as pipe:
        queue.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()
    return doc


def _respond(doc: BatchDocument, status: int) -> Response:
    response = Response(json.dumps(doc.to_dict(), ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Location"] = f"/v1/batches/{doc.id}"
    return response


def _batch(batch_id: str) -> BatchDocument:
    doc = _store(state()).get(batch_id) if downloads.JOB_ID.match(batch_id) else None
    if doc is None:
        raise NotFound(f"no batch {batch_id!r} (batches are kept WENSHU_RESULT_TTL after their last change)",
                       errors=[{"path": "batch_id", "message": "unknown or expired batch"}])
    return doc


@bp.get("/v1/batches/<batch_id>")
def get_batch(batch_id: str):
    return _respond(_batch(batch_id), 200)


@bp.get("/v1/batches/<batch_id>/files/<path:name>")
def get_batch_file(batch_id: str, name: str):
    doc = _batch(batch_id)
    match = [f for f in doc.files if f["name"] == name]
    if not match:
        raise NotFound(f"batch {batch_id} has no file {name!r}" + ("" if doc.ended else " (still running)"),
                       errors=[{"path": "name", "message": "no such file"}])
    meta = match[0]
    if "record" not in meta:
        return downloads.send(batch_id, meta)
    plan = _store(state()).plan(batch_id)
    if plan is None:
        raise Gone(f"batch {batch_id} has expired", reason="expired")
    return downloads.send(plan.record_ids[meta["record"]], meta)
