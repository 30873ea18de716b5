"""The finishing steps of a render, in the order they must run, from the request's checked options.

Before conversion, on the .docx: the watermark and the document properties (so LibreOffice
exports them, and the DOCX carries them too), in one pass over the unpacked package. After
conversion, on the PDF: encryption or the signature (worker/pdf_post.py).
"""

from __future__ import annotations

from typing import Any

from core.finish_options import check_finish_options, pdf_of, watermark_of
from core.settings import Settings

from .doc_properties import set_properties
from .docx_zip import Package
from .pdf_post import finish_pdf
from .watermark import add_watermark


def finish_docx(docx: bytes, options: dict[str, Any] | None) -> bytes:
    """The rendered .docx with the watermark and metadata ``options`` ask for.

    Both steps edit one unpacked package, zipped again once; a render that asks for neither
    (most) gets its package back as it is, not re-zipped.
    """
    check_finish_options(options)  # the API checked it; a CLI render or an old payload is checked here
    mark, metadata = watermark_of(options), pdf_of(options).metadata
    if mark is None and not metadata:
        return docx
    package = Package(docx)
    if mark is not None:
        add_watermark(package, mark)
    if metadata:
        set_properties(package, metadata)
    return package.save()


def finish_exported_pdf(pdf: bytes, options: dict[str, Any] | None, settings: Settings) -> bytes:
    """The exported PDF encrypted or signed as ``options`` ask."""
    return finish_pdf(pdf, pdf_of(options), settings)
