"""The Content-Security-Policy of the API's own web pages (/docs and /studio).

Everything those pages load comes from this server: no CDN, no inline script or style, no eval.
Page images and diffs are fetched with the bearer key in a header and shown as ``blob:`` URLs
(the key never goes into a URL), so ``img-src`` allows ``blob:``; Swagger UI's stylesheet draws
its icons as ``data:`` SVGs.
"""

from __future__ import annotations

from flask import Response

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def harden(response: Response) -> Response:
    """``response`` with the page CSP and the headers that keep browsers from guessing or framing."""
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response
