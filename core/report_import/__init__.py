"""Last year's published 政府信息公开工作年度报告 (PDF from any tool, or .docx) → this year's draft.

Pure parsing, no service or worker: :func:`import_report` reads the file into blocks
(``pdf_reader`` / ``docx_reader``) and ``assemble`` maps them onto the form (``forms``). Parsing
untrusted PDFs is CPU- and memory-hungry, so callers run it through :mod:`.isolated` — a child
process with CPU-time, memory and page-count limits — never in a request thread.
"""

from __future__ import annotations

from typing import Any

from core.errors import UnreadableReport

from .forms import FORMS, IMPORTABLE

__all__ = ["FORMS", "IMPORTABLE", "check_kind", "import_report"]


def import_report(content: bytes, variant: str, *, max_pages: int) -> dict[str, Any]:
    """``{"data": …, "unread": [{where, what}]}`` of a report in the ``variant`` format.

    Raises:
        UnreadableReport: neither a PDF nor a .docx, damaged, or past ``max_pages``.
    """
    from .assemble import assemble  # heavy readers load only in the process that parses

    check_kind(content)
    if content.startswith(b"%PDF"):
        from .pdf_reader import read_pdf

        blocks = read_pdf(content, max_pages)
    else:
        from .docx_reader import read_docx

        blocks = read_docx(content)
    data, unread = assemble(blocks, FORMS[variant])
    return {"data": data, "unread": unread}


def check_kind(content: bytes) -> None:
    """Refuse, before any parser runs, a file that is neither a PDF nor a zip (.docx) by its first bytes.

    Raises:
        UnreadableReport: naming what the file starts with.
    """
    if not content.startswith((b"%PDF", b"PK")):
        raise UnreadableReport("send the report as a PDF or a .docx",
                               errors=[{"path": "file", "message": "neither %PDF nor a zip (.docx) header"}])
