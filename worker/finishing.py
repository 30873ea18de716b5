"""The finishing steps of a render, in the order they must run, from the request's checked options.

Before conversion, on the .docx: the watermark and the document properties (so LibreOffice
exports them, and the DOCX carries them too). After conversion, on the PDF: encryption or the
signature (worker/pdf_post.py).
"""

from __future__ import annotations

from typing import Any

from core.finish_options import check_finish_options, pdf_of, watermark_of
from core.settings import Settings

from .doc_properties import set_properties
from .pdf_post import finish_pdf
from .watermark import add_watermark


def finish_docx(docx: bytes, options: dict[str, Any] | None) -> bytes:
    """The rendered .docx with the watermark and metadata ``options`` ask for."""
    check_finish_options(options)  # the API checked it; a CLI render or an old payload is checked here
    mark = watermark_of(options)
    if mark is not None:
        docx = add_watermark(docx, mark)
    return set_properties(docx, pdf_of(options).metadata)


def finish_exported_pdf(pdf: bytes, options: dict[str, Any] | None, settings: Settings) -> bytes:
    """The exported PDF encrypted or signed as ``options`` ask."""
    return finish_pdf(pdf, pdf_of(options), settings)
