"""The grammar of typed JSON values, checked the same way by the API and by the worker.

JSON has no RichText or InlineImage, so an object with a single ``$``-key carries one:
``$image``, ``$rich``, ``$listing``, ``$link``. docxtpl's ``RichText.add`` formats its options
(color, style, font, lang...) straight into OOXML with ``%s``, unescaped: a color of
``FF0000"/><w:fldSimple …`` would become a field in the document. So every option is held to the
strict grammar of the OOXML value it ends up in, and every string to what XML 1.0 can hold.

This module is that grammar and nothing else (no docxtpl, no python-docx), so the API can refuse a
bad value with a 422 before anything is queued and the worker (worker/typed.py) applies the very
same checks while building docxtpl's objects. Only two things need the template or python-docx and
stay in the worker: whether a ``style`` exists in the template, and parsing an image's header.
Errors name the JSON pointer of the offending value (``/data/title/$rich/0/color``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from core.typed_chart import CheckedChart, check_chart
from core.typed_common import (  # noqa: F401 (XML_ILLEGAL re-exported)
    XML_ILLEGAL,
    check_text,
    decoded_data,
    invalid,
    refuse_unknown,
    shown,
)
from core.typed_media import CheckedBarcode, CheckedQr, CheckedSeal, check_barcode, check_qr, check_seal

TYPED_KEYS = ("$image", "$rich", "$listing", "$link", "$qr", "$barcode", "$seal", "$chart")
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif",
                    b"GIF89a": "gif", b"BM": "bmp"}
IMAGE_KEYS = frozenset({"data", "width_mm", "height_mm"})
IMAGE_MAX_MM = 2000
LINK_KEYS = frozenset({"url", "text"})
LINK_SCHEMES = ("http", "https", "mailto")
MAX_URL_LENGTH = 2048
MAX_TEXT_OPTION = 64
"""Characters a font name, style name or language tag may have: real ones are far shorter."""

HEX_COLOR = re.compile(r"#?([0-9A-Fa-f]{6})")
LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
# \w is Unicode-aware: 宋体, 微软雅黑 and "Noto Sans CJK SC" all fit; quotes and < > & do not.
FONT_NAME = re.compile(r"[\w .,()+\-]+")
FONT_SLOTS = ("ascii", "hAnsi", "eastAsia", "cs")  # the w:rFonts attributes "slot:Name" may set
URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\"<>\\^`{|}]")

# docxtpl writes "highlight" as <w:shd w:fill="…"/>, which takes a hex colour, so the names of
# OOXML's ST_HighlightColor (what Word calls highlight colours) map to Word's own hex for them.
HIGHLIGHT_HEX = {
    "black": "000000", "blue": "0000FF", "cyan": "00FFFF", "green": "00FF00", "magenta": "FF00FF",
    "red": "FF0000", "yellow": "FFFF00", "white": "FFFFFF", "darkBlue": "000080", "darkCyan": "008080",
    "darkGreen": "008000", "darkMagenta": "800080", "darkRed": "800000", "darkYellow": "808000",
    "darkGray": "808080", "lightGray": "C0C0C0",
}
# The ST_Underline values docxtpl passes through; it silently turns any other into "single".
UNDERLINES = ("single", "double", "thick", "dotted", "dash", "dotDash", "dotDotDash", "wave")
SIZE_HALF_POINTS = (2, 400)
"""docxtpl's ``size`` is w:sz, in half-points: 2 is 1 pt, 24 is 12 pt, 400 is 200 pt."""
BOOLEAN_OPTIONS = ("bold", "italic", "strike", "superscript", "subscript", "rtl")
STYLE_OPTION = "style"
"""The one $rich option whose check needs the template (the style must exist in it)."""


def checked_url(url: Any, path: tuple) -> str:
    """An http(s) URL with a host, or a mailto: address; nothing that could leave its attribute."""
    allowed = "links must be http(s) URLs with a host or mailto: addresses, without spaces, quotes or <>"
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise invalid(path, f"{allowed}, at most {MAX_URL_LENGTH} characters")
    if URL_FORBIDDEN.search(url):
        raise invalid(path, allowed)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise invalid(path, allowed) from None
    scheme = parts.scheme.lower()
    if scheme not in LINK_SCHEMES or (scheme == "mailto" and not parts.path) or (
            scheme != "mailto" and not parts.hostname):
        raise invalid(path, allowed)
    return url


# --- one checker per RichText option: value → what docxtpl may format in (None: leave it out) ----

def check_boolean(value: Any, path: tuple) -> bool:
    """bold, italic, strike, superscript, subscript, rtl: JSON booleans only ("true" is not one)."""
    if not isinstance(value, bool):
        raise invalid(path, f"{path[-1]} must be true or false, not {shown(value)}")
    return value


