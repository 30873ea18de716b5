"""``Idempotency-Key``: a client retrying a POST gets the job its first attempt made, not a second one.

The key (per API-key owner and endpoint) is claimed with one ``SET NX`` holding the request's
fingerprint and the new job's id, for ``WENSHU_RESULT_TTL``: two racing requests cannot both win.
The same key with the same body returns the first job; with another body it is a 422 naming the
header (Stripe's and the IETF draft's semantics). A request that fails (any 4xx/5xx) releases its
claim, so the corrected retry can use the same key. Keys are bounded — 1 to 255 characters from
a visible-ASCII token set — and stored hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from core.errors import BadRequest, Conflict, Unprocessable

from .state import state

HEADER = "Idempotency-Key"
KEY_FORMAT = re.compile(r"^[A-Za-z0-9._:~+/=-]{1,255}$")
"""Token characters (UUIDs, ULIDs, base64): no spaces, controls or non-ASCII to be confused by."""
PENDING_SECONDS = 10
"""A claim whose job does not exist yet is "in progress" this long (409), then taken over."""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def fingerprint(*parts: Any) -> str:
    """SHA-256 of the request's meaningful parts (JSON with sorted keys; bytes by their own digest)."""
    plain = [hashlib.sha256(p).hexdigest() if isinstance(p, bytes) else p for p in parts]
    return hashlib.sha256(json.dumps(plain, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _header() -> str | None:
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not KEY_FORMAT.match(value):
        raise BadRequest(f"{HEADER} must be 1 to 255 characters of A-Z a-z 0-9 . _ : ~ + / = -",
                         errors=[{"path": HEADER, "message": "malformed idempotency key"}])
    return value


def claim(kind: str, owner: str, request_fingerprint: str, new_id: str,
          exists: Callable[[str], bool]) -> str | None:
    """Claim the request's ``Idempotency-Key`` for ``new_id``.

    Returns:
        None when no key was sent or this request now owns it (go on and create ``new_id``);
        otherwise the id of the job an earlier request with the same key and body created.
    Raises:
        BadRequest: a malformed key. Unprocessable: the key was used with another body.
        Conflict: the first request with this key is still being accepted.
    """
    value = _header()
    if value is None:
        return None
    st = state()
    key = st.keys.idempotency(owner, kind, hashlib.sha256(value.encode()).hexdigest()[:40])
    mine = json.dumps({"fingerprint": request_fingerprint, "id": new_id, "at": time.time()})
    for _ in range(3):
        if st.redis.set(key, mine, nx=True, ex=st.settings.result_ttl):
            g.idempotency_claim = (key, mine)
            return None
        raw = st.redis.get(key)
        if raw is None:
            continue  # expired or released between the two calls
        held = json.loads(raw)
        if held["fingerprint"] != request_fingerprint:
            raise Unprocessable(f"this {HEADER} was already used with a different request body; send a new key "
                                "for a new request",
                                errors=[{"path": HEADER, "message": "key reused with another body"}])
        if exists(held["id"]):
            return held["id"]
        if time.time() - held["at"] < PENDING_SECONDS:
            raise Conflict(f"a request with this {HEADER} is still being accepted; retry in a moment",
                           errors=[{"path": HEADER, "message": "request in progress"}], retry_after=1)
        state().redis.register_script(RELEASE)(keys=[key], args=[raw])  # its request died: take the key over
    raise Conflict(f"could not claim this {HEADER}; retry", errors=[{"path": HEADER, "message": "contended"}],
                   retry_after=1)


def release_failed_claim(response: Response) -> Response:
    """``after_request``: a request that failed gives its key back (only if the claim is still its own)."""
    held = g.pop("idempotency_claim", None)
    if held is not None and response.status_code >= 400:
        key, mine = held
        state().redis.register_script(RELEASE)(keys=[key], args=[mine])
    return response


def mark_replayed(response: Response) -> Response:
    response.headers["Idempotent-Replayed"] = "true"
    return response
