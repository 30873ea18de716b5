"""``GET /v1/renders``: the caller's own renders, newest first, filtered and paged.

Each owner (a hash of the API key) has a sorted set of its job ids scored by creation time in
microseconds. The set expires two result TTLs after its last addition, and entries older than
that are trimmed on every addition; a job whose document expired or was deleted is skipped
(and dropped) when a page is read. Pages are cut by an opaque cursor — the last item's score and
id — so jobs created meanwhile never shift or repeat a page, unlike offsets.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from flask import Blueprint, jsonify, request

from core.errors import BadRequest
from core.payload import STATUSES, JobDocument

from .quota import client_id
from .state import state

bp = Blueprint("listing", __name__)
MAX_LIMIT, DEFAULT_LIMIT = 100, 20
SCAN_BUDGET = 1000
"""Index entries one page may read while filtering; past it, the page ends with a cursor."""
CURSOR = re.compile(r"^(\d{1,20})-([0-9a-f]{32})$")


def index_render(owner: str, job_id: str) -> None:
    """Add a new job to its owner's index (and trim entries past any job's lifetime)."""
    st = state()
    key, horizon = st.keys.owner_renders(owner), 2 * st.settings.result_ttl
    now_us = int(time.time() * 1_000_000)
    pipe = st.redis.pipeline(transaction=False)
    pipe.zadd(key, {job_id: now_us})
    pipe.zremrangebyscore(key, "-inf", f"({now_us - horizon * 1_000_000}")
    pipe.expire(key, horizon)
    pipe.execute()


def _arg_error(name: str, message: str) -> BadRequest:
    return BadRequest(f"?{name}: {message}", errors=[{"path": f"?{name}", "message": message}])


def _query() -> tuple[str | None, str | None, int, tuple[int, str] | None]:
    status, template = request.args.get("status"), request.args.get("template")
    if status is not None and status not in STATUSES:
        raise _arg_error("status", f"must be one of {', '.join(STATUSES)}")
    if template is not None and not 1 <= len(template) <= 64:
        raise _arg_error("template", "must be a template name of 1 to 64 characters")
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise _arg_error("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    cursor = None
    if "cursor" in request.args:
        match = CURSOR.match(request.args["cursor"])
        if not match:
            raise _arg_error("cursor", "not a cursor this API returned (use next_cursor as given)")
        cursor = (int(match[1]), match[2])
    return status, template, int(raw_limit), cursor


def page(owner: str, status: str | None, template: str | None, limit: int,
         cursor: tuple[int, str] | None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` matching documents after ``cursor``, and the cursor of the next page (or None)."""
    st = state()
    key = st.keys.owner_renders(owner)
    entries = st.redis.zrevrangebyscore(key, cursor[0] if cursor else "+inf", "-inf", start=0,
                                        num=SCAN_BUDGET, withscores=True)
    items: list[dict[str, Any]] = []
    gone: list[bytes] = []
    last: tuple[int, str] | None = None
    chunk = 100
    for start in range(0, len(entries), chunk):
        part = [(m.decode(), int(s)) for m, s in entries[start:start + chunk]]
        part = [(m, s) for m, s in part if not cursor or s < cursor[0] or m < cursor[1]]
        raws = st.redis.mget([st.keys.job(m) for m, _ in part]) if part else []
        for (member, score), raw in zip(part, raws, strict=True):
            last = (score, member)
            if raw is None:
                gone.append(member.encode())
                continue
            doc = JobDocument.from_dict(json.loads(raw))
            if (status is None or doc.status == status) and (template is None or doc.template.get("name") == template):
                items.append(doc.to_dict())
                if len(items) == limit:
                    return _done(key, gone, items, last)
    more = len(entries) == SCAN_BUDGET and last is not None
    return _done(key, gone, items, last if more else None)


def _done(key: str, gone: list[bytes], items: list[dict[str, Any]],
          last: tuple[int, str] | None) -> tuple[list[dict[str, Any]], str | None]:
    if gone:
        state().redis.zrem(key, *gone)
    return items, (f"{last[0]}-{last[1]}" if last else None)


@bp.get("/v1/renders")
def list_renders():
    status, template, limit, cursor = _query()
    items, next_cursor = page(client_id(), status, template, limit, cursor)
    return jsonify({"items": items, "next_cursor": next_cursor})
