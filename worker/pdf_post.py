"""``options.pdf`` after conversion: AES-256 passwords and permissions (pypdf), then the signature.

Runs in the worker on the PDF LibreOffice exported (the API only validates: core/finish_options.py).
Metadata and the watermark are not done here: they go into the .docx before conversion
(worker/doc_properties.py, worker/watermark.py), so LibreOffice writes them as PDF/A wants.
Encryption and signing exclude each other (checked before queueing), and PDF/A forbids encryption.
"""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from pypdf.constants import UserAccessPermissions as Perm

from core.finish_options import CheckedPdf
from core.settings import Settings

from .pdf_sign import sign_pdf

GRANTS = {
    "print": Perm.PRINT | Perm.PRINT_TO_REPRESENTATION,
    "copy": Perm.EXTRACT,
    "modify": Perm.MODIFY | Perm.ADD_OR_MODIFY | Perm.FILL_FORM_FIELDS | Perm.ASSEMBLE_DOC,
}
WITHHELD = GRANTS["print"] | GRANTS["copy"] | GRANTS["modify"]
"""Bits a request may withhold; the rest (reserved bits, text for accessibility tools) stay set."""


def permission_flags(permissions: tuple[str, ...]) -> Perm:
    flags = Perm.all() & ~WITHHELD
    for name in permissions:
        flags |= GRANTS[name]
    return flags


def encrypt(pdf: bytes, options: CheckedPdf) -> bytes:
    """The PDF encrypted with AES-256 (revision 6): opens with the user password (or none), permissions
    as granted; the owner password lifts them."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(options.user_password or "", options.owner_password, permissions_flag=permission_flags(
        options.permissions), algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def finish_pdf(pdf: bytes, options: CheckedPdf, settings: Settings) -> bytes:
    """The exported PDF with the requested protection or signature (unchanged when none is asked)."""
    if options.encrypted:
        return encrypt(pdf, options)
    if options.sign is not None:
        return sign_pdf(pdf, options.sign, settings)
    return pdf
