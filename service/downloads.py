"""The answers every download path shares: a render's document or its 404/410, a file's name, the file.

Renders, batches and previews all hand out result files or look up a render by id; they answer the
same way because they call the same functions here (one place for the download headers, the
presigned redirect and the tombstone's 410), not because each copies the other.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, redirect, request, send_file, stream_with_context

from core.errors import Gone, NotFound
from core.formats import MIME_TYPES
from core.payload import JobDocument
from core.result_stores import content_disposition

from .state import state

JOB_ID = re.compile(r"^[0-9a-f]{32}\Z")  # \Z: "$" would also let a trailing newline through
"""What a render or batch id looks like (uuid4 hex); anything else is unknown without a lookup."""
UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]+')
"""What no file name keeps: control characters (C0, C1 and Unicode's line separators), path and shell
punctuation, and the bidirectional controls that make ``发票\u202egpj.exe`` display as ``发票exe.jpg``."""


def basename(requested: str | None, template: str) -> str:
    """The base name of a job's files: the request's ``filename`` (or the template's name) made safe
    for every file system and without a format extension the worker adds again."""
    name = UNSAFE_NAME.sub("_", requested or template).strip(" ._") or "document"
    for fmt in MIME_TYPES:  # "报告.pdf" means the base "报告"
        if name.lower().endswith("." + fmt):
            name = name[: -len(fmt) - 1]
    return name[:120]


def job(job_id: str) -> JobDocument:
    """The job's document; 410 if it expired or was deleted (its tombstone says which), else 404."""
    jobs = state().jobs
    known = JOB_ID.match(job_id) is not None
    doc = jobs.get(job_id) if known else None
    if doc is not None:
        return doc
    tombstone = jobs.tombstone(job_id) if known else None
    if tombstone is None:
        raise NotFound(f"no render {job_id!r}", errors=[{"path": "job_id", "message": "unknown render"}])
    raise gone(job_id, tombstone)


def gone(job_id: str, tombstone: dict[str, Any]) -> Gone:
    """The 410 for a job whose document is gone, saying why (expired, or deleted in which status)."""
    if tombstone.get("reason") == "deleted":
        how = " while queued: it was cancelled" if tombstone.get("status") == "cancelled" else ""
        return Gone(f"render {job_id} was deleted at {tombstone.get('deleted_at')}{how}",
                    reason="deleted", job_status=tombstone.get("status"))
    return Gone(f"render {job_id} has expired: its document and files are kept "
                f"WENSHU_RESULT_TTL={state().settings.result_ttl} s after its last change",
                reason="expired")


def send(file_id: str, meta: dict) -> Response:
    """File ``meta`` (name, format, sha256) filed under ``file_id``, from the result store: from disk,
    streamed in chunks, or a 302 to a presigned URL — never read whole into the API's memory (except
    from the Redis store, where it already is). 410 once the store no longer has it."""
    stored = state().results.open(file_id, meta["name"], link=True)
    if stored is None:
        raise Gone(f"{meta['name']} has expired: files are kept WENSHU_RESULT_TTL="
                   f"{state().settings.result_ttl} s", reason="expired")
    if stored.url is not None:
        response = redirect(stored.url, code=302)
        response.headers["Cache-Control"] = "no-store"  # the URL itself expires
        return response
    if stored.stream is not None and not stored.stream.seekable():
        response = Response(stream_with_context(stored.chunks()), mimetype=MIME_TYPES[meta["format"]],
                            direct_passthrough=True)
        response.content_length = stored.size
        response.headers["Content-Disposition"] = content_disposition(meta["name"])
        response.set_etag(meta["sha256"])
        response.cache_control.max_age = 0
        return response.make_conditional(request)
    body = stored.path if stored.path is not None else stored.stream
    response = send_file(body, mimetype=MIME_TYPES[meta["format"]], as_attachment=True,
                         download_name=meta["name"], etag=meta["sha256"], max_age=0)
    # Werkzeug's plain filename= drops CJK ("-001.pdf"); ours keeps meaning ("document-001.pdf").
    response.headers["Content-Disposition"] = content_disposition(meta["name"])
    return response
