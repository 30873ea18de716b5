"""An InlineImage whose ``wp:inline`` drawing a subclass may rework before docxtpl inserts it.

python-docx's ``new_pic_inline`` makes the image part, its relationship and the drawing XML the
usual way; subclasses change only the XML (worker/seal.py floats it, worker/charts.py adds the
alternative text).
"""

from __future__ import annotations

from docxtpl import InlineImage


class DrawingImage(InlineImage):
    def drawing(self, inline_xml: str) -> str:
        """The XML that goes inside ``w:drawing`` (here: python-docx's own)."""
        return inline_xml

    def _insert_image(self) -> str:
        inline = self.tpl.current_rendering_part.new_pic_inline(self.image_descriptor, self.width, self.height)
        self.image_descriptor.seek(0)  # a value a template prints twice embeds twice
        drawing = self.drawing(inline.xml)
        return f'</w:t></w:r><w:r><w:drawing>{drawing}</w:drawing></w:r><w:r><w:t xml:space="preserve">'
