"""The one family of errors wenshu raises.

Every error a client can cause or see derives from :class:`WenshuError`. It carries the HTTP
status and a client-safe ``title``/``detail``; ``errors`` lists *where* the problem is (JSON
pointer ``path``, or docx ``part`` + ``paragraph``). The service maps any of them to RFC 9457
problem+json in one place (``service/problems.py``); the worker stores them on the failed job.
Engine errors are raised ``from`` their cause so logs keep the chain while clients see only the
safe message.
"""

from __future__ import annotations

from typing import Any


class WenshuError(Exception):
    """Base of every wenshu error: an HTTP status plus a client-safe explanation."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal"

    def __init__(self, detail: str | None = None, errors: list[dict[str, Any]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 body for this error."""
        body: dict[str, Any] = {
            "type": f"https://wenshu.dev/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(WenshuError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(WenshuError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class NotFound(WenshuError):
    status, title, slug = 404, "Not found", "not-found"


class MethodNotAllowed(WenshuError):
    status, title, slug = 405, "Method not allowed", "method-not-allowed"


class Gone(WenshuError):
    status, title, slug = 410, "Gone", "gone"


class PayloadTooLarge(WenshuError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(WenshuError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(WenshuError):
    """The request is well-formed but its content cannot be used."""

    status, title, slug = 422, "Unprocessable content", "unprocessable"


class InvalidRequest(Unprocessable):
    """The render request's own fields are wrong (formats, validation, options...)."""

    title, slug = "Invalid render request", "invalid-request"


class InvalidData(Unprocessable):
    """``data`` does not satisfy the template's JSON Schema."""

    title, slug = "Data does not match the template's schema", "invalid-data"


class RuleViolation(Unprocessable):
    """``data`` breaks one of the template's cross-field rules (勾稽关系)."""

    title, slug = "Data breaks the template's consistency rules", "rule-violation"


class TemplateRejected(Unprocessable):
    """An uploaded .docx failed the safety checks (external links, macros, zip bombs...)."""

    title, slug = "Template rejected by safety checks", "template-rejected"


class UnsafeOutput(TemplateRejected):
    """A rendered document contained what the safety checks refuse (a field, OLE, an external image...).

    The template passed its checks, so the data must have put it there; the job fails before the
    document is converted or stored.
    """

    title, slug = "Rendered document refused by safety checks", "unsafe-output"


class TemplateError(Unprocessable):
    """The template cannot be rendered: Jinja syntax error, undefined filter, bad typed value."""

    title, slug = "Template cannot be rendered", "template-error"


class UndefinedVariable(TemplateError):
    """The data lacks variables the template uses, with ``options.undefined`` = ``strict``."""

    title, slug = "Undefined variable", "undefined-variable"


class UnsafeTemplate(TemplateError):
    """The sandbox stopped the template from reaching Python internals."""

    title, slug = "Unsafe template", "unsafe-template"


class RenderLimitExceeded(Unprocessable):
    """A render ran past its time or output-size limit."""

    title, slug = "Render limit exceeded", "render-limit"


class UnreadableReport(Unprocessable):
    """A report sent to ``/import`` is not a readable PDF/DOCX, or is past the import limits."""

    title, slug = "Report could not be read", "unreadable-report"


class Conflict(WenshuError):
    status, title, slug = 409, "Conflict", "conflict"


class QueueFull(WenshuError):
    status, title, slug = 429, "Too many queued jobs", "queue-full"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyJobs(QueueFull):
    """One API key already has ``WENSHU_MAX_JOBS_PER_KEY`` jobs queued or running."""

    title, slug = "Too many jobs for this API key", "too-many-jobs"


class ServiceUnavailable(WenshuError):
    status, title, slug = 503, "Service unavailable", "unavailable"


class ConversionFailed(WenshuError):
    """LibreOffice could not convert the document (crashed, refused it, or died)."""

    status, title, slug = 502, "Conversion failed", "conversion-failed"


class ConversionTimeout(ConversionFailed):
    """LibreOffice did not finish within ``WENSHU_CONVERT_TIMEOUT``."""

    title, slug = "Conversion timed out", "conversion-timeout"


class ConfigError(WenshuError):
    """A setting is invalid; the process refuses to start."""

    title, slug = "Invalid configuration", "config"
