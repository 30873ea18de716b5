"""Job-end callbacks: POST the job document to ``callback_url``, signed, retried, SSRF-safe.

The signature is ``X-Wenshu-Signature: sha256=<hex HMAC-SHA256 of the body>`` keyed with
``WENSHU_WEBHOOK_SECRET``, so receivers can verify the sender. Only http(s) URLs are accepted,
and hosts that resolve to loopback, private, link-local or reserved addresses are refused
unless ``WENSHU_WEBHOOK_ALLOW_PRIVATE`` is set: otherwise a caller could make our workers
probe the internal network. The address is checked again at send time and the connection goes
to the very address that was checked (no second lookup for DNS rebinding to exploit).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from .errors import Unprocessable
from .settings import Settings

log = logging.getLogger("wenshu.webhooks")

ATTEMPTS = 4
"""Deliveries tried per job end."""
BACKOFF_SECONDS = (0.5, 2.0, 8.0)
"""Waits between attempts, in seconds."""
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Receiver answers worth another attempt; other 4xx/5xx end the delivery."""
TIMEOUT_SECONDS = 10.0
"""Seconds one delivery may take."""


def check_callback_url(url: str, settings: Settings) -> list[str]:
    """Refuse URLs a webhook must not go to.

    Returns:
        The addresses the host resolved to and that passed the check: a delivery connects to
        one of these, never to a fresh lookup (DNS rebinding would otherwise slip past).
    Raises:
        Unprocessable: not http(s), no host, or (unless allowed) plain http or a non-public address.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(url, "callback_url must be an http(s) URL with a host")
    if parts.scheme == "http" and not settings.webhook_allow_private:
        # The job document travels to the receiver: over the internet only encrypted. Plain http
        # stays for receivers inside a private network, which WENSHU_WEBHOOK_ALLOW_PRIVATE opens.
        raise _refused(url, "callback_url must be https (plain http only with WENSHU_WEBHOOK_ALLOW_PRIVATE=1)")
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        if settings.webhook_allow_private:
            return []
        raise _refused(url, f"callback_url host {parts.hostname!r} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.webhook_allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise _refused(url, f"callback_url resolves to a non-public address ({address}); "
                                    "set WENSHU_WEBHOOK_ALLOW_PRIVATE=1 to allow it")
    return addresses


NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
"""IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052, RFC 8215)."""


def is_public_address(address: str) -> bool:
    """True when ``address``, and every IPv4 address embedded in it, is globally routable.

    IPv6 has several ways to wrap an IPv4 address — mapped (``::ffff:127.0.0.1``), NAT64
    (``64:ff9b::7f00:1``), 6to4 (``2002:7f00:1::``), Teredo — and a gateway on the path may unwrap
    it, so each wrapped address must be public too, not just the wrapper.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return True
    embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    embedded += [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) for net in NAT64_PREFIXES if ip in net]
    return all(inner is None or inner.is_global for inner in embedded)


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _refused(url: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"path": "/callback_url", "message": message}])


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_pinned(url: str, body: bytes, headers: dict[str, str], address: str | None) -> int:
    """POST to ``url`` over a connection to ``address`` (a vetted IP); return the HTTP status.

    The Host header and, for https, SNI and certificate checks still use the URL's host name.
    Redirects are never followed (http.client does not): a 3xx is just a failed delivery, so a
    public callback URL cannot bounce the worker to 169.254.169.254 or 10.x.
    """
    parts = urlsplit(url)
    port = _port(parts)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, port, timeout=TIMEOUT_SECONDS)
    if address:
        connection._create_connection = (  # the stdlib's hook for opening the socket
            lambda _addr, timeout=None, source=None: socket.create_connection((address, port), timeout, source))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def deliver(url: str, doc: dict[str, Any], settings: Settings, event: str = "render") -> bool:
    """POST ``doc`` to ``url`` with retries and backoff; True when a 2xx came back.

    ``event`` names what ended (``render``, ``batch``): the ``X-Wenshu-Event`` header is ``{event}.{status}``.
    """
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "wenshu-webhook/1",
               "X-Wenshu-Event": f"{event}.{doc.get('status')}", "X-Wenshu-Job": str(doc.get("id"))}
    if settings.webhook_secret:
        headers["X-Wenshu-Signature"] = sign(body, settings.webhook_secret)
    for attempt in range(ATTEMPTS):
        try:
            addresses = check_callback_url(url, settings)
            status = post_pinned(url, body, headers, addresses[0] if addresses else None)
        except Unprocessable as exc:
            log.warning("webhook refused: %s", exc.detail, extra={"job_id": doc.get("id")})
            return False
        except (OSError, http.client.HTTPException) as exc:
            log.info("webhook attempt %d failed: %s", attempt + 1, exc, extra={"job_id": doc.get("id")})
        else:
            if 200 <= status < 300:
                return True
            if status not in RETRY_STATUSES:
                # The receiver understood and said no (4xx, 3xx): the same body again won't help.
                log.warning("webhook answered %d; not retried", status, extra={"job_id": doc.get("id")})
                return False
            log.info("webhook attempt %d got %d", attempt + 1, status, extra={"job_id": doc.get("id")})
        if attempt < len(BACKOFF_SECONDS):
            time.sleep(BACKOFF_SECONDS[attempt])
    log.warning("webhook gave up after %d attempts", ATTEMPTS, extra={"job_id": doc.get("id")})
    return False


def deliver_in_background(url: str, doc: dict[str, Any], settings: Settings,
                          event: str = "render") -> threading.Thread:
    """Deliver without holding up the worker's next job."""
    thread = threading.Thread(target=deliver, args=(url, doc, settings, event), daemon=True, name="webhook")
    thread.start()
    return thread
