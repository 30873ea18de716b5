"""``$seal``: a picture anchored over (or behind) the text, moving nothing — the 公章 over a signature.

docxtpl's InlineImage puts a picture *in* the line, which pushes the text aside. A seal must sit
on top of the organisation's name and date, so this builds the same picture (python-docx's
``new_pic_inline``, so the image part and relationship are made the usual way) and re-wraps its
``wp:inline`` as a ``wp:anchor``: placed at the tag's own position (``relativeFrom`` character and
line) plus the requested offset, with ``wrapNone`` so the text flows as if it were not there, in
front of the text (``behindDoc="0"``) or behind it. PNG transparency lets the text show through.
"""

from __future__ import annotations

import io

from docx.image.image import Image as DocxImage
from docx.shared import Mm
from docxtpl import DocxTemplate
from lxml import etree

from core.typed_common import invalid
from core.typed_media import CheckedSeal

from .drawing import DrawingImage

WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
FIRST_Z_ORDER = 251_659_264  # Word's own starting relativeHeight; each seal of a document above the last


def anchor_xml(inline_xml: str, seal: CheckedSeal, z_order: int = FIRST_Z_ORDER) -> str:
    """The ``wp:inline`` python-docx made, as a floating ``wp:anchor`` at the seal's offset, stacked
    at ``z_order`` (``relativeHeight``)."""
    inline = etree.fromstring(inline_xml)
    anchor = etree.Element(f"{{{WP}}}anchor", nsmap=inline.nsmap, attrib={
        "distT": "0", "distB": "0", "distL": "0", "distR": "0", "simplePos": "0",
        "relativeHeight": str(z_order), "behindDoc": "1" if seal.behind else "0", "locked": "0",
        "layoutInCell": "1", "allowOverlap": "1"})
    etree.SubElement(anchor, f"{{{WP}}}simplePos", x="0", y="0")
    for axis, relative, mm in (("H", "character", seal.offset_x_mm), ("V", "line", seal.offset_y_mm)):
        position = etree.SubElement(anchor, f"{{{WP}}}position{axis}", relativeFrom=relative)
        etree.SubElement(position, f"{{{WP}}}posOffset").text = str(int(Mm(mm)))
    children = {etree.QName(child).localname: child for child in inline}
    anchor.append(children["extent"])
    etree.SubElement(anchor, f"{{{WP}}}effectExtent", l="0", t="0", r="0", b="0")
    etree.SubElement(anchor, f"{{{WP}}}wrapNone")
    for name in ("docPr", "cNvGraphicFramePr", "graphic"):
        anchor.append(children[name])
    return etree.tostring(anchor, encoding="unicode")


class AnchoredImage(DrawingImage):
    """An InlineImage whose XML is a floating anchor: docxtpl inserts it the same way."""

    def __init__(self, tpl: DocxTemplate, seal: CheckedSeal) -> None:
        try:
            DocxImage.from_blob(seal.raw)
        except Exception:  # noqa: BLE001 - python-docx raises several kinds on a broken header
            raise invalid(seal.path, "$seal data is a damaged or truncated PNG") from None
        height = Mm(seal.height_mm) if seal.height_mm is not None else None
        super().__init__(tpl, io.BytesIO(seal.raw), width=Mm(seal.width_mm), height=height)
        self.seal = seal
        # Stacked in the order the document's seals were made, counted per document (not per
        # process): the same request gives the same bytes on any worker, however long it has run.
        self.z_order = FIRST_Z_ORDER + _seals_made(tpl)

    def drawing(self, inline_xml: str) -> str:
        return anchor_xml(inline_xml, self.seal, self.z_order)


def _seals_made(tpl: DocxTemplate) -> int:
    """How many seals of ``tpl``'s document were made before this one."""
    made = getattr(tpl, "_wenshu_seals_made", 0)
    tpl._wenshu_seals_made = made + 1
    return made
