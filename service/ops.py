"""Operations endpoints: health, readiness, metrics, the OpenAPI document and its UI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rq import Worker

from core.errors import ServiceUnavailable
from core.metrics import RedisMetricsCollector

from .csp import harden
from .state import ServiceState, state

bp = Blueprint("ops", __name__)
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
# Swagger UI 5 (reads OpenAPI 3.1) as swagger-ui-py ships it; located without importing the package,
# whose __init__ loads web-framework adapters the API does not need.
SWAGGER_UI_DIR = Path(importlib.util.find_spec("swagger_ui").submodule_search_locations[0]) / "static"
DOCS_STATIC_DIR = Path(__file__).with_name("docs_static")

DOCS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>wenshu API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/wenshu-docs.js"></script></body></html>"""


class HttpMetrics:
    """Per-API-process request metrics, plus the Redis-backed job metrics at scrape time."""

    def __init__(self, st: ServiceState) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("wenshu_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("wenshu_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.registry.register(RedisMetricsCollector(
            st.redis, st.keys, queue_depth=lambda: st.queue.count,
            worker_count=lambda: Worker.count(connection=st.redis)))


def live_libreoffices(st: ServiceState) -> int:
    """Workers that reported a live LibreOffice in the last few seconds."""
    return sum(1 for _ in st.redis.scan_iter(match=st.keys.lo_alive("*"), count=100))


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    st = state()
    try:
        st.redis.ping()
        alive = live_libreoffices(st)
        queued = st.queue.count
    except Exception as exc:  # noqa: BLE001 - any Redis failure means "not ready"
        raise ServiceUnavailable(f"Redis is unreachable: {type(exc).__name__}") from exc
    if alive < 1:
        raise ServiceUnavailable("no worker with a live LibreOffice has reported in (start `wenshu worker`)",
                                 workers=0)
    return jsonify({"status": "ready", "redis": "ok", "workers": alive, "queued": queued})


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(current_app.extensions["wenshu.metrics"].registry),
                    mimetype=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi():
    return Response(OPENAPI_FILE.read_text(encoding="utf-8"), mimetype="application/json")


@bp.get("/docs")
def docs():
    return harden(Response(DOCS_PAGE, mimetype="text/html"))


@bp.get("/docs/static/<path:name>")
def docs_static(name: str):
    folder = DOCS_STATIC_DIR if name == "wenshu-docs.js" else SWAGGER_UI_DIR
    return harden(send_from_directory(folder, name))

