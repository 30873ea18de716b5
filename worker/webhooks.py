"""Job-end callbacks: POST the job document to ``callback_url``, signed, retried, SSRF-safe.

The signature is ``X-Wenshu-Signature: sha256=<hex HMAC-SHA256 of the body>`` keyed with
``WENSHU_WEBHOOK_SECRET``, so receivers can verify the sender. Only http(s) URLs are accepted,
and hosts that resolve to loopback, private, link-local or reserved addresses are refused
unless ``WENSHU_WEBHOOK_ALLOW_PRIVATE`` is set: otherwise a caller could make our workers
probe the internal network. The address is checked again at send time (DNS may change).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from .config import Settings
from .errors import Unprocessable

log = logging.getLogger("wenshu.webhooks")

ATTEMPTS = 4
"""Deliveries tried per job end."""
BACKOFF_SECONDS = (0.5, 2.0, 8.0)
"""Waits between attempts, in seconds."""
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Receiver answers worth another attempt; other 4xx/5xx end the delivery."""
TIMEOUT_SECONDS = 10.0
"""Seconds one delivery may take."""


def check_callback_url(url: str, settings: Settings) -> None:
    """Refuse URLs a webhook must not go to.

    Raises:
        Unprocessable: not http(s), no host, or (unless allowed) a non-public address.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(url, "callback_url must be an http(s) URL with a host")
    if settings.webhook_allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise _refused(url, f"callback_url host {parts.hostname!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise _refused(url, f"callback_url resolves to a non-public address ({address}); "
                                "set WENSHU_WEBHOOK_ALLOW_PRIVATE=1 to allow it")


def _refused(url: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"path": "/callback_url", "message": message}])


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: a public callback URL answering 302 to 169.254.169.254 or
    10.x would otherwise turn the worker into a proxy past :func:`check_callback_url`."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx: the attempt failed


_opener = urllib.request.build_opener(_NoRedirects)


def deliver(url: str, doc: dict[str, Any], settings: Settings) -> bool:
    """POST ``doc`` to ``url`` with retries and backoff; True when a 2xx came back."""
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "wenshu-webhook/1",
               "X-Wenshu-Event": f"render.{doc.get('status')}", "X-Wenshu-Job": str(doc.get("id"))}
    if settings.webhook_secret:
        headers["X-Wenshu-Signature"] = sign(body, settings.webhook_secret)
    for attempt in range(ATTEMPTS):
        try:
            check_callback_url(url, settings)
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                if 200 <= response.status < 300:
                    return True
        except Unprocessable as exc:
            log.warning("webhook refused: %s", exc.detail, extra={"job_id": doc.get("id")})
            return False
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES:
                # The receiver understood and said no (4xx): sending the same body again won't help.
                log.warning("webhook rejected with %d; not retried", exc.code, extra={"job_id": doc.get("id")})
                return False
            log.info("webhook attempt %d got %d", attempt + 1, exc.code, extra={"job_id": doc.get("id")})
        except (urllib.error.URLError, OSError) as exc:
            log.info("webhook attempt %d failed: %s", attempt + 1, exc, extra={"job_id": doc.get("id")})
        if attempt < len(BACKOFF_SECONDS):
            time.sleep(BACKOFF_SECONDS[attempt])
    log.warning("webhook gave up after %d attempts", ATTEMPTS, extra={"job_id": doc.get("id")})
    return False


def deliver_in_background(url: str, doc: dict[str, Any], settings: Settings) -> threading.Thread:
    """Deliver without holding up the worker's next job."""
    thread = threading.Thread(target=deliver, args=(url, doc, settings), daemon=True, name="webhook")
    thread.start()
    return thread
