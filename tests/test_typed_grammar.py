"""The grammar of typed values (core/typed_values.py) on its own: pure logic, no Redis, no LibreOffice.

It is what the API runs before queueing and what the worker builds docxtpl objects from, so each
check is pinned here by what a client would see: the JSON pointer and the message, or the OOXML
value an accepted option becomes.
"""

from __future__ import annotations

import base64

import pytest

from core.errors import InvalidData
from core.typed_values import (
    CheckedImage,
    CheckedLink,
    CheckedListing,
    CheckedRich,
    check_color,
    check_font,
    check_highlight,
    check_size,
    check_typed_values,
    check_underline,
    walk,
)

PNG_SIGNATURE_ONLY = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


def refused(data, path=("data",)) -> InvalidData:
    with pytest.raises(InvalidData) as caught:
        check_typed_values(data, path)
    return caught.value


def test_legitimate_report_data_passes_untouched():
    data = {"agency": "某市人民政府办公室", "year": 2020, "ratio": 0.5, "blank": None, "flag": True,
            "lines": "第一行\n第二行\t制表", "rows": [{"name": "甲", "n": 1}, {"name": "乙", "n": None}],
            "title": {"$rich": [{"text": "标题", "bold": True, "color": "#c00000", "size": 36,
                                 "highlight": "darkYellow", "underline": "double", "font": "eastAsia:微软雅黑",
                                 "lang": "zh-CN", "url": "https://example.org/报告"}, "纯文本段", {"text": 2020}]},
            "link": {"$link": {"url": "mailto:office@example.org"}},
            "listing": {"$listing": "a < b\nc & d"},
            "logo": {"$image": {"data": PNG_SIGNATURE_ONLY, "width_mm": 40, "height_mm": 20.5}}}
    before = repr(data)
    assert check_typed_values(data) is None
    assert repr(data) == before


@pytest.mark.parametrize(("data", "pointer", "words"), [
    ({"t": {"$rich": [{"text": "x", "color": "red"}]}}, "/data/t/$rich/0/color", "6 hex digits"),
    ({"t": {"$rich": [{"text": "x", "size": 401}]}}, "/data/t/$rich/0/size", "half-points"),
    ({"t": {"$rich": [{"text": "x", "bold": "true"}]}}, "/data/t/$rich/0/bold", "bold must be true or false"),
    ({"t": {"$rich": [{"text": "x", "blink": True}]}}, "/data/t/$rich/0", "unknown $rich option(s): blink"),
    ({"t": {"$rich": [{"text": "x", "url": "file:///etc/passwd"}]}}, "/data/t/$rich/0/url", "http(s)"),
    ({"t": {"$rich": [{"bold": True, "text": True}]}}, "/data/t/$rich/0", "object with a text"),
    ({"t": {"$rich": 7}}, "/data/t/$rich", "list of"),
    ({"t": {"$link": {"url": "javascript:alert(1)"}}}, "/data/t/$link/url", "http(s)"),
    ({"t": {"$link": {"url": "https://example.org", "text": ["x"]}}}, "/data/t/$link/text", "must be a string"),
    ({"t": {"$image": {"url": "https://example.org/x.png"}}}, "/data/t/$image", "data only, never URLs"),
    ({"t": {"$image": {"data": "not base64!!"}}}, "/data/t/$image/data", "not valid base64"),
    ({"t": {"$image": {"data": PNG_SIGNATURE_ONLY, "width_mm": 0}}}, "/data/t/$image/width_mm", "(0, 2000]"),
    ({"t": {"$image": {"data": PNG_SIGNATURE_ONLY, "height_mm": True}}}, "/data/t/$image/height_mm", "millimetres"),
    ({"t": {"$listing": ["a"]}}, "/data/t/$listing", "must be a string"),
    ({"rows": [{"name": "ok"}, {"name": "a\x00b"}]}, "/data/rows/1/name", "U+0000"),
    ({"rows": {"k\x1b": 1}}, "/data/rows/k\x1b", "U+001B"),
], ids=["color", "size", "boolean", "unknown-option", "segment-url", "segment-text", "rich-not-list", "link-url",
        "link-text", "image-url", "image-base64", "image-width", "image-height-bool", "listing", "nul", "key"])
