"""``options.pdf.sign``: a PAdES signature with the certificate ops configured, by pyHanko.

The PKCS#12 file and its password come from Settings (WENSHU_SIGN_P12, WENSHU_SIGN_P12_PASSWORD),
never from a request: a client chooses only whether the signature shows, where, and its reason and
location. pyHanko appends the signature as an incremental update, so the exported bytes (PDF/A
included) are kept as they were and the signature covers them; pyHanko also validates it.
"""

from __future__ import annotations

import io
from functools import lru_cache

from pyhanko import stamp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from core.errors import InvalidRequest, ServiceUnavailable
from core.finish_options import CheckedSign, check_signing_available
from core.settings import Settings

FIELD = "Signature1"
STAMP = stamp.TextStampStyle(stamp_text="Digitally signed\n%(ts)s", timestamp_format="%Y-%m-%d %H:%M:%S %Z")
"""A visible signature's text: pyHanko's default names the signer in a standard PDF font without CJK
glyphs (a Chinese name came out garbled) over its own logo; a reader's signature panel names the signer."""
PT_PER_MM = 72 / 25.4


@lru_cache(maxsize=2)
def load_signer(path: str, password: str) -> signers.SimpleSigner:
    """The signer of a PKCS#12 file, loaded once per worker process."""
    signer = signers.SimpleSigner.load_pkcs12(path, passphrase=password.encode() or None)
    if signer is None:  # pyHanko logs the reason and returns None on a bad file or password
        raise ServiceUnavailable("the signing certificate (WENSHU_SIGN_P12) cannot be loaded: check the file and "
                                 "WENSHU_SIGN_P12_PASSWORD")
    return signer


def sign_pdf(pdf: bytes, sign: CheckedSign, settings: Settings) -> bytes:
    """``pdf`` signed, invisibly or in a box on ``sign.page``."""
    check_signing_available({"pdf": {"sign": {}}}, settings.sign_p12)  # the API checked too; a CLI render may not
    signer = load_signer(settings.sign_p12, settings.sign_p12_password)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    spec = fields.SigFieldSpec(FIELD)
    if sign.visible:
        pages = int(writer.root["/Pages"]["/Count"])
        if sign.page > pages:
            raise InvalidRequest(f"the document has {pages} page(s), no page {sign.page} at /options/pdf/sign/page",
                                 errors=[{"path": "/options/pdf/sign/page", "message": f"only {pages} page(s)"}])
        x, y, width, height = (v * PT_PER_MM for v in sign.box_mm)
        spec = fields.SigFieldSpec(FIELD, on_page=sign.page - 1, box=(x, y, x + width, y + height))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, reason=sign.reason or None,
                                        location=sign.location or None)
    out = signers.PdfSigner(meta, signer, stamp_style=STAMP, new_field_spec=spec).sign_pdf(writer)
    return out.getvalue()
