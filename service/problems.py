"""Every error leaves the API as RFC 9457 problem+json, mapped here and nowhere else."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, g
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.errors import PayloadTooLarge, ServiceUnavailable, WenshuError

from .messages import localize_problem

log = logging.getLogger("wenshu.api")


def problem_response(error: WenshuError) -> Response:
    """The HTTP response for one of our errors."""
    body = localize_problem(error.to_problem())  # messages in the reader's language (Accept-Language)
    if getattr(g, "request_id", None):
        body.setdefault("request_id", g.request_id)
    response = Response(json.dumps(body, ensure_ascii=False), status=error.status,
                        mimetype="application/problem+json")
    retry_after = getattr(error, "retry_after", None) or error.extra.get("retry_after")
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="wenshu"'
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; Flask finds them by the exception's MRO."""

    @app.errorhandler(WenshuError)
    def _ours(error: WenshuError):
        if isinstance(error, ServiceUnavailable):
            # "Not ready, retry": readiness polled during start-up, a busy slot. Expected, not a failure.
            log.info("request refused for now: %s", error.detail)
        elif error.status >= 500:
            log.error("request failed: %s", error.detail, exc_info=error.__cause__ is not None)
        return problem_response(error)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return problem_response(PayloadTooLarge(
            f"the request body is larger than the {limit}-byte limit (WENSHU_MAX_BODY)"))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        problem = WenshuError(error.description)
        problem.status, problem.title = error.code or 500, error.name
        problem.slug = error.name.lower().replace(" ", "-")
        response = problem_response(problem)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _redis_down(error):
        log.error("Redis unreachable: %s", error)
        return problem_response(ServiceUnavailable(
            "the job store (Redis) is unreachable; retry shortly", retry_after=5))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error")
        return problem_response(WenshuError("an unexpected error occurred; it has been logged"))
