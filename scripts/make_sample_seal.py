"""Draw the certificate sample's seal (templates/certificate/sample.json ``seal``): a PNG with transparency.

A red ring, a star, the issuing body's name around the top and 培训专用章 below, in Noto Sans CJK
SC Bold. Real seals are scanned; this one only shows what ``$seal`` does with a transparent PNG.
Prints the base64 PNG: ``.venv/bin/python scripts/make_sample_seal.py > seal.b64``.
"""

from __future__ import annotations

import base64
import io
import math

from PIL import Image, ImageDraw, ImageFont

SIZE = 600
RED = (214, 30, 30, 235)
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
SC_FACE = 2
"""Index of the Simplified Chinese face in the Noto CJK collection."""
NAME = "某某市公共管理培训中心"


def star(draw: ImageDraw.ImageDraw, centre: float, radius: float) -> None:
    points = []
    for i in range(10):
        angle = -math.pi / 2 + i * math.pi / 5
        r = radius if i % 2 == 0 else radius * 0.382
        points.append((centre + r * math.cos(angle), centre + r * math.sin(angle)))
    draw.polygon(points, fill=RED)


def arc_text(image: Image.Image, text: str, font: ImageFont.FreeTypeFont, radius: float, span_deg: float) -> None:
    """``text`` around the top of the circle, each character turned to face the centre."""
    centre, span = SIZE / 2, math.radians(span_deg)
    start = -math.pi / 2 - span / 2
    for i, char in enumerate(text):
        angle = start + span * (i + 0.5) / len(text)
        glyph = Image.new("RGBA", (90, 90), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((45, 45), char, font=font, fill=RED, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle + math.pi / 2), resample=Image.BICUBIC)
        x, y = centre + radius * math.cos(angle), centre + radius * math.sin(angle)
        image.alpha_composite(glyph, (int(x - 45), int(y - 45)))


def seal_png() -> bytes:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 12, SIZE - 12, SIZE - 12), outline=RED, width=20)
    star(draw, SIZE / 2, 70)
    arc_text(image, NAME, ImageFont.truetype(FONT, 62, index=SC_FACE), SIZE / 2 - 80, 250)
    draw.text((SIZE / 2, SIZE / 2 + 150), "培训专用章", font=ImageFont.truetype(FONT, 44, index=SC_FACE), fill=RED,
              anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


if __name__ == "__main__":
    print(base64.b64encode(seal_png()).decode())
