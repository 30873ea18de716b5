"""Settings: every default in one place, overridden by environment variables.

Modelled on RQ's ``defaults.py`` (each default documented with its unit) and Gotenberg's
``Validate`` (bad settings stop the process with a message instead of failing later). The same
object configures the API, the workers and the embedded CLI; shell scripts and container files
read no defaults of their own.

A field's environment variable is derived from its name — ``max_queue`` is ``WENSHU_MAX_QUEUE`` —
except ``redis_url``, which keeps the conventional ``REDIS_URL``. Every bad value is reported at
once, so one start-up attempt tells an operator everything to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_PREFIX = "WENSHU_"
ENVIRONMENTS = ("development", "production", "test")
RESULT_STORES = ("redis", "fs", "s3")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _setting(default: Any, doc: str, env: str | None = None, minimum: float | None = None) -> Any:
    """A dataclass field carrying its documentation, its variable name and its lower bound."""
    return field(default=default, metadata={"doc": doc, "env": env, "minimum": minimum})


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _number(kind: Callable[[str], Any], words: str) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"expected {words}") from None
    return parse


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


@dataclass(frozen=True)
class Settings:
    """All configuration. Build with :meth:`from_env`; tests use :meth:`with_`."""

    redis_url: str = _setting("redis://127.0.0.1:6379/0",
                              "Redis holding the queue, job documents, template blobs and results.", env="REDIS_URL")
    host: str = _setting("127.0.0.1", "Interface the API binds to.")
    port: int = _setting(8080, "TCP port of the API.", minimum=1)
    workers: int = _setting(2, "Worker processes (= LibreOffice instances) `make run` and `wenshu worker` start.",
                            minimum=1)
    env: str = _setting("development", "development, production (refuses to start without API keys) or test.")
    api_keys: tuple[str, ...] = _setting((), "Comma-separated bearer keys; empty runs open (development only).")
    result_ttl: int = _setting(24 * 3600, "Seconds a job's document and files are kept.", minimum=1)
    result_store: str = _setting("redis", "Where result files live: redis (in Redis memory; small deployments), fs "
                                          "(WENSHU_RESULT_DIR) or s3 (WENSHU_S3_*). `make run` uses fs.")
    result_dir: Path = _setting(PROJECT_ROOT / ".run" / "results", "Directory of result files when "
                                "WENSHU_RESULT_STORE=fs: a volume every API and worker host mounts.")
    s3_bucket: str = _setting("", "Bucket of result files when WENSHU_RESULT_STORE=s3 (must exist).")
    s3_endpoint: str = _setting("", "S3 endpoint URL (MinIO, Ceph, moto...); empty: AWS.")
    s3_region: str = _setting("us-east-1", "S3 region.")
    s3_access_key: str = _setting("", "S3 access key; empty: boto3's default chain (AWS_ACCESS_KEY_ID, role).")
    s3_secret_key: str = _setting("", "S3 secret key (with WENSHU_S3_ACCESS_KEY).")
    s3_presign: bool = _setting(False, "Downloads redirect (302) to a presigned S3 URL instead of passing "
                                       "through the API.")
    convert_timeout: float = _setting(120.0, "Seconds one LibreOffice conversion may take before the instance "
                                             "is killed.", minimum=0.1)
    convert_timeout_per_mib: float = _setting(8.0, "Seconds added to WENSHU_CONVERT_TIMEOUT per MiB of the "
                                              "document's text (word/document.xml), up to twice it: a 10 000-row "
                                              "table is ~9 MiB.", minimum=0)
    long_table_chunk_rows: int = _setting(500, "Tables longer than twice this many rows are converted as chunks of "
                                          "this many (LibreOffice lays out one long table in quadratic time); 0: off. "
                                          "Measured (bench/big_tables.py, 10 000 rows): chunks of 300, 500, 800 rows "
                                          "convert in 55, 38, 41 s.", minimum=0)
    long_table_min_rows: int = _setting(1000, "Only tables of more rows than this are chunked: one table costs "
                                        "quadratic time, chunks close to linear time (LibreOffice CPU measured: "
                                        "1 000 rows 3.8 s whole, 4.0 s chunked; 2 000 rows 13.9 s, 5.8 s).",
                                        minimum=0)
    render_timeout: float = _setting(5.0, "CPU seconds the docxtpl fill of one job may take (the 2 000-row "
                                           "report needs under 1).", minimum=0.1)
    lo_restart_after: int = _setting(200, "Conversions after which a LibreOffice instance is recycled.", minimum=1)
    max_body: int = _setting(20 * 1024 * 1024, "Bytes: largest request body the API accepts.", minimum=1)
    max_queue: int = _setting(100, "Queued jobs beyond which `POST /v1/renders` answers 429.", minimum=1)
    max_jobs_per_key: int = _setting(20, "Queued + running jobs one API key may have (429 beyond).", minimum=1)
    render_cache: bool = _setting(True, "Reuse the files of an identical earlier render request of the same API key "
                                        "(a request's `\"cache\": false` opts out).")
    max_batch_records: int = _setting(1000, "Records one `POST /v1/batches` may carry; also the most batch records "
                                            "queued at once before a new batch answers 429.", minimum=1)
    max_output: int = _setting(100 * 1024 * 1024, "Bytes: largest file one job may produce.", minimum=1)
    max_wait: int = _setting(60, "Seconds `?wait=` may hold a request.", minimum=0)
    max_held_waits: int = _setting(16, "Requests `?wait=` may hold at once per API process; beyond it, "
                                       "`?wait=` answers at once.", minimum=0)
    request_timeout: float = _setting(10.0, "Seconds a client has to send a request's headers and body.",
                                      minimum=0.1)
    rule_timeout: float = _setting(2.0, "CPU seconds the consistency rules of one request may take.", minimum=0.01)
    json_max_depth: int = _setting(64, "Deepest nesting of arrays/objects accepted in request JSON.", minimum=2)
    import_max_bytes: int = _setting(10 * 1024 * 1024, "Bytes: largest report `POST /v1/templates/{name}/import` "
                                                        "reads (413 beyond).", minimum=1)
    import_max_pages: int = _setting(40, "Pages of a PDF report an import reads at most (422 beyond).", minimum=1)
    import_cpu_seconds: float = _setting(30.0, "CPU seconds the child process parsing one imported report may "
                                               "take (422 beyond).", minimum=0.5)
    import_memory: int = _setting(1024**3, "Bytes of address space the child process parsing one imported report "
                                           "may use.", minimum=64 * 1024 * 1024)
    worker_memory: int = _setting(2 * 1024**3, "Bytes of address space a worker process may use while rendering "
                                                "(0: unlimited; LibreOffice exempt).", minimum=0)
    api_threads: int = _setting(32, "Request threads of one API process.", minimum=1)
    queue: str = _setting("wenshu", "RQ queue name.")
    key_prefix: str = _setting("wenshu", "Prefix of every Redis key (several deployments on one Redis).")
    templates_dir: Path = _setting(PROJECT_ROOT / "templates", "Bundled templates, seeded into Redis.")
    lo_profile: Path = _setting(PROJECT_ROOT / "docker" / "libreoffice", "Seed of every LibreOffice profile "
                                                                           "(hardened).")
    soffice: str = _setting("soffice", "LibreOffice binary.")
    uno_python: str = _setting("/usr/bin/python3", "The Python that imports `uno` (runs LibreOffice's server).")
    webhook_secret: str = _setting("", "HMAC-SHA256 key for `X-Wenshu-Signature` on callbacks.")
    webhook_allow_private: bool = _setting(False, "Allow callbacks to loopback/private addresses, and over plain http.")
    log_level: str = _setting("INFO", "Log level of the JSON logs on stderr.")
    worker_name_prefix: str = _setting("wenshu", "Prefix of this host's RQ worker names; the container entrypoint "
                                                 "makes it unique per container, so its health check finds its own "
                                                 "workers even where containers share a hostname.")
    sign_p12: str = _setting("", "PKCS#12 file (certificate + key) that signs PDFs asking `options.pdf.sign`; "
                                 "empty: signing refused.")
    sign_p12_password: str = _setting("", "Password of `WENSHU_SIGN_P12`.")
    memory_trace: str = _setting("", "Diagnosis: each worker process appends a JSON report of where its memory is "
                                     "(RSS, C heap, Python objects by type) to this path + `.<pid>`; empty: off.")
    memory_trace_every: int = _setting(100, "Jobs between two reports of `WENSHU_MEMORY_TRACE`.", minimum=1)
    memory_trace_python: bool = _setting(False, "`WENSHU_MEMORY_TRACE` also runs tracemalloc and reports the "
                                                "Python allocations that grew (slows the worker several-fold).")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting's variable; raise one ConfigError listing every bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            var = env_name(f.name)
            raw = env.get(var, "")
            if raw == "":
                continue
            try:
                values[f.name] = _parser(f.type)(raw)
            except ValueError as exc:
                problems.append(f"{var}={raw!r} is not a valid value: {exc}")
        settings = cls(**values)
        problems += settings.problems()
        if problems:
            raise ConfigError("; ".join(problems), errors=[{"message": p} for p in problems])
        return settings

    def problems(self) -> list[str]:
        """Every reason the service cannot run with these settings (Gotenberg-style start-up check)."""
        found = []
        for f in fields(self):
            minimum = f.metadata.get("minimum")
            if minimum is not None and getattr(self, f.name) < minimum:
                found.append(f"{env_name(f.name)} must be at least {minimum:g}, got {getattr(self, f.name)!r}")
        if self.env not in ENVIRONMENTS:
            found.append(f"WENSHU_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.sign_p12 and not os.path.isfile(self.sign_p12):
            found.append(f"WENSHU_SIGN_P12={self.sign_p12!r} is not a file")
        if self.env == "production" and not self.api_keys:
            found.append("WENSHU_ENV=production requires WENSHU_API_KEYS (comma-separated bearer keys)")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.worker_name_prefix):
            found.append(f"WENSHU_WORKER_NAME_PREFIX must be 1-40 letters, digits, '-' or '_', "
                         f"not {self.worker_name_prefix!r}")
        if self.log_level.upper() not in LOG_LEVELS:
            found.append(f"WENSHU_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if self.result_store not in RESULT_STORES:
            found.append(f"WENSHU_RESULT_STORE must be one of {', '.join(RESULT_STORES)}, not {self.result_store!r}")
        if self.result_store == "s3" and not self.s3_bucket:
            found.append("WENSHU_RESULT_STORE=s3 requires WENSHU_S3_BUCKET (an existing bucket)")
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            found.append("WENSHU_S3_ACCESS_KEY and WENSHU_S3_SECRET_KEY are set together or not at all")
        return found

    def validate(self) -> None:
        """Raise ConfigError if :meth:`problems` finds any."""
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems), errors=[{"message": p} for p in problems])

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes)

    @property
    def max_convert_timeout(self) -> float:
        """The most one conversion may take: WENSHU_CONVERT_TIMEOUT grows with the document's text
        (WENSHU_CONVERT_TIMEOUT_PER_MIB) up to twice itself (worker/long_tables.conversion_timeout)."""
        return 2 * self.convert_timeout

    @property
    def job_timeout(self) -> int:
        """Seconds RQ lets one job run: a render, a conversion at its cap retried once on a fresh
        instance (a crash), slack.

        The one formula the API (when enqueueing) and the pool (when draining) both use.
        """
        return int(self.render_timeout + 2 * self.max_convert_timeout + 60)


def env_name(field_name: str) -> str:
    """The environment variable that sets a field (``max_queue`` → ``WENSHU_MAX_QUEUE``)."""
    for f in fields(Settings):
        if f.name == field_name:
            return f.metadata.get("env") or ENV_PREFIX + field_name.upper()
    raise KeyError(field_name)


def documented() -> list[tuple[str, str, Any, str]]:
    """(variable, field, default, meaning) of every setting, for the README table and its test."""
    return [(env_name(f.name), f.name, f.default, f.metadata["doc"]) for f in fields(Settings)]


def _parser(annotation: Any) -> Callable[[str], Any]:
    kind = str(annotation)
    if kind == "int":
        return _number(int, "a whole number")
    if kind == "float":
        return _number(float, "a number")
    if kind == "bool":
        return _flag
    if kind == "Path":
        return Path
    if kind.startswith("tuple"):
        return _csv
    return str
