"""Structured logs: one JSON object per line, so ops can ship them without parsing."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTEXT: ContextVar[dict[str, object] | None] = ContextVar("wenshu_log_context", default=None)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Put ``fields`` (job_id, request_id...) on every line logged inside the block, RQ's included.

    So one grep for a request id finds the API's line and every worker line of its job.
    """
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with any ``extra=`` fields (job_id, template, request_id...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
                 **(_CONTEXT.get() or {})}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


LIBREOFFICE_NOISE = re.compile(r"failed to launch javaldx|java may not function correctly")
"""soffice says this on every start; wenshu uses no Java, so it is not worth an operator's attention."""

RQ_NOISE = re.compile(r": Job OK \(|^Successfully completed |result (discarded immediately|is kept for)")
"""RQ's own success lines: every wenshu job "completes" for RQ, failed renders included (the failure is
on the job document), so "Job OK" would be false for them. wenshu logs each job's real outcome."""


class _DropRqSuccess(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not RQ_NOISE.search(record.getMessage())


def configure_logging(level: str = "INFO") -> None:
    """Send every log line to stderr as JSON; RQ's success lines only at DEBUG."""
    level = level.upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if level != "DEBUG":
        handler.addFilter(_DropRqSuccess())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_lines(stream: IO[bytes], logger: logging.Logger, noise: re.Pattern[str] = LIBREOFFICE_NOISE,
              **extra: object) -> threading.Thread:
    """Log each line a child process writes to ``stream`` as one JSON line (noise at DEBUG).

    A child's stderr would otherwise land in the log as plain text. The thread ends when the child
    closes the stream; it always drains it, so a chatty child can never block on a full pipe.
    """
    def pump() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    level = logging.DEBUG if noise.search(line) else logging.WARNING
                    logger.log(level, line, extra=extra)

    thread = threading.Thread(target=pump, daemon=True, name=f"log-{logger.name}")
    thread.start()
    return thread
