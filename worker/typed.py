"""Typed JSON values: how JSON data asks for docxtpl's rich objects.

JSON has no RichText or InlineImage, so an object with a single ``$``-key carries one
(DESIGN.md §3): ``$image``, ``$rich``, ``$listing``, ``$link``. Anything else passes through;
strings that contain newlines become a Listing so the line breaks survive in Word.
Errors name the JSON pointer of the offending value.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing, RichText

from core.errors import InvalidData
from core.pointer import pointer

TYPED_KEYS = ("$image", "$rich", "$listing", "$link")
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif",
                    b"GIF89a": "gif", b"BM": "bmp"}
RICH_OPTIONS = {"bold", "italic", "underline", "strike", "color", "size", "font", "style",
                "superscript", "subscript", "highlight", "rtl", "lang"}
LINK_SCHEMES = ("http://", "https://", "mailto:")


def to_context(value: Any, tpl: DocxTemplate, path: tuple = ()) -> Any:
    """Turn request JSON into a docxtpl context, converting typed values in place."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key,) = value
            if key in TYPED_KEYS:
                return _convert_typed(key, value[key], tpl, path + (key,))
        return {k: to_context(v, tpl, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [to_context(v, tpl, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and "\n" in value:
        return Listing(value)
    return value


def _bad(path: tuple, message: str) -> InvalidData:
    return InvalidData(f"{message} at {pointer(path)}", errors=[{"path": pointer(path), "message": message}])


def _convert_typed(key: str, spec: Any, tpl: DocxTemplate, path: tuple) -> Any:
    if key == "$listing":
        if not isinstance(spec, str):
            raise _bad(path, "$listing must be a string")
        return Listing(spec)
    if key == "$image":
        return _image(spec, tpl, path)
    if key == "$rich":
        return _rich(spec, tpl, path)
    return _link(spec, tpl, path)


def _image(spec: Any, tpl: DocxTemplate, path: tuple) -> InlineImage:
    if not isinstance(spec, dict) or not isinstance(spec.get("data"), str):
        raise _bad(path, "$image needs {\"data\": \"<base64 PNG/JPEG>\"} (images are data only, never URLs)")
    try:
        raw = base64.b64decode(spec["data"], validate=True)
    except (binascii.Error, ValueError):
        raise _bad(path + ("data",), "$image data is not valid base64") from None
    if not any(raw.startswith(sig) for sig in IMAGE_SIGNATURES):
        raise _bad(path + ("data",), "$image data is not a PNG, JPEG, GIF or BMP image")
    sizes = {}
    for axis in ("width", "height"):
        mm = spec.get(f"{axis}_mm")
        if mm is not None:
            if not isinstance(mm, (int, float)) or isinstance(mm, bool) or not 0 < mm <= 2000:
                raise _bad(path + (f"{axis}_mm",), f"{axis}_mm must be a number of millimetres in (0, 2000]")
            sizes[axis] = Mm(mm)
    return InlineImage(tpl, io.BytesIO(raw), **sizes)


def _rich(spec: Any, tpl: DocxTemplate, path: tuple) -> RichText:
    segments = [spec] if isinstance(spec, (str, dict)) else spec
    if not isinstance(segments, list):
        raise _bad(path, "$rich must be a list of {\"text\": …} segments")
    rich = RichText()
    for i, seg in enumerate(segments):
        if isinstance(seg, str):
            seg = {"text": seg}
        if not isinstance(seg, dict) or not isinstance(seg.get("text", ""), (str, int, float)):
            raise _bad(path + (i,), "a $rich segment must be an object with a text")
        unknown = set(seg) - RICH_OPTIONS - {"text", "url"}
        if unknown:
            raise _bad(path + (i,), f"unknown $rich option(s): {', '.join(sorted(unknown))}")
        opts = {k: v for k, v in seg.items() if k in RICH_OPTIONS}
        if isinstance(opts.get("color"), str):
            opts["color"] = opts["color"].lstrip("#")
        if "url" in seg:
            opts["url_id"] = tpl.build_url_id(_checked_url(seg["url"], path + (i, "url")))
        rich.add(str(seg.get("text", "")), **opts)
    return rich


def _link(spec: Any, tpl: DocxTemplate, path: tuple) -> RichText:
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise _bad(path, "$link needs {\"url\": \"https://…\", \"text\": \"…\"}")
    url = _checked_url(spec["url"], path + ("url",))
    rich = RichText()
    rich.add(str(spec.get("text") or url), url_id=tpl.build_url_id(url), color="0563C1", underline=True)
    return rich


def _checked_url(url: Any, path: tuple) -> str:
    if not isinstance(url, str) or not url.lower().startswith(LINK_SCHEMES):
        raise _bad(path, "links must be http(s) or mailto URLs")
    return url
