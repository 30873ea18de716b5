"""``$qr`` and ``$barcode`` drawn as high-resolution PNGs at their size in millimetres.

Why PNG and not SVG: docxtpl's InlineImage goes through python-docx, which embeds raster images
only, and LibreOffice's DOCX import of SVG-in-DOCX is not reliable. A 1-bit symbol at 600 dpi has
hard module edges at any zoom a reader or a scanner uses. The encoders are well-kept libraries:
segno (QR, ISO/IEC 18004) and python-barcode (Code 128, EAN-13 with its check digit).
"""

from __future__ import annotations

import io
import math

import barcode
import segno
from barcode.writer import ImageWriter

from core.typed_common import invalid
from core.typed_media import CheckedBarcode, CheckedQr

DPI = 600
MM_PER_INCH = 25.4
QUIET_MODULES = 10
"""Code 128 and EAN-13 need a quiet zone of at least 10 module widths either side."""
TEXT_PT = 10
TEXT_GAP_MM = 4
"""Between the bars and the digits under them (python-barcode measures to the text's baseline)."""


def qr_png(qr: CheckedQr, path: tuple) -> bytes:
    """The QR symbol with its 4-module quiet zone, at least DPI pixels per inch at ``size_mm``."""
    try:
        symbol = segno.make(qr.data, error=qr.error.lower(), micro=False, boost_error=False)
    except segno.DataOverflowError:
        raise invalid(path + ("data",), f"$qr data is too long for a QR code at error level {qr.error}") from None
    modules = symbol.symbol_size(scale=1, border=4)[0]
    scale = max(1, math.ceil(qr.size_mm / MM_PER_INCH * DPI / modules))
    out = io.BytesIO()
    symbol.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def barcode_png(code: CheckedBarcode) -> bytes:
    """The barcode with its quiet zones, module widths chosen so the whole is ``width_mm`` wide."""
    symbol = barcode.get(code.type, code.data, writer=ImageWriter(dpi=DPI, mode="L"))
    modules = len(symbol.build()[0])
    module_mm = code.width_mm / (modules + 2 * QUIET_MODULES)
    text_mm = TEXT_PT * MM_PER_INCH / 72 + TEXT_GAP_MM if code.text else 0
    image = symbol.render({
        "module_width": module_mm, "module_height": max(code.height_mm - text_mm - 2, 1),
        "quiet_zone": QUIET_MODULES * module_mm, "font_size": TEXT_PT if code.text else 0,
        "text_distance": TEXT_GAP_MM, "write_text": code.text, "margin_top": 1, "margin_bottom": 1,
    })
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()