def check_color(value: Any, path: tuple) -> str:
    """w:color takes 6 hex digits or auto."""
    if value == "auto":
        return value
    match = HEX_COLOR.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise invalid(path, f"color must be 6 hex digits such as \"C00000\" (a leading # is fine) "
                            f"or \"auto\", not {shown(value)}")
    return match.group(1).upper()


def check_highlight(value: Any, path: tuple) -> str | None:
    """A Word highlight name or 6 hex digits, as the hex w:shd takes; none leaves it out."""
    if value == "none":
        return None
    if isinstance(value, str) and value in HIGHLIGHT_HEX:
        return HIGHLIGHT_HEX[value]
    match = HEX_COLOR.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise invalid(path, f"highlight must be one of {', '.join(HIGHLIGHT_HEX)}, none, or 6 hex digits, "
                            f"not {shown(value)}")
    return match.group(1).upper()


def check_size(value: Any, path: tuple) -> int:
    """w:sz: a whole number of half-points (24.0 is accepted as 24, 12.5 is not)."""
    low, high = SIZE_HALF_POINTS
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(path, f"size is in half-points (24 is 12 pt): a whole number from {low} to {high}, "
                            f"not {shown(value)}")
    return value


def check_underline(value: Any, path: tuple) -> bool | str:
    """true/false, none, or an ST_Underline style docxtpl passes through."""
    if isinstance(value, bool):
        return value
    if value == "none":
        return False
    if value not in UNDERLINES:
        raise invalid(path, f"underline must be true, false, none or one of {', '.join(UNDERLINES)}, "
                            f"not {shown(value)}")
    return value


def check_lang(value: Any, path: tuple) -> str:
    """w:lang: a BCP 47-shaped language tag such as zh-CN."""
    if not isinstance(value, str) or len(value) > MAX_TEXT_OPTION or not LANG_TAG.fullmatch(value):
        raise invalid(path, f"lang must be a language tag such as zh-CN or en-US, not {shown(value)}")
    return value


def check_font(value: Any, path: tuple) -> str:
    """w:rFonts: a font name, optionally after the slot it sets (``eastAsia:SimHei``)."""
    allowed = (f"font must be a font name (letters, digits, spaces and .,()+-, at most {MAX_TEXT_OPTION}) "
               f"optionally after one of {', '.join(FONT_SLOTS)} and a colon, e.g. \"eastAsia:SimHei\"")
    if not isinstance(value, str):
        raise invalid(path, f"{allowed}, not {shown(value)}")
    slot, _, name = value.rpartition(":")
    if (slot and slot not in FONT_SLOTS) or len(name) > MAX_TEXT_OPTION or not FONT_NAME.fullmatch(name):
        raise invalid(path, f"{allowed}, not {shown(value)}")
    # The grammar leaves nothing to escape; escaping anyway keeps the attribute closed if it widens.
    name = escape(name, {'"': "&quot;"})
    return f"{slot}:{name}" if slot else name


OPTION_CHECKS: dict[str, Callable[[Any, tuple], Any]] = {
    **dict.fromkeys(BOOLEAN_OPTIONS, check_boolean),
    "color": check_color, "highlight": check_highlight, "size": check_size, "underline": check_underline,
    "lang": check_lang, "font": check_font,
}
"""The $rich options checked without the template, with their checks (``style`` is the worker's)."""
RICH_OPTIONS = frozenset(OPTION_CHECKS) | {STYLE_OPTION}
"""Every $rich option docxtpl's RichText.add takes (url_id aside: ``url`` builds it)."""
SEGMENT_KEYS = RICH_OPTIONS | {"text", "url"}


# --- typed values, checked: plain data the worker turns into docxtpl objects ----------------------

@dataclass(frozen=True)
class CheckedListing:
    text: str


@dataclass(frozen=True)
class CheckedImage:
    """A base64-decoded image with a known signature; python-docx has not parsed its header yet."""

    raw: bytes
    width_mm: float | None
    height_mm: float | None
    path: tuple  # where the image's data sits, for the worker's header check


@dataclass(frozen=True)
class CheckedSegment:
    """One $rich segment: its text, the checked options, and what only the worker can finish."""

    text: str
    options: dict[str, Any]
    style: Any  # unchecked: must name a character style of the template (None: no style)
    url: str | None
    path: tuple


@dataclass(frozen=True)
class CheckedRich:
    segments: tuple[CheckedSegment, ...]


@dataclass(frozen=True)
class CheckedLink:
    url: str
    text: str


Checked = (CheckedListing | CheckedImage | CheckedRich | CheckedLink | CheckedQr | CheckedBarcode | CheckedSeal
           | CheckedChart)


def check_listing(spec: Any, path: tuple) -> CheckedListing:
    if not isinstance(spec, str):
        raise invalid(path, "$listing must be a string")
    check_text(spec, path)
    return CheckedListing(spec)


