"""Output formats a render can produce, and what each is called on the wire.

Shared by the API (request validation, ``Content-Type`` of downloads) and the worker (which
formats it converts to), so neither has to import the other to agree on them.
"""

from __future__ import annotations

FORMATS = ("pdf", "docx", "odt")
"""Formats ``POST /v1/renders`` accepts, in the order the README lists them."""

MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "zip": "application/zip",
}
"""``Content-Type`` of each format's file (and of a batch's ZIP, which is no render format: see FORMATS)."""

PDFA_LEVELS = {"1b": 1, "2b": 2, "3b": 3}
"""``options.pdf.pdfa`` values and the ``SelectPdfVersion`` LibreOffice exports each as."""
