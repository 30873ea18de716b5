"""Typed JSON values turned into docxtpl's rich objects for one template.

JSON has no RichText or InlineImage, so an object with a single ``$``-key carries one:
``$image``, ``$rich``, ``$listing``, ``$link``. Anything else passes through; strings that
contain newlines become a Listing so the line breaks survive in Word.

The grammar every value and option is held to lives in core/typed_values.py, which the API also
runs before queueing: this module walks the data with it and only adds what needs docxtpl or the
template — building RichText/Listing/InlineImage, registering link relationships, checking that a
``style`` exists in the template, and parsing an image's header with python-docx. These objects are
the only ones allowed to carry raw XML into a render (see core/sandbox.py).
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from docx.enum.style import WD_STYLE_TYPE
from docx.image.image import Image as DocxImage
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing, RichText

from core.typed_chart import CheckedChart
from core.typed_media import CheckedBarcode, CheckedQr, CheckedSeal
from core.typed_values import (
    Checked,
    CheckedImage,
    CheckedLink,
    CheckedListing,
    CheckedRich,
    CheckedSegment,
    invalid,
    shown,
    walk,
)

from .charts import ChartImage
from .codes import barcode_png, qr_png
from .seal import AnchoredImage

LINK_COLOR = "0563C1"  # Word's own hyperlink blue
STYLES_LISTED = 15


def to_context(value: Any, tpl: DocxTemplate, path: tuple = ("data",)) -> Any:
    """Turn request JSON into a docxtpl context, converting typed values in place.

    ``path`` is where ``value`` sits in the request body, so errors point into the request.
    """
    return walk(value, path, _Builder(tpl).build)


class _Builder:
    """The docxtpl objects of one request's data for one template (whose styles it looks up once)."""

    def __init__(self, tpl: DocxTemplate) -> None:
        self.tpl = tpl
        self._styles: dict[str, str] | None = None

    def build(self, checked: Checked | str, path: tuple) -> Any:
        """The docxtpl object for a value core/typed_values.py has already checked."""
        if isinstance(checked, str):
            return Listing(checked) if "\n" in checked else checked
        if isinstance(checked, CheckedListing):
            return Listing(checked.text)
        if isinstance(checked, CheckedImage):
            return self._image(checked)
        if isinstance(checked, CheckedQr):
            return InlineImage(self.tpl, io.BytesIO(qr_png(checked, path)), width=Mm(checked.size_mm),
                               height=Mm(checked.size_mm))
        if isinstance(checked, CheckedBarcode):
            return InlineImage(self.tpl, io.BytesIO(barcode_png(checked)), width=Mm(checked.width_mm),
                               height=Mm(checked.height_mm))
        if isinstance(checked, CheckedSeal):
            return AnchoredImage(self.tpl, checked)
        if isinstance(checked, CheckedChart):
            return ChartImage(self.tpl, checked)
        if isinstance(checked, CheckedRich):
            rich = RichText()
            for segment in checked.segments:
                rich.add(segment.text, **self._segment_options(segment))
            return rich
        return self._link(checked)

    def _image(self, image: CheckedImage) -> InlineImage:
        try:
            DocxImage.from_blob(image.raw)  # the header python-docx will read for the size, read now
        except Exception:  # noqa: BLE001 - python-docx raises several kinds on a broken header
            raise invalid(image.path, "$image data is a damaged or truncated image") from None
        sizes = {axis: Mm(mm) for axis, mm in (("width", image.width_mm), ("height", image.height_mm))
                 if mm is not None}
        return InlineImage(self.tpl, io.BytesIO(image.raw), **sizes)

    def _segment_options(self, segment: CheckedSegment) -> dict[str, Any]:
        options = dict(segment.options)
        if segment.style is not None:
            options["style"] = self._style_id(segment.style, segment.path + ("style",))
        if segment.url is not None:
            options["url_id"] = self.tpl.build_url_id(segment.url)
        return options

    def _link(self, link: CheckedLink) -> RichText:
        rich = RichText()
        rich.add(link.text, url_id=self.tpl.build_url_id(link.url), color=LINK_COLOR, underline=True)
        return rich

    def _style_id(self, value: Any, path: tuple) -> str:
        """The id (what w:rStyle takes) of the template's character style ``value`` names."""
        styles = self.character_styles()
        if not isinstance(value, str) or value not in styles:
            names = self.character_style_names()
            listed = ", ".join(names[:STYLES_LISTED]) + (
                f" and {len(names) - STYLES_LISTED} more" if len(names) > STYLES_LISTED else "")
            raise invalid(path, f"style must be a character style of this template ({listed or 'it has none'}), "
                                f"not {shown(value)}")
        # Style ids come from the uploaded template's XML, which may hold a quote: escape for the attribute.
        return escape(styles[value], {'"': "&quot;"})

    def character_styles(self) -> dict[str, str]:
        """Name and id of every character style in the template → its id (what w:rStyle takes)."""
        if self._styles is None:
            self._styles = {}
            for style in self.tpl.get_docx().styles:
                if style.type == WD_STYLE_TYPE.CHARACTER and style.style_id:
                    self._styles[style.style_id] = style.style_id
                    if style.name:
                        self._styles.setdefault(style.name, style.style_id)
        return self._styles

    def character_style_names(self) -> list[str]:
        """The names an author sees in Word's style list (an id only for a style without a name)."""
        by_id = {style_id: name for name, style_id in self.character_styles().items()}
        return sorted(by_id.values())
