"""Typed JSON values: how JSON data asks for docxtpl's rich objects.

JSON has no RichText or InlineImage, so an object with a single ``$``-key carries one:
``$image``, ``$rich``, ``$listing``, ``$link``. Anything else passes through; strings that
contain newlines become a Listing so the line breaks survive in Word.

docxtpl's ``RichText.add`` formats its options (color, style, font, lang...) straight into OOXML
with ``%s``, unescaped: a color of ``FF0000"/><w:fldSimple …`` would become a field in the
document. So every option is checked against the strict grammar of the OOXML value it ends up in
before docxtpl sees it, and whatever text-like value passes (font, style id) is XML-escaped on top.
These objects are the only ones allowed to carry raw XML into a render (see core/sandbox.py).
Errors name the JSON pointer of the offending value in the request (``/data/title/$rich/0/color``).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from docx.enum.style import WD_STYLE_TYPE
from docx.image.image import Image as DocxImage
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing, RichText

from core.errors import InvalidData
from core.pointer import pointer

TYPED_KEYS = ("$image", "$rich", "$listing", "$link")
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif",
                    b"GIF89a": "gif", b"BM": "bmp"}
IMAGE_KEYS = frozenset({"data", "width_mm", "height_mm"})
LINK_KEYS = frozenset({"url", "text"})
LINK_SCHEMES = ("http", "https", "mailto")
MAX_URL_LENGTH = 2048
MAX_TEXT_OPTION = 64
"""Characters a font name, style name or language tag may have: real ones are far shorter."""

# Characters XML 1.0 cannot hold at all: lxml refuses the document docxtpl builds from them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
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


def to_context(value: Any, tpl: DocxTemplate, path: tuple = ("data",)) -> Any:
    """Turn request JSON into a docxtpl context, converting typed values in place.

    ``path`` is where ``value`` sits in the request body, so errors point into the request.
    """
    return _Converter(tpl).convert(value, path)


def _bad(path: tuple, message: str) -> InvalidData:
    return InvalidData(f"{message} at {pointer(path)}", errors=[{"path": pointer(path), "message": message}])


def _shown(value: Any) -> str:
    """A short, printable rendering of a refused value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Converter:
    """One conversion of one request's data against one template (whose styles it looks up once)."""

    def __init__(self, tpl: DocxTemplate) -> None:
        self.tpl = tpl
        self._styles: dict[str, str] | None = None

    def convert(self, value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key,) = value
                if key in TYPED_KEYS:
                    return self._typed(key, value[key], path + (key,))
            for key in value:
                _check_text(key, path + (key,))  # a template may print keys too (d.items())
            return {k: self.convert(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.convert(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            _check_text(value, path)
            return Listing(value) if "\n" in value else value
        return value

    def _typed(self, key: str, spec: Any, path: tuple) -> Any:
        if key == "$listing":
            if not isinstance(spec, str):
                raise _bad(path, "$listing must be a string")
            _check_text(spec, path)
            return Listing(spec)
        if key == "$image":
            return self._image(spec, path)
        if key == "$rich":
            return self._rich(spec, path)
        return self._link(spec, path)

    def _image(self, spec: Any, path: tuple) -> InlineImage:
        if not isinstance(spec, dict) or not isinstance(spec.get("data"), str):
            raise _bad(path, "$image needs {\"data\": \"<base64 PNG/JPEG>\"} (images are data only, never URLs)")
        _refuse_unknown(spec, IMAGE_KEYS, path, "$image")
        try:
            raw = base64.b64decode(spec["data"], validate=True)
        except (binascii.Error, ValueError):
            raise _bad(path + ("data",), "$image data is not valid base64") from None
        if not any(raw.startswith(sig) for sig in IMAGE_SIGNATURES):
            raise _bad(path + ("data",), "$image data is not a PNG, JPEG, GIF or BMP image")
        try:
            DocxImage.from_blob(raw)  # the header python-docx will read for the size, read now
        except Exception:  # noqa: BLE001 - python-docx raises several kinds on a broken header
            raise _bad(path + ("data",), "$image data is a damaged or truncated image") from None
        sizes = {}
        for axis in ("width", "height"):
            mm = spec.get(f"{axis}_mm")
            if mm is not None:
                if not isinstance(mm, (int, float)) or isinstance(mm, bool) or not 0 < mm <= 2000:
                    raise _bad(path + (f"{axis}_mm",), f"{axis}_mm must be a number of millimetres in (0, 2000]")
                sizes[axis] = Mm(mm)
        return InlineImage(self.tpl, io.BytesIO(raw), **sizes)

    def _rich(self, spec: Any, path: tuple) -> RichText:
        segments = [spec] if isinstance(spec, (str, dict)) else spec
        if not isinstance(segments, list):
            raise _bad(path, "$rich must be a list of {\"text\": …} segments")
        rich = RichText()
        for i, segment in enumerate(segments):
            text, options = self._segment(segment, path + (i,))
            rich.add(text, **options)
        return rich

    def _segment(self, segment: Any, path: tuple) -> tuple[str, dict[str, Any]]:
        """The text and docxtpl options of one $rich segment, every option checked."""
        if isinstance(segment, str):
            segment = {"text": segment}
        text = segment.get("text", "") if isinstance(segment, dict) else None
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise _bad(path, "a $rich segment must be an object with a text")
        _refuse_unknown(segment, frozenset(RICH_OPTIONS) | {"text", "url"}, path, "$rich")
        text = str(text)
        _check_text(text, path + ("text",))  # docxtpl XML-escapes it (html.escape); this keeps it legal XML
        options: dict[str, Any] = {}
        for name, value in segment.items():
            if name in RICH_OPTIONS and value is not None:
                checked = RICH_OPTIONS[name](self, value, path + (name,))
                if checked is not None:
                    options[name] = checked
        if segment.get("url") is not None:
            options["url_id"] = self.tpl.build_url_id(_checked_url(segment["url"], path + ("url",)))
        return text, options

    def _link(self, spec: Any, path: tuple) -> RichText:
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise _bad(path, "$link needs {\"url\": \"https://…\", \"text\": \"…\"}")
        _refuse_unknown(spec, LINK_KEYS, path, "$link")
        url = _checked_url(spec["url"], path + ("url",))
        text = spec.get("text") or url
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise _bad(path + ("text",), "$link text must be a string")
        _check_text(str(text), path + ("text",))
        rich = RichText()
        rich.add(str(text), url_id=self.tpl.build_url_id(url), color="0563C1", underline=True)
        return rich

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


def _refuse_unknown(spec: dict, allowed: frozenset[str], path: tuple, what: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise _bad(path, f"unknown {what} option(s): {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(allowed))}")


def _check_text(text: str, path: tuple) -> None:
    """Refuse characters a Word document cannot hold (NUL, most control characters)."""
    if text.isprintable():  # the usual case, decided in C: no control character at all
        return
    found = XML_ILLEGAL.search(text)
    if found:
        raise _bad(path, f"text contains the control character U+{ord(found.group()):04X}, "
                         "which a Word document cannot hold")


def _checked_url(url: Any, path: tuple) -> str:
    """An http(s) URL with a host, or a mailto: address; nothing that could leave its attribute."""
    allowed = "links must be http(s) URLs with a host or mailto: addresses, without spaces, quotes or <>"
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise _bad(path, f"{allowed}, at most {MAX_URL_LENGTH} characters")
    if URL_FORBIDDEN.search(url):
        raise _bad(path, allowed)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _bad(path, allowed) from None
    scheme = parts.scheme.lower()
    if scheme not in LINK_SCHEMES or (scheme == "mailto" and not parts.path) or (
            scheme != "mailto" and not parts.hostname):
        raise _bad(path, allowed)
    return url


# --- one checker per RichText option: value → what docxtpl may format in (None: leave it out) ----

def _boolean(conv: _Converter, value: Any, path: tuple) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, f"{path[-1]} must be true or false, not {_shown(value)}")
    return value


def _color(conv: _Converter, value: Any, path: tuple) -> str:
    if value == "auto":
        return value
    match = HEX_COLOR.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise _bad(path, f"color must be 6 hex digits such as \"C00000\" (a leading # is fine) "
                         f"or \"auto\", not {_shown(value)}")
    return match.group(1).upper()


def _highlight(conv: _Converter, value: Any, path: tuple) -> str | None:
    if value == "none":
        return None
    if isinstance(value, str) and value in HIGHLIGHT_HEX:
        return HIGHLIGHT_HEX[value]
    match = HEX_COLOR.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise _bad(path, f"highlight must be one of {', '.join(HIGHLIGHT_HEX)}, none, or 6 hex digits, "
                         f"not {_shown(value)}")
    return match.group(1).upper()


def _size(conv: _Converter, value: Any, path: tuple) -> int:
    low, high = SIZE_HALF_POINTS
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(path, f"size is in half-points (24 is 12 pt): a whole number from {low} to {high}, "
                         f"not {_shown(value)}")
    return value


def _underline(conv: _Converter, value: Any, path: tuple) -> bool | str:
    if isinstance(value, bool):
        return value
    if value == "none":
        return False
    if value not in UNDERLINES:
        raise _bad(path, f"underline must be true, false, none or one of {', '.join(UNDERLINES)}, "
                         f"not {_shown(value)}")
    return value


def _lang(conv: _Converter, value: Any, path: tuple) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_OPTION or not LANG_TAG.fullmatch(value):
        raise _bad(path, f"lang must be a language tag such as zh-CN or en-US, not {_shown(value)}")
    return value


def _font(conv: _Converter, value: Any, path: tuple) -> str:
    allowed = (f"font must be a font name (letters, digits, spaces and .,()+-, at most {MAX_TEXT_OPTION}) "
               f"optionally after one of {', '.join(FONT_SLOTS)} and a colon, e.g. \"eastAsia:SimHei\"")
    if not isinstance(value, str):
        raise _bad(path, f"{allowed}, not {_shown(value)}")
    slot, _, name = value.rpartition(":")
    if (slot and slot not in FONT_SLOTS) or len(name) > MAX_TEXT_OPTION or not FONT_NAME.fullmatch(name):
        raise _bad(path, f"{allowed}, not {_shown(value)}")
    # The grammar leaves nothing to escape; escaping anyway keeps the attribute closed if it widens.
    name = escape(name, {'"': "&quot;"})
    return f"{slot}:{name}" if slot else name


def _style(conv: _Converter, value: Any, path: tuple) -> str:
    styles = conv.character_styles()
    if not isinstance(value, str) or value not in styles:
        names = conv.character_style_names()
        listed = ", ".join(names[:15]) + (f" and {len(names) - 15} more" if len(names) > 15 else "")
        raise _bad(path, f"style must be a character style of this template ({listed or 'it has none'}), "
                         f"not {_shown(value)}")
    # Style ids come from the uploaded template's XML, which may hold a quote: escape for the attribute.
    return escape(styles[value], {'"': "&quot;"})


RICH_OPTIONS: dict[str, Callable[[_Converter, Any, tuple], Any]] = {
    **dict.fromkeys(BOOLEAN_OPTIONS, _boolean),
    "color": _color, "highlight": _highlight, "size": _size, "underline": _underline,
    "lang": _lang, "font": _font, "style": _style,
}
"""Every $rich option docxtpl's RichText.add takes (url_id aside: ``url`` builds it), with its check."""
