"""Render + convert for one document: the same core in the worker and in the embedded CLI."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from core.docx_safety import check_rendered_docx
from core.errors import BadRequest, RenderLimitExceeded
from core.formats import PDFA_LEVELS
from core.sandbox import make_environment
from core.settings import Settings
from core.undefined import DEFAULT_MODE

from .finishing import finish_docx, finish_exported_pdf
from .libreoffice import Supervisor
from .long_tables import chunk_long_tables
from .render import render_docx


@dataclass
class Output:
    """Files of one render, by format, and how long each stage took (milliseconds)."""

    files: dict[str, bytes] = field(default_factory=dict)
    timings_ms: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """Variables the data lacks (``options.undefined`` = ``warn``), with part, paragraph and tag."""


def pdf_filter_options(options: dict[str, Any] | None) -> list[str]:
    """LibreOffice PDF export options from the request's ``options.pdf``."""
    pdf = (options or {}).get("pdf") or {}
    result = []
    pdfa = pdf.get("pdfa")
    if pdfa:
        if pdfa not in PDFA_LEVELS:
            raise BadRequest(f"options.pdf.pdfa must be one of {sorted(PDFA_LEVELS)}",
                             errors=[{"path": "/options/pdf/pdfa", "message": "unknown PDF/A level"}])
        result.append(f"SelectPdfVersion={PDFA_LEVELS[pdfa]}")
    return result


class Pipeline:
    """Fills a template and converts it with one supervised LibreOffice.

    Use as a context manager, or call :meth:`stop` when done.
    """

    def __init__(self, settings: Settings | None = None, supervisor: Supervisor | None = None) -> None:
        self.settings = settings or Settings()
        self.supervisor = supervisor or Supervisor(self.settings)
        self.environment = make_environment()  # long-lived: caches compiled template parts

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.supervisor.stop()

    def produce(self, template: bytes, data: dict[str, Any], formats: tuple[str, ...] | list[str] = ("pdf",),
                options: dict[str, Any] | None = None) -> Output:
        """Render once, convert to every requested format, and time each stage."""
        out = Output()
        t0 = time.perf_counter()
        docx = render_docx(template, data, timeout=self.settings.render_timeout,
                           max_output=self.settings.max_output, env=self.environment,
                           undefined=(options or {}).get("undefined", DEFAULT_MODE), warnings=out.warnings)
        docx = finish_docx(docx, options)  # watermark and properties: checked below with the rest
        # Defence in depth: whatever data slipped into the document (a field assembled from values,
        # markup through a filter) fails the job here, before LibreOffice or a client sees it.
        check_rendered_docx(docx)
        out.timings_ms["render"] = round((time.perf_counter() - t0) * 1000)
        t1 = time.perf_counter()
        update_index = bool((options or {}).get("update_indexes", False))
        # LibreOffice gets long tables in chunks (linear layout); the .docx a client gets stays as filled.
        convertible = docx
        if any(f != "docx" for f in formats):
            convertible, _ = chunk_long_tables(docx, self.settings.long_table_chunk_rows,
                                               self.settings.long_table_min_rows)
        for fmt in formats:
            if fmt == "docx":
                out.files["docx"] = docx
                continue
            filter_options = pdf_filter_options(options) if fmt == "pdf" else []
            converted = self.supervisor.convert(convertible, fmt, filter_options, update_index)
            if fmt == "pdf":
                converted = finish_exported_pdf(converted, options, self.settings)
            if len(converted) > self.settings.max_output:
                raise RenderLimitExceeded(
                    f"the {fmt} output is {len(converted)} bytes, over the {self.settings.max_output}-byte limit")
            out.files[fmt] = converted
        if any(f != "docx" for f in formats):
            out.timings_ms["convert"] = round((time.perf_counter() - t1) * 1000)
        return out

    def render(self, template: bytes, data: dict[str, Any], formats: tuple[str, ...] | list[str] = ("pdf",),
               options: dict[str, Any] | None = None) -> dict[str, bytes]:
        """The files only (see :meth:`produce`)."""
        return self.produce(template, data, formats, options).files
