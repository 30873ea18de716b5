"""The two documents the API and the workers exchange, typed.

:class:`RenderPayload` is what the API enqueues and a worker runs; :class:`JobDocument` is what
``GET /v1/renders/{id}`` returns, written by the API when a job is accepted and by the worker as it
runs. Both cross Redis as plain JSON-compatible dicts (``to_dict``/``from_dict``), so a worker of
the next release can still read a payload queued by this one: unknown keys are ignored and missing
optional ones take their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

QUEUED, STARTED, FINISHED, FAILED, CANCELLED = "queued", "started", "finished", "failed", "cancelled"
STATUSES = (QUEUED, STARTED, FINISHED, FAILED, CANCELLED)
FINAL_STATUSES = (FINISHED, FAILED, CANCELLED)
"""A job in one of these states will not change again."""


def _known(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


@dataclass(frozen=True)
class TemplateRef:
    """Which template bytes a job renders: a registered name@version, or an ad-hoc upload."""

    name: str
    version: str
    adhoc: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TemplateRef:
        return cls(**_known(cls, raw))

    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class RenderPayload:
    """One render, as queued: everything a worker needs and nothing it must look up in the API."""

    id: str
    template: TemplateRef
    data: dict[str, Any]
    formats: tuple[str, ...] = ("pdf",)
    options: dict[str, Any] = field(default_factory=dict)
    basename: str = "document"
    callback_url: str | None = None
    owner: str | None = None
    """Who asked for it, as a hash (of the API key; of the remote address when the API runs open)."""
    request_id: str | None = None
    """The API request that queued it (X-Request-Id): put on every worker log line of the job."""

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["formats"] = list(self.formats)
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RenderPayload:
        known = _known(cls, raw)
        known["template"] = TemplateRef.from_dict(raw["template"])
        known["formats"] = tuple(raw.get("formats") or ("pdf",))
        known["options"] = raw.get("options") or {}
        return cls(**known)


@dataclass
class JobDocument:
    """The state of one render as clients see it (``GET /v1/renders/{id}``)."""

    id: str
    template: dict[str, str]
    formats: list[str]
    created_at: str
    status: str = QUEUED
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    timings_ms: dict[str, int] = field(default_factory=dict)
    cached_from: str | None = None
    """The earlier job whose files this one reuses (the render cache); None when rendered."""

    @property
    def ended(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobDocument:
        return cls(**_known(cls, raw))
