"""The render cache: an identical request reuses the files an earlier job already produced.

Identical means the same template name and version (a version is a hash of the whole bundle, an
ad-hoc template's of its bytes), data, formats, options and output name. The cache maps that
fingerprint to the last job created for it; a later request whose earlier job finished and still
has every file gets a *new* job id, at once ``finished``, with copies of those files (so deleting
either job never breaks the other). ``"cache": false`` in the body neither reads nor writes it.

The cache is per API-key owner, never shared: a hit across keys would let one client learn, by
the speed of the answer, that another rendered exactly this data (an invoice, a person's record).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from core.payload import FINISHED, JobDocument, TemplateRef
from core.stores import now_iso
from core.webhooks import deliver_in_background

from .idempotency import fingerprint
from .state import state


def cache_key(owner: str, body: dict[str, Any], ref: TemplateRef, basename: str) -> str | None:
    """The request's cache key, or None when the request opted out."""
    if body.get("cache") is False or not state().settings.render_cache:
        return None
    digest = fingerprint(ref.name, ref.version, body["data"], body["formats"], body.get("options") or {}, basename)
    return state().keys.render_cache(owner, digest)


def reuse(key: str | None, job_id: str, warnings: list[dict[str, Any]],
          callback_url: str | None = None) -> JobDocument | None:
    """A finished document for ``job_id`` made from the cached job's files, or None (a miss).

    A hit calls ``callback_url`` back at once, as the worker would have when the job ended.
    """
    if key is None:
        return None
    st = state()
    started = time.perf_counter()
    prior_id = st.redis.get(key)
    prior = st.jobs.get(prior_id.decode()) if prior_id else None
    doc = _copy(prior, job_id, warnings) if prior is not None and prior.status == FINISHED else None
    st.redis.hincrby(st.keys.metric("render_cache"), "hit" if doc else "miss", 1)
    if doc is not None:
        doc.timings_ms = {"cache": round((time.perf_counter() - started) * 1000), "total": doc.timings_ms["total"]}
        st.jobs.create(doc)
        if callback_url:
            deliver_in_background(callback_url, doc.to_dict(), st.settings)
    return doc


def remember(key: str | None, job_id: str) -> None:
    """``job_id`` renders this request: the next identical one may reuse its files once it finished."""
    if key is not None:
        st = state()
        st.redis.set(key, job_id, ex=st.settings.result_ttl)


def _copy(prior: JobDocument, job_id: str, warnings: list[dict[str, Any]]) -> JobDocument | None:
    results = state().results
    copied = []
    for meta in prior.files:
        # Copied inside the store (COPY, a hard link, CopyObject): the bytes never pass through the API.
        if not results.copy(prior.id, job_id, meta["name"]):  # expired or deleted: a miss,
            results.delete(job_id, [m["name"] for m in copied])  # and nothing half-copied left behind
            return None
        copied.append(dict(meta, url=meta["url"].replace(prior.id, job_id)))
    now = now_iso()
    # What the fill itself found (variables the data lacks) holds for the same request again.
    warnings = warnings + [w for w in prior.warnings if w.get("code") == "undefined-variable"]
    return replace(prior, id=job_id, files=copied, warnings=warnings, created_at=now, started_at=now,
                   finished_at=now, timings_ms={"total": 0}, cached_from=prior.id)
