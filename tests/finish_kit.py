"""What the finished-document tests (#13) share: decoding codes off page images, a seal PNG, ad-hoc POSTs."""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

MM = 72 / 25.4
"""PDF points per millimetre."""


def decoded_codes(pdf: bytes, tmp_path: Path, dpi: int = 300) -> list[str]:
    """Every symbol zbar reads off the PDF's pages rendered at ``dpi``: ``["QR-Code:…", "EAN-13:…"]``."""
    (tmp_path / "codes.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(tmp_path / "codes.pdf"), str(tmp_path / "page")],
                   check=True)
    pages = sorted(str(p) for p in tmp_path.glob("page*.png"))
    decoded = subprocess.run(["zbarimg", "-q", *pages], capture_output=True)
    assert decoded.returncode in (0, 4), decoded.stderr  # 4: nothing found
    return decoded.stdout.decode("utf-8").splitlines()


def seal_png(size: int = 400) -> bytes:
    """A red ring on a transparent background, as a seal image is."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((8, 8, size - 8, size - 8), outline=(220, 0, 0, 255), width=size // 20)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def post_adhoc(api, docx: bytes, data: dict, options: dict | None = None, query: str = ""):
    """``POST /v1/renders`` of an ad-hoc template (multipart) with ``data`` and request ``options``."""
    parts = {"template": (io.BytesIO(docx), "t.docx"), "data": json.dumps(data, ensure_ascii=False)}
    if options is not None:
        parts["options"] = json.dumps({"options": options}, ensure_ascii=False)
    return api.post(f"/v1/renders?{query}", data=parts, content_type="multipart/form-data")
