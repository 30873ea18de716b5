"""Settings: every default in one place, overridden by ``WENSHU_*`` environment variables.

Modelled on RQ's ``defaults.py`` (each default documented with its unit) and Gotenberg's
``Validate`` (a bad setting stops the process with a message instead of failing later).
The same object configures the API, the workers and the embedded CLI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""Redis holding the queue, job documents, template blobs and results."""
DEFAULT_HOST = "127.0.0.1"
"""Interface the API binds to."""
DEFAULT_PORT = 8080
"""TCP port of the API."""
DEFAULT_WORKERS = 2
"""Worker processes (= LibreOffice instances) ``make run`` and ``wenshu worker`` start."""
DEFAULT_RESULT_TTL = 24 * 3600
"""Seconds a finished job's document and files are kept."""
DEFAULT_CONVERT_TIMEOUT = 120.0
"""Seconds one LibreOffice conversion may take before the instance is killed."""
DEFAULT_RENDER_TIMEOUT = 30.0
"""Seconds the docxtpl fill of one job may take (stops templates that loop forever)."""
DEFAULT_LO_RESTART_AFTER = 200
"""Conversions after which a LibreOffice instance is restarted (bounds leaks)."""
DEFAULT_MAX_BODY = 20 * 1024 * 1024
"""Bytes: largest request body the API accepts."""
DEFAULT_MAX_QUEUE = 100
"""Queued jobs beyond which ``POST /v1/renders`` answers 429."""
DEFAULT_MAX_OUTPUT = 100 * 1024 * 1024
"""Bytes: largest file one job may produce."""
DEFAULT_MAX_WAIT = 60
"""Seconds ``?wait=`` may hold a request."""
DEFAULT_JSON_MAX_DEPTH = 64
"""Deepest nesting of arrays/objects accepted in request JSON."""
DEFAULT_WORKER_MEMORY = 2 * 1024**3
"""Bytes of address space a worker process may use for rendering (0: unlimited); LibreOffice is exempt."""


def _env_list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    """All configuration. Build with :meth:`from_env`; tests use :func:`dataclasses.replace`."""

    redis_url: str = DEFAULT_REDIS_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    env: str = "development"
    api_keys: tuple[str, ...] = ()
    result_ttl: int = DEFAULT_RESULT_TTL
    convert_timeout: float = DEFAULT_CONVERT_TIMEOUT
    render_timeout: float = DEFAULT_RENDER_TIMEOUT
    lo_restart_after: int = DEFAULT_LO_RESTART_AFTER
    max_body: int = DEFAULT_MAX_BODY
    max_queue: int = DEFAULT_MAX_QUEUE
    max_output: int = DEFAULT_MAX_OUTPUT
    max_wait: int = DEFAULT_MAX_WAIT
    json_max_depth: int = DEFAULT_JSON_MAX_DEPTH
    worker_memory: int = DEFAULT_WORKER_MEMORY
    queue_name: str = "wenshu"
    key_prefix: str = "wenshu"
    templates_dir: Path = PROJECT_ROOT / "templates"
    lo_profile_seed: Path = PROJECT_ROOT / "docker" / "libreoffice"
    soffice: str = "soffice"
    uno_python: str = "/usr/bin/python3"
    webhook_secret: str = ""
    webhook_allow_private: bool = False
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ``WENSHU_*`` (and ``REDIS_URL``) variables; raise ConfigError on bad values."""
        env = os.environ if environ is None else environ
        values: dict = {}
        mapping = {
            "REDIS_URL": ("redis_url", str),
            "WENSHU_REDIS_URL": ("redis_url", str),
            "WENSHU_HOST": ("host", str),
            "WENSHU_PORT": ("port", int),
            "WENSHU_WORKERS": ("workers", int),
            "WENSHU_ENV": ("env", str),
            "WENSHU_API_KEYS": ("api_keys", _env_list),
            "WENSHU_RESULT_TTL": ("result_ttl", int),
            "WENSHU_CONVERT_TIMEOUT": ("convert_timeout", float),
            "WENSHU_RENDER_TIMEOUT": ("render_timeout", float),
            "WENSHU_LO_RESTART_AFTER": ("lo_restart_after", int),
            "WENSHU_MAX_BODY": ("max_body", int),
            "WENSHU_MAX_QUEUE": ("max_queue", int),
            "WENSHU_MAX_OUTPUT": ("max_output", int),
            "WENSHU_WORKER_MEMORY": ("worker_memory", int),
            "WENSHU_QUEUE": ("queue_name", str),
            "WENSHU_KEY_PREFIX": ("key_prefix", str),
            "WENSHU_TEMPLATES_DIR": ("templates_dir", Path),
            "WENSHU_LO_PROFILE": ("lo_profile_seed", Path),
            "WENSHU_SOFFICE": ("soffice", str),
            "WENSHU_UNO_PYTHON": ("uno_python", str),
            "WENSHU_WEBHOOK_SECRET": ("webhook_secret", str),
            "WENSHU_WEBHOOK_ALLOW_PRIVATE": ("webhook_allow_private", lambda v: v.lower() in ("1", "true", "yes")),
            "WENSHU_LOG_LEVEL": ("log_level", str),
        }
        for var, (name, parse) in mapping.items():
            if var in env and env[var] != "":
                try:
                    values[name] = parse(env[var])
                except ValueError as exc:
                    raise ConfigError(f"{var}={env[var]!r} is not a valid value: {exc}") from exc
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings the service cannot run with (Gotenberg-style start-up check)."""
        positive = ("port", "workers", "result_ttl", "convert_timeout", "render_timeout",
                    "lo_restart_after", "max_body", "max_queue", "max_output")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.env not in ("development", "production", "test"):
            raise ConfigError(f"WENSHU_ENV must be development, production or test, not {self.env!r}")
        if self.env == "production" and not self.api_keys:
            raise ConfigError("WENSHU_ENV=production requires WENSHU_API_KEYS (comma-separated bearer keys)")

    def with_(self, **changes) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes)