def check_image(spec: Any, path: tuple) -> CheckedImage:
    """Data only (never a URL), valid base64 of a PNG/JPEG/GIF/BMP signature, sane sizes."""
    raw = decoded_data(spec, path, "$image", "{\"data\": \"<base64 PNG/JPEG>\"}")
    refuse_unknown(spec, IMAGE_KEYS, path, "$image")
    if not any(raw.startswith(sig) for sig in IMAGE_SIGNATURES):
        raise invalid(path + ("data",), "$image data is not a PNG, JPEG, GIF or BMP image")
    sizes: dict[str, float | None] = {}
    for axis in ("width", "height"):
        mm = spec.get(f"{axis}_mm")
        if mm is not None and (not isinstance(mm, (int, float)) or isinstance(mm, bool)
                               or not 0 < mm <= IMAGE_MAX_MM):
            raise invalid(path + (f"{axis}_mm",), f"{axis}_mm must be a number of millimetres in (0, {IMAGE_MAX_MM}]")
        sizes[axis] = mm
    return CheckedImage(raw, sizes["width"], sizes["height"], path + ("data",))


def check_segment(segment: Any, path: tuple) -> CheckedSegment:
    """The text and options of one $rich segment (a bare string is a segment without options)."""
    if isinstance(segment, str):
        segment = {"text": segment}
    text = segment.get("text", "") if isinstance(segment, dict) else None
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise invalid(path, "a $rich segment must be an object with a text")
    refuse_unknown(segment, SEGMENT_KEYS, path, "$rich")
    text = str(text)
    check_text(text, path + ("text",))  # docxtpl XML-escapes it (html.escape); this keeps it legal XML
    options: dict[str, Any] = {}
    for name, value in segment.items():
        if name in OPTION_CHECKS and value is not None:
            checked = OPTION_CHECKS[name](value, path + (name,))
            if checked is not None:
                options[name] = checked
    url = segment.get("url")
    return CheckedSegment(text, options, segment.get(STYLE_OPTION), None if url is None
                          else checked_url(url, path + ("url",)), path)


def check_rich(spec: Any, path: tuple) -> CheckedRich:
    """A list of segments (one segment or one string alone is accepted too)."""
    segments = [spec] if isinstance(spec, (str, dict)) else spec
    if not isinstance(segments, list):
        raise invalid(path, "$rich must be a list of {\"text\": …} segments")
    return CheckedRich(tuple(check_segment(segment, path + (i,)) for i, segment in enumerate(segments)))


def check_link(spec: Any, path: tuple) -> CheckedLink:
    """A checked URL and the text shown for it (the URL itself when there is none)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise invalid(path, "$link needs {\"url\": \"https://…\", \"text\": \"…\"}")
    refuse_unknown(spec, LINK_KEYS, path, "$link")
    url = checked_url(spec["url"], path + ("url",))
    text = spec.get("text") or url
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise invalid(path + ("text",), "$link text must be a string")
    check_text(str(text), path + ("text",))
    return CheckedLink(url, str(text))


TYPED_CHECKS: dict[str, Callable[[Any, tuple], Checked]] = {
    "$listing": check_listing, "$image": check_image, "$rich": check_rich, "$link": check_link,
    "$qr": check_qr, "$barcode": check_barcode, "$seal": check_seal,  # drawn by the worker (core/typed_media.py)
    "$chart": check_chart,  # core/typed_chart.py
}


def walk(value: Any, path: tuple, build: Callable[[Checked | str, tuple], Any]) -> Any:
    """``value`` with every typed value and string checked and handed to ``build``.

    The one traversal of request data: the API checks with it, the worker converts with it, so a
    value the API lets through is one the worker accepts (the template-dependent checks aside).
    Numbers, booleans and null pass through untouched.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            (key,) = value
            if key in TYPED_KEYS:
                return build(TYPED_CHECKS[key](value[key], path + (key,)), path + (key,))
        for key in value:
            check_text(key, path + (key,))  # a template may print keys too (d.items())
        return {k: walk(v, path + (k,), build) for k, v in value.items()}
    if isinstance(value, list):
        return [walk(v, path + (i,), build) for i, v in enumerate(value)]
    if isinstance(value, str):
        check_text(value, path)
        return build(value, path)
    return value


def check_typed_values(data: Any, path: tuple = ("data",)) -> None:
    """Refuse, with a 422 naming its pointer, any typed value or string the worker would refuse.

    ``path`` is where ``data`` sits in the request body (``("sample",)`` for an uploaded sample).
    Raises:
        InvalidData: the first value outside its grammar.
    """
    walk(data, path, _discard)


def _discard(checked: Checked | str, path: tuple) -> None:
    """What the API keeps of a checked value: nothing (only the check matters before queueing)."""
    return None
