"""The Flask application factory (Flask's ``create_app`` pattern): everything built here, once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid

from flask import Flask, g, request
from redis.exceptions import RedisError

from core.errors import Unauthorized
from core.redis_checks import eviction_warning
from core.settings import Settings

from . import batches, idempotency, listing, ops, previews, renders, report_import_api, studio, templates_api
from .multipart import WenshuRequest
from .problems import register_error_handlers
from .state import ServiceState

log = logging.getLogger("wenshu.api")

# The studio page and its assets are open; the API calls it makes send the key the author types in.
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/studio")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API. Tests pass their own Settings; production reads the environment."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = WenshuRequest  # a file part without a filename keeps its bytes
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    # One limit for the whole body: Werkzeug would otherwise cap a multipart text field at 500 kB
    # and answer 413 naming a limit no setting controls.
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_body
    app.json.ensure_ascii = False
    st = ServiceState.build(settings)
    app.extensions["wenshu"] = st
    app.extensions["wenshu.metrics"] = ops.HttpMetrics(st)
    _seed_bundled(st)
    if warning := eviction_warning(st.redis):
        log.warning(warning)
    if not settings.api_keys:
        log.warning("WENSHU_API_KEYS is empty: the API is open to anyone who can reach it (development only)")
    _install_request_hooks(app, settings)
    register_error_handlers(app)
    for bp in (renders.bp, templates_api.bp, ops.bp, previews.bp, studio.bp, batches.bp, listing.bp,
               report_import_api.bp):
        app.register_blueprint(bp)
    app.after_request(idempotency.release_failed_claim)  # a failed POST gives its Idempotency-Key back
    return app


def _seed_bundled(st: ServiceState) -> None:
    """Seed the bundled templates now; if Redis is down, the first request that reaches it will."""
    try:
        st.registry.seed_bundled()
    except RedisError as exc:
        log.warning("bundled templates not seeded at start (Redis unreachable: %s); seeding on first use", exc)


def _install_request_hooks(app: Flask, settings: Settings) -> None:
    keys = [k.encode() for k in settings.api_keys]

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        if keys and not request.path.startswith(OPEN_PATHS):
            _authenticate(keys)

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics = app.extensions["wenshu.metrics"]
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        fields = {"request_id": g.get("request_id"), "method": request.method, "path": request.path,
                  "status": response.status_code, "duration_ms": round(elapsed * 1000, 1)}
        if g.get("job_id"):
            fields["job_id"] = g.job_id
        log.info("request", extra=fields)
        return response


def _authenticate(keys: list[bytes]) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        supplied = token.strip().encode()
        # Compare against every key, always: constant time whatever key matches.
        matched = False
        for key in keys:
            matched |= hmac.compare_digest(supplied, key)
        if matched:
            # Per-key quotas count by this; a hash, so the key itself is never stored or logged.
            g.client_id = hashlib.sha256(supplied).hexdigest()[:16]
            return
    raise Unauthorized("send Authorization: Bearer <key> with a key from WENSHU_API_KEYS",
                       errors=[{"path": "Authorization", "message": "missing or unknown bearer key"}])