def test_value_outside_its_grammar_is_refused_naming_its_pointer(data, pointer, words):
    error = refused(data)
    assert error.errors == [{"path": pointer, "message": error.errors[0]["message"]}]
    assert words in error.errors[0]["message"]
    assert error.detail.endswith(f" at {pointer}")
    assert error.status == 422


def test_pointer_starts_where_the_data_sits_and_escapes_slashes_in_keys():
    error = refused({"a/b": {"$rich": [{"text": "x", "lang": "zh_CN"}]}}, ("sample",))
    assert error.errors[0]["path"] == "/sample/a~1b/$rich/0/lang"


def test_first_refusal_is_reported_in_document_order():
    data = {"a": {"$rich": [{"text": "x"}, {"text": "y", "color": "nope"}]}, "b": {"$listing": 1}}
    assert refused(data).errors[0]["path"] == "/data/a/$rich/1/color"


def test_style_is_left_to_the_render_that_knows_the_templates_styles():
    check_typed_values({"t": {"$rich": [{"text": "x", "style": "Any Name The Template May Have"}]}})


def test_image_header_is_left_to_the_render_but_its_signature_is_checked_now():
    check_typed_values({"t": {"$image": {"data": PNG_SIGNATURE_ONLY}}})
    error = refused({"t": {"$image": {"data": base64.b64encode(b"%PDF-1.7").decode()}}})
    assert "not a PNG, JPEG, GIF or BMP" in error.errors[0]["message"]


def test_an_object_with_one_ordinary_key_is_plain_data_not_a_typed_value():
    check_typed_values({"t": {"rich": {"color": "not checked: plain data"}}, "u": {"$rich": [], "x": 1}})


@pytest.mark.parametrize(("check", "value", "ooxml"), [
    (check_color, "#c00000", "C00000"),
    (check_color, "auto", "auto"),
    (check_highlight, "darkYellow", "808000"),
    (check_highlight, "none", None),
    (check_size, 24.0, 24),
    (check_underline, "none", False),
    (check_underline, "wave", "wave"),
    (check_font, "eastAsia:Noto Sans CJK SC", "eastAsia:Noto Sans CJK SC"),
])
def test_accepted_option_becomes_the_ooxml_value_docxtpl_writes(check, value, ooxml):
    assert check(value, ("data", "t", "$rich", 0, "x")) == ooxml


@pytest.mark.parametrize("font", ['x" w:eastAsia="y', "evil:SimHei", "ascii:x:y", "A" * 65])
def test_font_that_could_leave_its_attribute_is_refused(font):
    with pytest.raises(InvalidData) as caught:
        check_font(font, ("data", "font"))
    assert "font name" in caught.value.errors[0]["message"]


def test_walk_hands_each_checked_value_to_the_builder_with_its_pointer():
    seen = []
    data = {"s": "text", "n": 3, "l": {"$listing": "a\nb"}, "k": {"$link": {"url": "https://e.org"}},
            "r": {"$rich": ["plain", {"text": "b", "bold": True, "highlight": "none", "style": "Strong"}]},
            "i": {"$image": {"data": PNG_SIGNATURE_ONLY, "width_mm": 10}}}
    result = walk(data, ("data",), lambda checked, path: seen.append((checked, path)) or "built")
    assert result == {"s": "built", "n": 3, "l": "built", "k": "built", "r": "built", "i": "built"}
    by_path = {path: checked for checked, path in seen}
    assert by_path[("data", "s")] == "text"
    assert by_path[("data", "l", "$listing")] == CheckedListing("a\nb")
    assert by_path[("data", "k", "$link")] == CheckedLink("https://e.org", "https://e.org")
    rich = by_path[("data", "r", "$rich")]
    assert isinstance(rich, CheckedRich)
    assert [(s.text, s.options, s.style) for s in rich.segments] == [("plain", {}, None),
                                                                    ("b", {"bold": True}, "Strong")]
    image = by_path[("data", "i", "$image")]
    assert isinstance(image, CheckedImage) and (image.width_mm, image.height_mm) == (10, None)
    assert image.path == ("data", "i", "$image", "data")
