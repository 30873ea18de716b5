"""The job a worker runs: fetch the template, render, convert, store, report.

``render_job`` is what RQ calls (by its import path). It finds the :class:`Engine` its worker
process installed at start-up, because the LibreOffice instance belongs to the process, not to
the job. Every failure a user can act on is stored on the job document as problem+json and the
job ends normally; only a crash of the process itself leaves it to RQ's retry of abandoned jobs.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from redis import Redis
from rq import get_current_job

from core.errors import Gone, WenshuError
from core.formats import MIME_TYPES
from core.keys import Keys
from core.logs import log_context
from core.metrics import MetricsRecorder
from core.payload import JobDocument, RenderPayload, TemplateRef
from core.result_stores import build_result_store
from core.settings import Settings
from core.stores import JobStore, TemplateStore, now_iso
from core.webhooks import deliver_in_background

from .doc_metadata import with_document_metadata
from .libreoffice import Supervisor
from .pipeline import Output, Pipeline

log = logging.getLogger("wenshu.worker")
TITLES_KEPT = 1024
"""Registered titles a worker remembers, by template name and version."""


def render_job(raw: dict[str, Any]) -> None:
    """RQ entry point: run one render (a :class:`RenderPayload` as a dict) in this process's engine.

    An unexpected exception (a bug, Redis gone mid-job) goes back to RQ, which retries the job
    once; on the last attempt the job document is failed first, so it never hangs in ``started``.
    """
    engine = Engine.current()
    payload = RenderPayload.from_dict(raw)
    try:
        with log_context(job_id=payload.id, request_id=payload.request_id):
            engine.run(payload)
    except Exception:
        job = get_current_job()
        if job is None or not job.retries_left:
            engine.fail_unexpectedly(payload)
        raise
    # Memory is released by the worker after the whole job (runner.WenshuWorker.perform_job), once
    # RQ's bookkeeping is done and the client waiting on this job already has its answer.


def _metric_template(payload: RenderPayload) -> str:
    """The template label of a job's metrics: the registered name; every ad-hoc upload is one "ad-hoc"."""
    return "ad-hoc" if payload.template.adhoc else payload.template.name


def _ms_between(start: str, end: str) -> int:
    fmt = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return max(0, round((fmt(end) - fmt(start)).total_seconds() * 1000))


class Engine:
    """Per-process state of a worker: Redis stores and one supervised LibreOffice."""

    _current: ClassVar[Engine | None] = None

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.jobs = JobStore(redis, self.keys, settings.result_ttl)
        self.templates = TemplateStore(redis, self.keys)
        self.results = build_result_store(settings, redis)
        self.metrics = MetricsRecorder(redis, self.keys)
        self.pipeline = Pipeline(settings, Supervisor(settings, on_restart=self.metrics.libreoffice_restarted))
        self._titles: dict[tuple[str, str], str | None] = {}

    @classmethod
    def current(cls) -> Engine:
        if cls._current is None:
            raise RuntimeError("no wenshu Engine installed in this process (run `wenshu worker`)")
        return cls._current

    def install(self) -> None:
        """Make this engine the one ``render_job`` uses in this process."""
        type(self)._current = self

    def run(self, payload: RenderPayload) -> None:
        job_id = payload.id
        started = now_iso()
        doc = self.jobs.update(job_id, status="started", started_at=started)
        if doc is None:
            log.info("job %s was deleted before it started", job_id)
            return
        log.info("job started", extra={"template": payload.template.label()})
        t0 = time.perf_counter()
        try:
            output = self._produce(payload)
            files = self._store_files(job_id, payload, output)
        except WenshuError as exc:
            self._fail(job_id, doc, started, exc, payload)
            return
        timings = {"queued": _ms_between(doc.created_at, started), **output.timings_ms}
        finished = now_iso()
        timings["total"] = _ms_between(doc.created_at, finished)
        extra = {"warnings": doc.warnings + output.warnings} if output.warnings else {}
        final = self.jobs.update(job_id, status="finished", files=files, finished_at=finished, timings_ms=timings,
                                 **extra)
        self._callback(payload, final)
        self.metrics.job_finished("finished", {k: v / 1000 for k, v in timings.items()}, _metric_template(payload))
        log.info("job finished", extra={"job_id": job_id, "template": payload.template.label(),
                                        "duration_ms": round((time.perf_counter() - t0) * 1000)})

    def _produce(self, payload: RenderPayload) -> Output:
        template = self.templates.get_docx(payload.template)
        if template is None:
            raise Gone(f"template {payload.template.label()} is no longer stored")
        # No "Author: python-docx" in the PDF; an empty title takes the registered one; /Lang from dc:language.
        template = with_document_metadata(template, title=self._registered_title(payload.template))
        return self.pipeline.produce(template, payload.data, payload.formats, payload.options)

    def _registered_title(self, ref: TemplateRef) -> str | None:
        """The title in a registered version's meta; remembered, as a version never changes (no Redis trip)."""
        if ref.adhoc:
            return None
        key = (ref.name, ref.version)
        if key not in self._titles:
            if len(self._titles) >= TITLES_KEPT:
                self._titles.pop(next(iter(self._titles)))
            self._titles[key] = (self.templates.json_field(ref.name, ref.version, "meta") or {}).get("title")
        return self._titles[key]

    def _store_files(self, job_id: str, payload: RenderPayload, output: Output) -> list[dict[str, Any]]:
        files = []
        for fmt, data in output.files.items():
            name = f"{payload.basename}.{fmt}"
            self.results.put(job_id, name, data)
            files.append({"name": name, "format": fmt, "content_type": MIME_TYPES[fmt], "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(),
                          "url": f"/v1/renders/{job_id}/files/{quote(name)}"})
        return files

    def _callback(self, payload: RenderPayload, doc: JobDocument | None) -> None:
        if payload.callback_url and doc is not None:
            deliver_in_background(payload.callback_url, doc.to_dict(), self.settings)

    def fail_unexpectedly(self, payload: RenderPayload) -> None:
        """Fail the job document after an error that is not the user's (best effort)."""
        error = WenshuError("the render failed on an internal error; it has been logged").to_problem()
        try:
            doc = self.jobs.update(payload.id, status="failed", error=error, finished_at=now_iso())
            self._callback(payload, doc)
            self.metrics.job_finished("failed", {}, _metric_template(payload), "internal")
        except Exception:  # noqa: BLE001 - Redis itself may be what failed
            log.exception("could not record the failure of job %s", payload.id)

    def _fail(self, job_id: str, doc: JobDocument, started: str, exc: WenshuError, payload: RenderPayload) -> None:
        finished = now_iso()
        error = exc.to_problem()
        final = self.jobs.update(job_id, status="failed", error=error, finished_at=finished,
                                 timings_ms={"queued": _ms_between(doc.created_at, started)})
        self._callback(payload, final)
        self.metrics.job_finished("failed", {"queued": _ms_between(doc.created_at, started) / 1000},
                                  _metric_template(payload), exc.slug)
        log.warning("job failed: %s", exc.detail, extra={"job_id": job_id, "template": payload.template.label()})
