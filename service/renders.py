"""``/v1/renders``: accept a render, report on it, hand out its files."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from flask import Blueprint, Response, g, request
from rq import Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from core.errors import BadRequest, NotFound, QueueFull, UnsupportedMediaType
from core.finish_options import check_signing_available
from core.payload import CANCELLED, QUEUED, JobDocument, RenderPayload, TemplateRef
from core.stores import now_iso
from core.webhooks import check_callback_url

from . import downloads, idempotency, render_cache
from .check_cache import check_template_once
from .listing import index_render
from .messages import localize_job
from .multipart import part_bytes, received_parts
from .quota import JobQuota, client_id, held_waits
from .registry import version_of
from .render_query import RenderQuery, check_download_route, check_render_query
from .state import state
from .validation import parse_json, validate_data, validate_request

bp = Blueprint("renders", __name__)
log = logging.getLogger("wenshu.api")

WAIT_SLICE_SECONDS = 2.0
"""Longest single block on the job-ended signal; below the Redis socket timeout (5 s)."""


def _read_request() -> tuple[dict[str, Any], bytes | None]:
    """The render request and, for multipart, the ad-hoc template bytes."""
    s = state().settings
    if request.mimetype == "application/json":
        return validate_request(parse_json(request.get_data(), "the request body", s.json_max_depth)), None
    if request.mimetype == "multipart/form-data":
        upload = part_bytes("template")  # with or without a filename
        if upload is None:
            raise BadRequest(f"multipart renders need a 'template' part (the .docx); parts received: "
                             f"{received_parts()}", errors=[{"path": "template", "message": "missing part"}])
        if "data" not in request.form and "data" not in request.files:
            raise BadRequest("multipart renders need a 'data' part (JSON)",
                             errors=[{"path": "data", "message": "missing part"}])
        data_raw = request.files["data"].read() if "data" in request.files else request.form["data"].encode()
        body: dict[str, Any] = {}
        if "options" in request.form or "options" in request.files:
            raw = request.files["options"].read() if "options" in request.files else request.form["options"].encode()
            body = parse_json(raw, "the 'options' part", s.json_max_depth)
            if not isinstance(body, dict):
                raise BadRequest("the 'options' part must be a JSON object")
        body["data"] = parse_json(data_raw, "the 'data' part", s.json_max_depth)
        return validate_request(body), upload
    raise UnsupportedMediaType("POST /v1/renders takes application/json or multipart/form-data",
                               errors=[{"path": "Content-Type", "message": f"got {request.mimetype or 'none'}"}])


@bp.post("/v1/renders")
def create_render():
    st = state()
    body, adhoc = _read_request()
    check_signing_available(body.get("options"), state().settings.sign_p12)
    # ?wait and ?download are checked before anything is validated further or queued.
    query = (check_download_route(request.args, body["formats"]) if request.endpoint == "renders.render_download"
             else check_render_query(request.args, body["formats"], download_needs_wait=True))
    warnings: list[dict] = []
    if adhoc is not None:
        # tag mistakes surface now, with part and paragraph, not as a failed job; known-good bytes skip it
        check_template_once(st.redis, st.keys, adhoc, st.settings.result_ttl)
        validate_data(body["data"], None, [])  # no contract, but typed values keep their grammar
        version = version_of(adhoc)
        st.templates.put_adhoc(version, adhoc, st.settings.result_ttl)
        ref = TemplateRef(body.get("template") or "ad-hoc", version, adhoc=True)
    else:
        if "template" not in body:
            raise BadRequest("'template' is required (a template name; or POST multipart with a .docx)",
                             errors=[{"path": "/template", "message": "required"}])
        tv = st.registry.resolve(body["template"], body.get("template_version"))
        warnings = validate_data(body["data"], tv.schema, tv.rules, mode=body["validation"], validator=tv.validator,
                                 rule_timeout=st.settings.rule_timeout)
        ref = TemplateRef(tv.name, tv.version)
    if body.get("callback_url"):
        check_callback_url(body["callback_url"], st.settings)
    job_id, owner = uuid.uuid4().hex, client_id()
    g.job_id = job_id   # on the API's log line of this request
    replay = idempotency.claim("render", owner, idempotency.fingerprint(body, adhoc), job_id, exists=_known)
    if replay:  # the same Idempotency-Key and body again: the job the first request made
        return idempotency.mark_replayed(_respond(replay, downloads.job(replay), query))
    base = downloads.basename(body.get("filename"), ref.name)
    cache = render_cache.cache_key(owner, body, ref, base)
    cached = render_cache.reuse(cache, job_id, warnings, body.get("callback_url"))
    if cached is not None:
        index_render(owner, job_id)
        return _respond(job_id, cached, query, created=True)
    queued = st.queue.count
    if queued >= st.settings.max_queue:
        raise QueueFull(f"{queued} jobs are queued (limit WENSHU_MAX_QUEUE={st.settings.max_queue}); "
                        "retry later", retry_after=5)
    # Per-key fairness: one client's backlog must not occupy every worker (WENSHU_MAX_JOBS_PER_KEY).
    quota = JobQuota(st.redis, st.keys, st.settings.max_jobs_per_key, st.settings.result_ttl)
    quota.admit(owner, job_id)
    doc = JobDocument(id=job_id, template={"name": ref.name, "version": ref.version}, formats=body["formats"],
                      warnings=warnings, created_at=now_iso())
    st.jobs.create(doc)
    quota.confirm(owner, job_id)
    index_render(owner, job_id)
    render_cache.remember(cache, job_id)
    payload = RenderPayload(id=job_id, template=ref, data=body["data"], formats=tuple(body["formats"]),
                            options=body.get("options") or {}, basename=base,
                            callback_url=body.get("callback_url"), owner=owner, request_id=g.get("request_id"))
    st.queue.enqueue("worker.jobs.render_job", payload.to_dict(), job_id=job_id, job_timeout=st.settings.job_timeout,
                     result_ttl=0, failure_ttl=st.settings.result_ttl, retry=Retry(max=1))
    return _respond(job_id, doc, query, created=True)


@bp.post("/v1/renders/download")
def render_download():
    """renderDownload: a render answered with its file (its own operation, so a generated client
    gets bytes here and a Job from createRender; ``?download`` on createRender does the same)."""
    return create_render()


def _respond(job_id: str, doc: JobDocument, query: RenderQuery, created: bool = False) -> Response:
    st = state()
    if query.wait is not None:
        doc, busy = _wait_if_a_slot_is_free(job_id, doc, min(query.wait, st.settings.max_wait))
    else:
        busy = False
    download = query.download
    if download and doc.status == "finished":
        match = [f for f in doc.files if f["format"] == download]
        if not match:
            raise BadRequest(f"this job produced no {download} file (formats: {doc.formats})",
                             errors=[{"path": "?download", "message": "format not rendered"}])
        return downloads.send(job_id, match[0])
    if download and doc.status == "failed" and doc.error:
        body = dict(doc.error, job=doc.to_dict())
        return Response(json.dumps(body, ensure_ascii=False), status=body.get("status", 500),
                        mimetype="application/problem+json")
    status = 202 if (created or busy) and not doc.ended else 200
    response = Response(json.dumps(localize_job(doc.to_dict()), ensure_ascii=False), status=status,
                        mimetype="application/json")
    response.headers["Location"] = f"/v1/renders/{job_id}"
    if busy and not doc.ended:
        response.headers["Retry-After"] = "1"  # no wait slot was free: poll instead
    return response


def _wait_if_a_slot_is_free(job_id: str, doc: JobDocument, seconds: float) -> tuple[JobDocument, bool]:
    """The job after waiting up to ``seconds`` for it to end, and whether the wait was refused.

    At most WENSHU_MAX_HELD_WAITS requests of this process block at once; past that the request
    answers at once with the job as it is, so held waits can never take every API thread.
    """
    if seconds <= 0:
        return doc, False
    with held_waits().slot() as held:
        if held:
            # Deleted or expired meanwhile: downloads.job answers 410 rather than the stale document.
            return _wait_for(job_id, seconds) or downloads.job(job_id), False
    return state().jobs.get(job_id) or downloads.job(job_id), True


def _wait_for(job_id: str, seconds: float) -> JobDocument | None:
    deadline = time.monotonic() + max(0.0, seconds)
    jobs = state().jobs
    while True:
        doc = jobs.get(job_id)
        remaining = deadline - time.monotonic()
        if doc is None or doc.ended or remaining <= 0:
            return doc
        jobs.wait_ended(job_id, min(remaining, WAIT_SLICE_SECONDS))


def _known(job_id: str) -> bool:
    """A job exists, or existed (its tombstone says so): an Idempotency-Key replay answers with it."""
    return state().jobs.get(job_id) is not None or state().jobs.tombstone(job_id) is not None


@bp.get("/v1/renders/<job_id>")
def get_render(job_id: str):
    doc = downloads.job(job_id)
    return _respond(job_id, doc, check_render_query(request.args, doc.formats, download_needs_wait=False))


@bp.get("/v1/renders/<job_id>/files/<path:name>")
def get_file(job_id: str, name: str):
    doc = downloads.job(job_id)
    match = [f for f in doc.files if f["name"] == name]
    if not match:
        raise NotFound(f"render {job_id} has no file {name!r}"
                       + ("" if doc.status == "finished" else f" (status: {doc.status})"))
    return downloads.send(job_id, match[0])


@bp.delete("/v1/renders/<job_id>")
def delete_render(job_id: str):
    st = state()
    doc = downloads.job(job_id)
    status = doc.status
    if status == QUEUED:
        # Final status first: ?wait= requests wake up, and a worker that dequeued it anyway skips it.
        st.jobs.update(job_id, status=CANCELLED, finished_at=now_iso())
        status = CANCELLED
        try:
            Job.fetch(job_id, connection=st.redis).cancel()
        except (NoSuchJobError, InvalidJobOperation, ValueError):
            # A worker took the job between our read and the cancel (RQ raises ValueError when the
            # execution it is removing appears or vanishes meanwhile): the document is already
            # cancelled, so that worker skips it; the delete goes on either way.
            log.info("render %s was taken by a worker while being cancelled", job_id)
    st.results.delete(job_id, [f["name"] for f in doc.files])
    st.jobs.delete(job_id, status)  # leaves a tombstone: GET answers 410 "deleted" from now on
    return Response(status=204)
